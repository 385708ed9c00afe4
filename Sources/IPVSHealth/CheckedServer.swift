import IPVS
import IPVSAdm

/// One real server of the rules file as the checker follows it: its declaration, its verdict
/// (rise/fall counting), the weight the verdict asks for and the one the kernel has, its
/// schedule, and what its last check found.
public final class CheckedServer {
    public let id: Int
    /// The declared destination (weight = the declared weight).
    public internal(set) var destination: Destination
    /// nil: not checked (`--check none`, or no declaration).
    public let spec: CheckSpec?
    /// The spec's numbers that every check reads, copied once (hot path: reading `spec` copies
    /// the struct and retains its strings and arrays): whether it is checked, its intervals,
    /// rise and fall, and how early its check may start with a batch (HealthMonitor.batch).
    let isChecked: Bool
    let checkInterval: Double
    let retryInterval: Double
    let rise: Int
    let fall: Int
    let batchWindow: Double
    public internal(set) var line: Int
    public let serviceText: String
    public let serverText: String
    /// "TCP 192.168.56.185:80 -> 192.168.56.183:80": how the log names it.
    public let label: String
    private(set) var target: ProbeTarget?
    /// The prober's cache for this server (a curl handle, a command's environment) was made for
    /// an older declaration: dropped when its check in flight ends.
    var staleProbe = false

    // The verdict.
    /// In service by the checks' account (false: down, or rising).
    public internal(set) var up: Bool
    /// Consecutive results against the verdict: failures while up, successes while down.
    public internal(set) var streak = 0
    /// Down by its checks but kept in service by the service's threshold.
    public internal(set) var held = false
    /// Monotonic time the ramp (slow start) began; nil when not ramping.
    var rampStart: Double?
    /// Monotonic time of the last verdict change: the threshold holds the latest downs.
    var verdictChanged: Double = 0

    // The kernel.
    /// The weight the kernel has, as last read or set; nil when the kernel has no such server.
    public internal(set) var kernelWeight: Int32?
    /// The kernel's weight must be brought to `wantedWeight`.
    var pending = false
    var missingLogged = false
    var failureLogged = false

    // The schedule.
    var nextDue: Double = 0
    var running = false
    var startedDue: Double = 0
    var startedAt: Double = 0

    // The record.
    public internal(set) var since: Double
    public internal(set) var checked: Double?
    public internal(set) var ok: Bool?
    public internal(set) var duration: Double?
    public internal(set) var message = ""

    init(
        id: Int, destination: Destination, spec: CheckSpec?, line: Int, service: VirtualService, serviceText: String,
        serverText: String, since: Double
    ) {
        self.id = id
        self.destination = destination
        self.spec = spec
        isChecked = spec != nil
        checkInterval = spec?.interval ?? .infinity
        retryInterval = spec.map { $0.retryInterval ?? $0.interval } ?? .infinity
        rise = spec?.rise ?? 1
        fall = spec?.fall ?? 1
        batchWindow = spec == nil ? 0 : min(HealthMonitor.batch, min(checkInterval, retryInterval) * 0.02)
        self.line = line
        self.serviceText = serviceText
        self.serverText = serverText
        self.label = serviceText + " -> " + serverText
        self.up = !(spec?.startDown ?? false)
        self.since = since
        self.target = nil
        self.target = makeTarget(service: service)
    }

    private func makeTarget(service: VirtualService) -> ProbeTarget? {
        guard let spec else { return nil }
        return ProbeTarget(
            id: id, spec: spec, address: spec.address ?? destination.address, port: spec.port ?? destination.port,
            service: service.key, server: destination.address, serverPort: destination.port,
            forwarding: destination.forwarding,
            environment: spec.kind == .misc
                ? CheckedServer.environment(service: service.key, text: serviceText, destination: destination) : [])
    }

    /// A reload kept the server (same check) with another declared weight or method.
    func redeclare(_ destination: Destination, service: VirtualService) {
        guard destination != self.destination else { return }
        self.destination = destination
        target = makeTarget(service: service)
        staleProbe = spec != nil
    }

    public var declaredWeight: Int32 { destination.weight }

    /// The state file's and `--health`'s name for where it stands.
    public var state: HealthStateName {
        guard spec != nil else { return .unchecked }
        if up {
            if streak > 0 { return .falling }
            return rampStart != nil ? .ramping : .up
        }
        if held { return .held }
        return streak > 0 ? .rising : .down
    }

    /// Whether the threshold counts it: checked, and in service when healthy.
    var counted: Bool { spec != nil && destination.weight > 0 }

    /// Seconds until the next check: `retry_interval` while failing but not yet down.
    var interval: Double { up && streak > 0 ? retryInterval : checkInterval }

    /// The weight the verdict asks of the kernel at monotonic time `now`.
    func wantedWeight(now: Double) -> Int32 {
        let declared = destination.weight
        guard spec != nil, declared > 0 else { return kernelWeight ?? declared }
        if !up { return held ? declared : 0 }
        if let rampStart, let ramp = spec?.ramp, ramp > 0 {
            return CheckedServer.rampWeight(declared: declared, elapsed: now - rampStart, ramp: ramp)
        }
        return declared
    }

    /// Slow start: 1 at the start, the declared weight after `ramp` seconds, linear between.
    static func rampWeight(declared: Int32, elapsed: Double, ramp: Double) -> Int32 {
        guard declared > 1, elapsed < ramp else { return declared }
        let step = (Double(declared - 1) * max(elapsed, 0) / ramp).rounded(.down)
        return min(declared, 1 + Int32(step))
    }

    /// The ramp's elapsed time that gives `weight`: where a restarted checker resumes a ramp.
    static func rampElapsed(declared: Int32, weight: Int32, ramp: Double) -> Double {
        guard declared > 1, weight > 1 else { return 0 }
        return ramp * Double(min(weight, declared) - 1) / Double(declared - 1)
    }

    func record(at now: Double) -> HealthRecord {
        HealthRecord(
            service: serviceText, server: serverText, state: state, declaredWeight: destination.weight,
            weight: kernelWeight ?? 0, since: since, checked: checked, ok: ok, duration: duration,
            message: message, check: spec.map { $0.viaVIP ? $0.kind.rawValue + "+vip" : $0.kind.rawValue } ?? "none")
    }

    /// A misc check's environment (contract: IPVS_SERVICE, IPVS_VIP, IPVS_VPORT, IPVS_PROTOCOL,
    /// IPVS_RS, IPVS_RPORT, IPVS_WEIGHT).
    static func environment(service: ServiceKey, text: String, destination: Destination) -> [String] {
        var environment = ["IPVS_SERVICE=" + text]
        switch service {
        case .address(let proto, let address, let port):
            environment.append("IPVS_VIP=" + address.text)
            environment.append("IPVS_VPORT=\(port)")
            environment.append("IPVS_PROTOCOL=" + (proto.name ?? "\(proto.rawValue)"))
        case .firewallMark(let mark, _):
            environment.append("IPVS_VIP=")
            environment.append("IPVS_VPORT=0")
            environment.append("IPVS_PROTOCOL=fwm")
            environment.append("IPVS_FWMARK=\(mark)")
        }
        environment.append("IPVS_RS=" + destination.address.text)
        environment.append("IPVS_RPORT=\(destination.port)")
        environment.append("IPVS_WEIGHT=\(destination.weight)")
        return environment
    }
}
