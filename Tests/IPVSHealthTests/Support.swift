import IPVS
import IPVSAdm
import IPVSTestSupport
@testable import IPVSHealth

/// Time that moves only when the loop waits.
final class FakeHealthClock: HealthClock {
    var monotonic: Double = 1000
    var wall: Double { 1_765_100_000 + monotonic }
}

/// Checks whose results a test decides: `outcome` answers each check at once (nil: the check
/// never ends until its timeout, which the fake reports as a failure).
final class ScriptedProber: Prober {
    let clock: FakeHealthClock
    /// The result of a check of the server at this address, at this time.
    var outcome: (ProbeTarget, Double) -> ProbeResult? = { _, _ in ProbeResult(ok: true, message: "connected", duration: 0.001) }
    private(set) var started: [(address: String, time: Double)] = []
    private var ready: [(id: Int, result: ProbeResult)] = []
    private var hanging: [(id: Int, deadline: Double)] = []
    var signals: [Int32] = []
    private(set) var forgotten: [Int] = []

    init(clock: FakeHealthClock) { self.clock = clock }

    /// Addresses whose checks a broken prober loses: they never end.
    var lost: Set<String> = []

    func start(_ target: ProbeTarget, now: Double) {
        started.append((target.address.text, now))
        if lost.contains(target.address.text) { return }
        if let result = outcome(target, now) {
            ready.append((target.id, result))
        } else {
            hanging.append((target.id, now + target.spec.timeout))
        }
    }

    func forget(id: Int) {
        forgotten.append(id)
        ready.removeAll { $0.id == id }
        hanging.removeAll { $0.id == id }
    }

    func wait(now _: Double, timeout: Double, results: inout [(id: Int, result: ProbeResult)], signals: inout [Int32]) -> Double {
        if ready.isEmpty && self.signals.isEmpty {
            var limit = timeout
            for hang in hanging { limit = min(limit, hang.deadline - clock.monotonic) }
            clock.monotonic += max(limit, 0)
        }
        results.append(contentsOf: ready)
        ready.removeAll()
        let now = clock.monotonic
        for hang in hanging where hang.deadline <= now {
            results.append((hang.id, ProbeResult(ok: false, message: "timed out", duration: 1)))
        }
        hanging.removeAll { $0.deadline <= now }
        signals.append(contentsOf: self.signals)
        self.signals.removeAll()
        return now
    }

    func checks(of address: String) -> [Double] { started.filter { $0.address == address }.map(\.time) }
}

final class RecordingManager: ServiceManager {
    var messages: [String] = []
    var watchdogPeriod: Double?
    func notify(_ state: String) { messages.append(state) }
}

/// A daemon over the in-memory kernel, the fake host, clock and checks.
final class Harness {
    let clock = FakeHealthClock()
    let backend = InMemoryBackend()
    let host = FakeHost()
    let manager = RecordingManager()
    let prober: ScriptedProber
    var logs: [String] = []
    var rules: String
    let daemon: HealthDaemon
    /// Addresses whose checks fail.
    var failing: Set<String> = []

    init(rules: String, kernel: String? = nil, state: String? = nil, watchdog: Double? = nil) throws {
        self.rules = rules
        prober = ScriptedProber(clock: clock)
        manager.watchdogPeriod = watchdog
        host.variables["IPVSADM_RUN_DIR"] = "/run/test"
        // The kernel's table: the rules without their checks, as --apply programs them.
        let table = try HealthDeclarations.read(text: kernel ?? rules)
        for service in table.services {
            try backend.apply(.addService(service.service))
            for server in service.servers { try backend.apply(.addDestination(server.destination, to: service.service)) }
        }
        if let state { host.files[Harness.statePath] = Array(state.utf8) }
        let box = LogBox()
        self.box = box
        daemon = HealthDaemon(
            rulesPath: "/etc/ipvsadm.rules", backend: backend, prober: prober, clock: clock, host: host,
            manager: manager, log: { box.lines.append($0) }, readRules: { _ in box.rules })
        box.rules = rules
        prober.outcome = { [unowned self] target, _ in
            self.failing.contains(target.address.text)
                ? ProbeResult(ok: false, message: "connection refused", duration: 0.001)
                : ProbeResult(ok: true, message: "connected", duration: 0.001)
        }
    }

    private let box: LogBox
    final class LogBox {
        var lines: [String] = []
        var rules = ""
    }

    static let statePath = "/run/test/health-4026531840"

    var log: [String] { box.lines }
    func clearLog() { box.lines.removeAll() }
    func setRules(_ text: String) { box.rules = text }

    func start() throws(HealthStartError) { try daemon.start() }

    /// Runs the loop until `seconds` of fake time have passed.
    func run(for seconds: Double) {
        let end = clock.monotonic + seconds
        while clock.monotonic < end {
            _ = daemon.runOnce()
        }
    }

    func weight(_ server: String, service: String = "TCP 10.0.0.1:80") -> Int32? {
        for entry in try! backend.services() where HealthRecord.serviceText(entry.key) == service {
            for destination in try! backend.destinations(of: entry)
            where HealthRecord.serverText(destination.address, port: destination.port) == server {
                return destination.weight
            }
        }
        return nil
    }

    func state(_ server: String, service: String = "TCP 10.0.0.1:80") -> HealthStateName? {
        daemon.servers.first { $0.serviceText == service && $0.serverText == server }?.state
    }

    var stateFile: HealthStateFile? { host.text(Harness.statePath).flatMap(HealthStateFile.decode) }
}
