import CHealthSocket
import Glibc
import IPVS
import IPVSAdm

/// What the daemon tells its service manager (systemd's `sd_notify`), and the watchdog's period.
public protocol ServiceManager: AnyObject {
    /// "READY=1", "RELOADING=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1".
    func notify(_ state: String)
    /// Seconds within which the manager wants a `WATCHDOG=1`; nil when it watches nothing.
    var watchdogPeriod: Double? { get }
}

/// No service manager (run from a shell, tests).
public final class NoServiceManager: ServiceManager {
    public init() {}
    public func notify(_ state: String) {}
    public var watchdogPeriod: Double? { nil }
}

/// Why the daemon did not start.
public struct HealthStartError: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// The daemon: reads the rules file, then one loop, on one thread: start the checks that are
/// due, wait for results or signals (the prober's poll), turn results into verdicts, bring the
/// kernel's weights to them, write the state file, ping the watchdog.
public final class HealthDaemon {
    public let rulesPath: String
    let monitor: HealthMonitor
    let prober: any Prober
    let clock: any HealthClock
    let host: any Host
    let manager: any ServiceManager
    let log: (String) -> Void
    let readRules: (String) throws(HealthStartError) -> String
    /// `$IPVSADM_RUN_DIR/health-<netns inode>`; nil when the namespace cannot be identified.
    public let statePath: String?

    /// The state file is rewritten at least this often (its heartbeat shows the checker alive).
    static let heartbeatPeriod = 5.0
    /// A change the lock kept back is retried this soon.
    static let retryPeriod = 0.2
    /// Transitions are written at most this often: a thousand servers failing within a second
    /// (a switch down) cost five rewrites of the file, not one per turn of the loop.
    static let writePeriod = 0.2

    private var nextHeartbeat = 0.0
    /// The wall clock less the monotonic one, read at each heartbeat: a batch of results is
    /// stamped with the wait's monotonic reading plus this (hot path: where the clock is not
    /// in the vDSO, as on an emulated machine's HPET, each reading is a system call). A step
    /// of the wall clock reaches the stamps at the next heartbeat, at most 5 s later.
    private var wallOffset = 0.0
    private var lastWrite = -Double.infinity
    private var nextPing = 0.0
    private var writeFailureLogged = false
    private var lastStatus = ""
    private var instanceLock: (any LockFile)?
    private var results: [(id: Int, result: ProbeResult)] = []
    private var signals: [Int32] = []

