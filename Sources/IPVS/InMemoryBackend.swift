import Glibc

/// A fake kernel for tests: the IPVS table of one network namespace, with the kernel's
/// rules and errnos (EEXIST, ESRCH, ENOENT, EINVAL, ERANGE, ENODEV).
///
/// What it cannot know, it is told: which schedulers and persistence engines exist,
/// which interfaces exist, and which real-server addresses are routable.
public final class InMemoryBackend: IPVSBackend {
    private struct Entry {
        var service: VirtualService
        /// Most recently added first, as the kernel lists them.
        var destinations: [Destination]
    }

    private var entries: [Entry] = []
    private var currentTimeouts = Timeouts(tcp: 900, tcpFin: 120, udp: 300)
    private var runningDaemons: [SyncDaemon] = []

    public var schedulers: Set<String> = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]
    public var persistenceEngines: Set<String> = ["sip"]
    public var interfaces: Set<String> = ["lo", "dummy0"]
    /// Whether the kernel would accept this real-server address (unicast and routable).
    public var isRoutable: (IPAddress) -> Bool = { _ in true }
    public var kernelInfo = IPVSInfo(version: 0x01_02_01, connectionTableSize: 4096)
    /// Every request made, for tests that check what was sent.
    public private(set) var requests: [IPVSError.Operation] = []

    public init() {}

    public func info() throws(IPVSError) -> IPVSInfo { kernelInfo }

    private func index(of key: ServiceKey) -> Int? {
        entries.firstIndex { $0.service.key == key }
    }

    private func checkService(_ service: VirtualService, _ operation: IPVSError.Operation) throws(IPVSError) {
        if service.scheduler != "none" && !schedulers.contains(service.scheduler) {
            throw IPVSError(operation, errno: ENOENT)
        }
        if !service.persistenceEngine.isEmpty && !persistenceEngines.contains(service.persistenceEngine) {
            throw IPVSError(operation, errno: ENOENT)
        }
        if service.key.family == .inet6 && !(1...128).contains(service.netmask) {
            throw IPVSError(operation, errno: EINVAL)
        }
    }

    private func stored(_ service: VirtualService) -> VirtualService {
        var copy = service
        copy.flags.subtract(.hashed)
        copy.flags.insert(.hashed)
        copy.stats = Statistics()
        return copy
    }

    public func addService(_ service: VirtualService) throws(IPVSError) {
        requests.append(.addService)
        if index(of: service.key) != nil { throw IPVSError(.addService, errno: EEXIST) }
        try checkService(service, .addService)
        entries.append(Entry(service: stored(service), destinations: []))
    }

    public func updateService(_ service: VirtualService) throws(IPVSError) {
        requests.append(.updateService)
        guard let i = index(of: service.key) else { throw IPVSError(.updateService, errno: ESRCH) }
        try checkService(service, .updateService)
        entries[i].service = stored(service)
    }

    public func deleteService(_ service: VirtualService) throws(IPVSError) {
        requests.append(.deleteService)
        guard let i = index(of: service.key) else { throw IPVSError(.deleteService, errno: ESRCH) }
        entries.remove(at: i)
    }

    public func zero(_ service: VirtualService?) throws(IPVSError) {
        requests.append(.zeroService)
        if let service {
            guard let i = index(of: service.key) else { throw IPVSError(.zeroService, errno: ESRCH) }
            entries[i].service.stats = Statistics()
        }
    }

    public func flush() throws(IPVSError) {
        requests.append(.flush)
        entries.removeAll()
    }

    private func checkDestination(
        _ d: Destination, _ service: VirtualService, _ operation: IPVSError.Operation
    ) throws(IPVSError) -> Int {
        guard let i = index(of: service.key) else { throw IPVSError(operation, errno: ESRCH) }
        if d.weight < 0 { throw IPVSError(operation, errno: ERANGE) }
        if d.lowerThreshold > d.upperThreshold { throw IPVSError(operation, errno: ERANGE) }
        if d.forwarding == .tunnel && d.tunnelType == .gue && d.tunnelPort == 0 {
            throw IPVSError(operation, errno: EINVAL)
        }
        if d.address.family != service.key.family && (d.forwarding != .tunnel || !runningDaemons.isEmpty) {
            throw IPVSError(operation, errno: EINVAL)
        }
        return i
    }

    private func findDestination(_ d: Destination, in i: Int) -> Int? {
        entries[i].destinations.firstIndex { $0.address == d.address && $0.port == d.port }
    }

    private func stored(_ d: Destination) -> Destination {
        var copy = d
        copy.activeConnections = 0
        copy.inactiveConnections = 0
        copy.persistentConnections = 0
        copy.stats = Statistics()
        return copy
    }

    public func addDestination(_ d: Destination, to service: VirtualService) throws(IPVSError) {
        requests.append(.addDestination)
        let i = try checkDestination(d, service, .addDestination)
        if !isRoutable(d.address) { throw IPVSError(.addDestination, errno: EINVAL) }
        if findDestination(d, in: i) != nil { throw IPVSError(.addDestination, errno: EEXIST) }
        entries[i].destinations.insert(stored(d), at: 0)
    }

    public func updateDestination(_ d: Destination, in service: VirtualService) throws(IPVSError) {
        requests.append(.updateDestination)
        let i = try checkDestination(d, service, .updateDestination)
        guard let j = findDestination(d, in: i) else { throw IPVSError(.updateDestination, errno: ENOENT) }
        entries[i].destinations[j] = stored(d)
    }

    public func deleteDestination(_ d: Destination, from service: VirtualService) throws(IPVSError) {
        requests.append(.deleteDestination)
        guard let i = index(of: service.key) else { throw IPVSError(.deleteDestination, errno: ESRCH) }
        guard let j = findDestination(d, in: i) else { throw IPVSError(.deleteDestination, errno: ENOENT) }
        entries[i].destinations.remove(at: j)
    }

    public func setTimeouts(_ timeouts: Timeouts) throws(IPVSError) {
        requests.append(.setTimeouts)
        // The kernel refuses more than INT_MAX/HZ seconds; Debian's HZ is 250.
        let limit = UInt32(Int32.max / 250)
        if timeouts.tcp > limit || timeouts.tcpFin > limit || timeouts.udp > limit {
            throw IPVSError(.setTimeouts, errno: EINVAL)
        }
        if timeouts.tcp != 0 { currentTimeouts.tcp = timeouts.tcp }
        if timeouts.tcpFin != 0 { currentTimeouts.tcpFin = timeouts.tcpFin }
        if timeouts.udp != 0 { currentTimeouts.udp = timeouts.udp }
    }

    public func startDaemon(_ daemon: SyncDaemon) throws(IPVSError) {
        requests.append(.startDaemon)
        if runningDaemons.contains(where: { $0.state == daemon.state }) { throw IPVSError(.startDaemon, errno: EEXIST) }
        if !interfaces.contains(daemon.interface) { throw IPVSError(.startDaemon, errno: ENODEV) }
        var running = daemon
        let v6 = daemon.group?.family == .inet6
        if running.maxLength == 0 { running.maxLength = v6 ? 1452 : 1472 }
        if running.group == nil { running.group = IPAddress(ipv4: 0xe000_0051) }
        if running.port == 0 { running.port = 8848 }
        if running.ttl == 0 { running.ttl = 1 }
        runningDaemons.append(running)
        runningDaemons.sort { $0.state.rawValue < $1.state.rawValue }
    }

    public func stopDaemon(_ daemon: SyncDaemon) throws(IPVSError) {
        requests.append(.stopDaemon)
        guard let i = runningDaemons.firstIndex(where: { $0.state == daemon.state }) else {
            throw IPVSError(.stopDaemon, errno: ESRCH)
        }
        runningDaemons.remove(at: i)
    }

    public func services() throws(IPVSError) -> [VirtualService] {
        requests.append(.getServices)
        return entries.map(\.service)
    }

    public func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService {
        requests.append(.getService)
        guard let i = index(of: key) else { throw IPVSError(.getService, errno: ESRCH) }
        return entries[i].service
    }

    public func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
        requests.append(.getDestinations)
        guard let i = index(of: service.key) else { return [] }
        return entries[i].destinations
    }

    public func timeouts() throws(IPVSError) -> Timeouts {
        requests.append(.getTimeouts)
        return currentTimeouts
    }

    /// Connections to report, in `/proc/net/ip_vs_conn` lines (without the header).
    public var connectionLines: [String] = []

    public func connectionTable() -> String? {
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
            + connectionLines.map { $0 + "\n" }.joined()
    }

    public func daemons() throws(IPVSError) -> [SyncDaemon] {
        requests.append(.getDaemons)
        return runningDaemons
    }
}
