/// A fake kernel for tests: the IPVS table of one network namespace, with the kernel's
/// rules and errnos (EEXIST, ESRCH, ENOENT, EINVAL, ERANGE, ENODEV).
///
/// What it cannot know, it is told: which schedulers and persistence engines exist,
/// which interfaces exist, and which real-server addresses are routable (nil: any).
public final class InMemoryBackend: IPVSBackend {
    private struct Entry {
        var service: VirtualService
        /// Most recently added first, as the kernel lists them.
        var destinations: [Destination]
    }

    /// In the order added, as the kernel lists them.
    private var entries: [Entry] = []
    /// Where each service is in `entries`.
    private var positions: [ServiceKey: Int] = [:]
    private var currentTimeouts = Timeouts(tcp: 900, tcpFin: 120, udp: 300)
    private var runningDaemons: [SyncDaemon] = []

    public var schedulers: Set<String>? = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]
    public var persistenceEngines: Set<String>? = ["sip"]
    public var interfaces: Set<String>? = ["lo", "dummy0"]
    /// Whether the kernel would accept this real-server address (unicast and routable).
    public var isRoutable: (IPAddress) -> Bool = { _ in true }

    /// The kernel's own rule for `isRoutable` when every unicast address has a route: it takes
    /// a real server at any unicast address (it needs no route to it), and refuses a multicast,
    /// broadcast or unspecified one.
    public static func isUnicast(_ address: IPAddress) -> Bool {
        switch address.family {
        case .inet:
            let v = address.ipv4
            return !(v >> 28 == 0xe || v == 0xffff_ffff || v == 0)
        case .inet6:
            return address.high >> 56 != 0xff && !(address.high == 0 && address.low == 0)
        }
    }
    public var kernelInfo = IPVSInfo(version: 0x01_02_01, connectionTableSize: 4096)
    /// A refusal the kernel would make for reasons the fake does not model (out of memory, a
    /// module that does not load): the errno for a change, or nil to carry it out.
    public var refusal: (Modification) -> Errno? = { _ in nil }

    public init() {}

    public func info() throws(IPVSError) -> IPVSInfo { kernelInfo }

    public func apply(_ modification: Modification) throws(IPVSError) {
        if let errno = refusal(modification) { throw IPVSError(modification.operation, errno: errno) }
        switch modification {
        case .addService(let service): try addService(service)
        case .updateService(let service): try updateService(service)
        case .deleteService(let service): try deleteService(service)
        case .zero(let service): try zero(service)
        case .flush: flush()
        case .addDestination(let destination, let service): try addDestination(destination, to: service)
        case .updateDestination(let destination, let service): try updateDestination(destination, in: service)
        case .deleteDestination(let destination, let service): try deleteDestination(destination, from: service)
        case .setTimeouts(let timeouts): try setTimeouts(timeouts)
        case .startDaemon(let daemon): try startDaemon(daemon)
        case .stopDaemon(let daemon): try stopDaemon(daemon)
        }
    }

    private func index(of key: ServiceKey) -> Int? { positions[key] }

    private func checkService(_ service: VirtualService, _ operation: IPVSError.Operation) throws(IPVSError) {
        if service.scheduler != "none", let schedulers, !schedulers.contains(service.scheduler) {
            throw IPVSError(operation, errno: .noSuchFileOrDirectory)
        }
        if !service.persistenceEngine.isEmpty, let persistenceEngines,
           !persistenceEngines.contains(service.persistenceEngine)
        {
            throw IPVSError(operation, errno: .noSuchFileOrDirectory)
        }
        if service.key.family == .inet6 && !(1...128).contains(service.netmask) {
            throw IPVSError(operation, errno: .invalidArgument)
        }
    }

    private func stored(_ service: VirtualService) -> VirtualService {
        var copy = service
        copy.flags.subtract(.hashed)
        copy.flags.insert(.hashed)
        copy.stats = Statistics()
        return copy
    }

    private func addService(_ service: VirtualService) throws(IPVSError) {
        if index(of: service.key) != nil { throw IPVSError(.addService, errno: .fileExists) }
        try checkService(service, .addService)
        positions[service.key] = entries.count
        entries.append(Entry(service: stored(service), destinations: []))
    }

    private func updateService(_ service: VirtualService) throws(IPVSError) {
        guard let i = index(of: service.key) else { throw IPVSError(.updateService, errno: .noSuchProcess) }
        try checkService(service, .updateService)
        let stats = entries[i].service.stats
        entries[i].service = stored(service)
        entries[i].service.stats = stats
    }

    private func deleteService(_ service: VirtualService) throws(IPVSError) {
        guard let i = index(of: service.key) else { throw IPVSError(.deleteService, errno: .noSuchProcess) }
        entries.remove(at: i)
        positions.removeValue(forKey: service.key)
        for j in i..<entries.count { positions[entries[j].service.key] = j }
    }

    private func zero(_ service: VirtualService?) throws(IPVSError) {
        if let service {
            guard let i = index(of: service.key) else { throw IPVSError(.zeroService, errno: .noSuchProcess) }
            entries[i].service.stats = Statistics()
        }
    }

    private func flush() {
        entries.removeAll()
        positions.removeAll()
    }

    private func checkDestination(
        _ d: Destination, _ service: VirtualService, _ operation: IPVSError.Operation
    ) throws(IPVSError) -> Int {
        guard let i = index(of: service.key) else { throw IPVSError(operation, errno: .noSuchProcess) }
        if d.weight < 0 { throw IPVSError(operation, errno: .outOfRange) }
        if d.lowerThreshold > d.upperThreshold { throw IPVSError(operation, errno: .outOfRange) }
        if d.forwarding == .tunnel && d.tunnelType == .gue && d.tunnelPort == 0 {
            throw IPVSError(operation, errno: .invalidArgument)
        }
        if d.address.family != service.key.family && (d.forwarding != .tunnel || !runningDaemons.isEmpty) {
            throw IPVSError(operation, errno: .invalidArgument)
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

    private func addDestination(_ d: Destination, to service: VirtualService) throws(IPVSError) {
        let i = try checkDestination(d, service, .addDestination)
        if !isRoutable(d.address) { throw IPVSError(.addDestination, errno: .invalidArgument) }
        if findDestination(d, in: i) != nil { throw IPVSError(.addDestination, errno: .fileExists) }
        entries[i].destinations.insert(stored(d), at: 0)
    }

    private func updateDestination(_ d: Destination, in service: VirtualService) throws(IPVSError) {
        let i = try checkDestination(d, service, .updateDestination)
        guard let j = findDestination(d, in: i) else { throw IPVSError(.updateDestination, errno: .noSuchFileOrDirectory) }
        // An edit keeps the real server's connections and counters, as the kernel does.
        let old = entries[i].destinations[j]
        var updated = stored(d)
        updated.activeConnections = old.activeConnections
        updated.inactiveConnections = old.inactiveConnections
        updated.persistentConnections = old.persistentConnections
        updated.stats = old.stats
        entries[i].destinations[j] = updated
    }

    private func deleteDestination(_ d: Destination, from service: VirtualService) throws(IPVSError) {
        guard let i = index(of: service.key) else { throw IPVSError(.deleteDestination, errno: .noSuchProcess) }
        guard let j = findDestination(d, in: i) else { throw IPVSError(.deleteDestination, errno: .noSuchFileOrDirectory) }
        entries[i].destinations.remove(at: j)
    }

    private func setTimeouts(_ timeouts: Timeouts) throws(IPVSError) {
        // The kernel refuses more than INT_MAX/HZ seconds; Debian's HZ is 250.
        let limit = UInt32(Int32.max / 250)
        if timeouts.tcp > limit || timeouts.tcpFin > limit || timeouts.udp > limit {
            throw IPVSError(.setTimeouts, errno: .invalidArgument)
        }
        if timeouts.tcp != 0 { currentTimeouts.tcp = timeouts.tcp }
        if timeouts.tcpFin != 0 { currentTimeouts.tcpFin = timeouts.tcpFin }
        if timeouts.udp != 0 { currentTimeouts.udp = timeouts.udp }
    }

    private func startDaemon(_ daemon: SyncDaemon) throws(IPVSError) {
        // The sync protocol cannot carry mixed-family services: checked first, as the kernel does.
        if entries.contains(where: { entry in entry.destinations.contains { $0.address.family != entry.service.key.family } }) {
            throw IPVSError(.startDaemon, errno: .invalidArgument)
        }
        if runningDaemons.contains(where: { $0.state == daemon.state }) { throw IPVSError(.startDaemon, errno: .fileExists) }
        if let interfaces, !interfaces.contains(daemon.interface) {
            throw IPVSError(.startDaemon, errno: .noSuchDevice)
        }
        var running = daemon
        let v6 = daemon.group?.family == .inet6
        if running.maxLength == 0 { running.maxLength = v6 ? 1452 : 1472 }
        if running.group == nil { running.group = IPAddress(ipv4: 0xe000_0051) }
        if running.port == 0 { running.port = 8848 }
        if running.ttl == 0 { running.ttl = 1 }
        runningDaemons.append(running)
        runningDaemons.sort { $0.state.rawValue < $1.state.rawValue }
    }

    private func stopDaemon(_ daemon: SyncDaemon) throws(IPVSError) {
        guard let i = runningDaemons.firstIndex(where: { $0.state == daemon.state }) else {
            throw IPVSError(.stopDaemon, errno: .noSuchProcess)
        }
        runningDaemons.remove(at: i)
    }

    public func services() throws(IPVSError) -> [VirtualService] {
        return entries.map(\.service)
    }

    public func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService {
        guard let i = index(of: key) else { throw IPVSError(.getService, errno: .noSuchProcess) }
        return entries[i].service
    }

    public func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
        guard let i = index(of: service.key) else { return [] }
        return entries[i].destinations
    }

    public func timeouts() throws(IPVSError) -> Timeouts {
        return currentTimeouts
    }

    /// Sets the connection counts a real server reports (what traffic would do).
    public func setConnections(active: UInt32, inactive: UInt32, of d: Destination, in service: VirtualService) {
        guard let i = index(of: service.key), let j = findDestination(d, in: i) else { return }
        entries[i].destinations[j].activeConnections = active
        entries[i].destinations[j].inactiveConnections = inactive
    }

    /// Connections to report, in `/proc/net/ip_vs_conn` lines (without the header).
    public var connectionLines: [String] = []

    public func connectionTable() throws(Errno) -> String {
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
            + connectionLines.map { $0 + "\n" }.joined()
    }

    /// The most bytes `readConnectionTable` hands over at once (a file read in blocks).
    public var connectionBlockSize = Int.max

    public func readConnectionTable(_ body: (UnsafeRawBufferPointer) -> Void) throws(Errno) {
        var table = try connectionTable()
        table.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                let end = start + min(connectionBlockSize, bytes.count - start)
                body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<end])))
                start = end
            }
        }
    }

    public func daemons() throws(IPVSError) -> [SyncDaemon] {
        return runningDaemons
    }
}