    public init(
        rulesPath: String, backend: any IPVSBackend, prober: any Prober, clock: any HealthClock, host: any Host,
        manager: any ServiceManager, log: @escaping (String) -> Void,
        readRules: @escaping (String) throws(HealthStartError) -> String = HealthDaemon.readRulesFile
    ) {
        self.rulesPath = rulesPath
        self.prober = prober
        self.clock = clock
        self.host = host
        self.manager = manager
        self.log = log
        self.readRules = readRules
        let runDirectory = host.environment("IPVSADM_RUN_DIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/run/ipvsadm"
        let inode = host.networkNamespaceInode()
        self.statePath = inode.map { runDirectory + "/" + HealthStateFile.fileName(namespaceInode: $0) }
        self.monitor = HealthMonitor(
            backend: backend, clock: clock, host: host, prober: prober,
            lockPath: inode.map { runDirectory + "/lock-\($0)" }, log: log)
    }

    public var servers: [CheckedServer] { monitor.servers }

    /// Reads the declarations and the state file a previous run left, and takes over the
    /// servers. Nothing is changed when the declarations are bad.
    public func start() throws(HealthStartError) {
        let declarations = try Self.declarations(path: rulesPath, read: readRules)
        try takeInstanceLock()
        var previous: HealthStateFile?
        if let statePath {
            do {
                if let bytes = try host.readFile(statePath) {
                    previous = HealthStateFile.decode(String(decoding: bytes, as: UTF8.self))
                    if previous == nil { log("\(statePath): not a state file, ignored") }
                }
            } catch {
                log("\(statePath): \(error.text), starting without it")
            }
        }
        monitor.load(declarations, previous: previous)
        let now = clock.monotonic
        wallOffset = clock.wall - now
        nextHeartbeat = now
        nextPing = manager.watchdogPeriod == nil ? .infinity : now
        manager.notify("READY=1\nSTATUS=" + status())
    }

    /// One checker per table: two would undo each other's weights. The lock is held for the
    /// daemon's life (a killed daemon's goes with its process).
    private func takeInstanceLock() throws(HealthStartError) {
        guard let statePath else { return }
        let path = statePath + ".lock"
        let lock: any LockFile
        do {
            lock = try host.openLockFile(path)
        } catch {
            log("warning: \(path): \(error.text): going on without the one-checker lock")
            return
        }
        guard lock.tryLock() else {
            lock.release()
            throw HealthStartError("another ipvsadm-health checks this table (\(path) is locked)")
        }
        instanceLock = lock
    }

    /// The rules file's declarations, or why they cannot be used (named by line).
    public static func declarations(
        path: String, read: (String) throws(HealthStartError) -> String
    ) throws(HealthStartError) -> HealthDeclarations {
        let text = try read(path)
        do {
            return try HealthDeclarations.read(text: text)
        } catch {
            throw HealthStartError("\(path): " + (error.line.map { "line \($0): " } ?? "") + error.message)
        }
    }

    /// Reads a rules file, refusing one others could write: writable by group or others, or
    /// (when running as root) owned by another user.
    public static func readRulesFile(_ path: String) throws(HealthStartError) -> String {
        var status = stat()
        guard stat(path, &status) == 0 else { throw HealthStartError("\(path): \(Errno.current.text)") }
        if status.st_mode & 0o022 != 0 {
            throw HealthStartError("\(path): refused: writable by group or others (chmod go-w \(path))")
        }
        if geteuid() == 0 && status.st_uid != 0 {
            throw HealthStartError("\(path): refused: owned by uid \(status.st_uid), not root (chown root \(path))")
        }
        do {
            return String(decoding: try WholeFile.read(path), as: UTF8.self)
        } catch {
            throw HealthStartError("\(path): \(error.text)")
        }
    }

    /// The process's heap stays as large as it has been (call once, at start): every heartbeat
    /// encodes the state file (about 180 bytes a server) into a few hundred KiB that are freed
    /// at once, and a heap trimmed after each write faults its pages back in (zeroed, 2 MiB at
    /// a time with transparent huge pages) at the next one. Peak RSS is unchanged: nothing is
    /// kept that was not in use already.
    public static func keepHeap() {
        ipvs_keep_heap(64 << 20, 16 << 20)
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status (0).
    public func run() -> Int32 {
        while true {
            if let status = runOnce() { return status }
        }
    }

    /// One turn of the loop; an exit status when a signal ends the daemon.
    public func runOnce() -> Int32? {
        var now = clock.monotonic
        monitor.stepRamps(now: now)
        monitor.dispatch(now: now)
        monitor.syncKernel()
        writeStateIfDue(now: now)
        pingWatchdog(now: now)

        var wake = min(nextHeartbeat, nextPing)
        if monitor.changed { wake = min(wake, lastWrite + Self.writePeriod) }
        if let next = monitor.nextWake { wake = min(wake, next) }
        if monitor.kernelPending { wake = min(wake, now + Self.retryPeriod) }
        results.removeAll(keepingCapacity: true)
        signals.removeAll(keepingCapacity: true)
        let finished = prober.wait(
            now: now, timeout: max(0, min(wake - now, Self.heartbeatPeriod)), results: &results, signals: &signals)
        if !results.isEmpty {
            let wall = finished + wallOffset
            for (id, result) in results { monitor.complete(id: id, result: result, now: finished, wall: wall) }
        }
        for signal in signals {
            switch signal {
            case SIGHUP:
                reload()
            case SIGTERM, SIGINT:
                now = clock.monotonic
                monitor.syncKernel()
                writeState()
                manager.notify("STOPPING=1")
                log("stopping (signal \(signal)), weights left as they are")
                return 0
            default:
                break
            }
        }
        return nil
    }

    /// SIGHUP: the rules file again; unchanged servers keep their state. Bad declarations keep
    /// the previous ones.
    public func reload() {
        manager.notify("RELOADING=1\nMONOTONIC_USEC=\(UInt64(SystemHealthClock().monotonic * 1e6))")
        do {
            let declarations = try Self.declarations(path: rulesPath, read: readRules)
            monitor.load(declarations)
            log("reloaded \(rulesPath): \(monitor.servers.count) servers, \(monitor.servers.filter { $0.spec != nil }.count) checked")
        } catch {
            log("reload refused, the previous declarations stay: \(error.message)")
        }
        manager.notify("READY=1\nSTATUS=" + status())
    }

    private func writeStateIfDue(now: Double) {
        guard (monitor.changed && now >= lastWrite + Self.writePeriod) || now >= nextHeartbeat else { return }
        if now >= nextHeartbeat { wallOffset = clock.wall - clock.monotonic }
        writeState()
        lastWrite = now
        nextHeartbeat = now + Self.heartbeatPeriod
    }

    /// Replaces the state file (temporary file, then rename), and tells systemd the counts
    /// when they changed.
    public func writeState() {
        monitor.changed = false
        let text = status()
        if text != lastStatus {
            lastStatus = text
            manager.notify("STATUS=" + text)
        }
        guard let statePath else { return }
        let file = HealthStateFile(pid: getpid(), heartbeat: clock.wall, rules: rulesPath, records: monitor.records())
        do {
            try host.writeFileAtomically(statePath, contents: file.encodedBytes())
            writeFailureLogged = false
        } catch {
            if !writeFailureLogged {
                writeFailureLogged = true
                log("cannot write \(statePath): \(error.text)")
            }
        }
    }

    /// `WATCHDOG=1` only from here, and only when the checks went out on time since the last
    /// ping: a frozen or starved loop stops the pings and systemd restarts it.
    private func pingWatchdog(now: Double) {
        guard let period = manager.watchdogPeriod, now >= nextPing else { return }
        let lateness = monitor.takeLateness()
        let overdue = monitor.overdueChecks(now: now)
        nextPing = now + period / 2
        if lateness > period / 2 {
            log("checks started \(format((lateness * 10).rounded() / 10)) s late: no watchdog ping")
        } else if overdue > 0 {
            log("\(overdue) checks running far past their timeout: no watchdog ping")
        } else {
            manager.notify("WATCHDOG=1")
        }
    }

    func status() -> String {
        var counts: [HealthStateName: Int] = [:]
        for server in monitor.servers { counts[server.state, default: 0] += 1 }
        let checked = monitor.servers.count - (counts[.unchecked] ?? 0)
        var text = "checking \(checked) servers"
        for state in HealthStateName.allCases where state != .unchecked {
            if let count = counts[state] { text += ", \(count) \(state.rawValue)" }
        }
        return text
    }
}
