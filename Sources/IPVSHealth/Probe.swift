import IPVS
import IPVSAdm

/// One server's check as a prober runs it, prepared once per server (not per check) and handed
/// to the prober by reference (hot path: no copy of the spec's strings and arrays per check).
public final class ProbeTarget: Sendable {
    /// The server's identity in this run of the daemon, never reused.
    public let id: Int
    public let spec: CheckSpec
    /// Where the check connects: the declared `address=`/`port=`, else the server's.
    public let address: IPAddress
    public let port: UInt16
    /// The virtual service and the real server, for the path probe and misc's environment.
    public let service: ServiceKey
    public let server: IPAddress
    public let serverPort: UInt16
    public let forwarding: ForwardingMethod
    /// `IPVS_*=...` for a misc check (empty for the other kinds).
    public let environment: [String]

    public init(
        id: Int, spec: CheckSpec, address: IPAddress, port: UInt16, service: ServiceKey, server: IPAddress,
        serverPort: UInt16, forwarding: ForwardingMethod, environment: [String]
    ) {
        self.id = id; self.spec = spec; self.address = address; self.port = port; self.service = service
        self.server = server; self.serverPort = serverPort; self.forwarding = forwarding
        self.environment = environment
    }
}

/// What one check found.
public struct ProbeResult: Sendable {
    public var ok: Bool
    /// "connected", "status 200", "connection refused", "timed out": the log's reason.
    public var message: String
    /// Seconds from start to verdict.
    public var duration: Double

    public init(ok: Bool, message: String, duration: Double) {
        self.ok = ok; self.message = message; self.duration = duration
    }
}

/// Runs checks concurrently and reports them as they end: the real one over sockets, curl and
/// child processes in one poll loop (`SystemProber`), tests' one scripted.
public protocol Prober: AnyObject {
    /// Starts a check; its result comes from a later `wait`. Never blocks.
    func start(_ target: ProbeTarget, now: Double)
    /// The server is gone: drop what is cached for it and abandon its check in flight.
    func forget(id: Int)
    /// Waits up to `timeout` seconds after `now` (the caller's latest monotonic reading: the
    /// checks' deadlines are measured from it) for checks to end or a signal to arrive; appends
    /// what ended to `results` and the signals caught to `signals`. Returns the monotonic time
    /// it read when the wait ended (the time of those results: the caller reads no clock again).
    /// One clock reading a wait (hot path: where the clock is not in the vDSO, as on an
    /// emulated machine's HPET, each reading is a system call).
    @discardableResult
    func wait(now: Double, timeout: Double, results: inout [(id: Int, result: ProbeResult)], signals: inout [Int32]) -> Double
}
