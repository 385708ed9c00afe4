import Glibc
import IPVS

/// The real kernel, over the generic-netlink family "IPVS". One socket serves every
/// request of the process (ipvsadm opens one and resolves the family per request).
public final class NetlinkBackend: IPVSBackend {
    private let client: NetlinkClient
    private let cachedInfo: IPVSInfo

    /// The client holds its transport (the socket): the backend needs nothing else of it.
    @_spi(Testing) public init(client: NetlinkClient) throws(IPVSError) {
        self.client = client
        var info: IPVSInfo?
        var malformed = false
        do throws(Errno) {
            try client.request(.getInfo) { message in
                do throws(MalformedReply) { info = try IPVSCodec.decodeInfo(message: message) } catch { malformed = true }
            }
        } catch {
            throw IPVSError(.initialize, errno: error)
        }
        guard let info, !malformed else { throw IPVSError(.initialize, errno: .invalidArgument) }
        cachedInfo = info
    }

    /// Connects as ipvsadm's start-up does: open the socket and ask GET_INFO. When the IPVS
    /// family is not registered, runs `/sbin/modprobe -- ip_vs` and, if it exits 0, tries once
    /// more. Throws with the errno of the first attempt when modprobe is not run or fails,
    /// else of the second attempt.
    ///
    /// With a `namespace` (a name under `/run/netns`, as `ip netns add` makes them, or a path
    /// such as `/proc/PID/ns/net`), the process first enters that network namespace: the socket,
    /// and `/proc/net/ip_vs_conn`, are then that namespace's.
    public static func open(namespace: String? = nil) throws(IPVSError) -> NetlinkBackend {
        if let namespace { try enterNetworkNamespace(namespace) }
        let first: IPVSError
        do {
            return try connect()
        } catch {
            first = error
        }
        // Only a missing family is cured by loading the module: not EPERM (no privilege),
        // not a reply we could not read.
        guard first.errno == .protocolNotAvailable, loadModule() else { throw first }
        return try connect()
    }

    /// Moves the process into a network namespace (a name under `/run/netns`, or a path).
    public static func enterNetworkNamespace(_ namespace: String) throws(IPVSError) {
        let path = namespace.contains("/") ? namespace : "/run/netns/" + namespace
        do throws(Errno) {
            let descriptor = try Errno.retryingInterrupts { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
            defer { close(descriptor) }
            try NetlinkSocket.enterNetworkNamespace(descriptor)
        } catch {
            throw IPVSError(.enterNetworkNamespace, errno: error)
        }
    }

    private static func connect() throws(IPVSError) -> NetlinkBackend {
        let socket: NetlinkSocket
        do {
            socket = try NetlinkSocket(readSize: NetlinkClient.initialReadSize)
        } catch {
            throw IPVSError(.initialize, errno: error)
        }
        let client = NetlinkClient(transport: socket, family: socket.family, port: socket.port)
        return try NetlinkBackend(client: client)
    }

    /// `/sbin/modprobe -- ip_vs` with our standard streams and a fixed minimal environment
    /// (never the caller's: `MODPROBE_OPTIONS` could name a configuration that runs commands);
    /// true if it exited with 0.
    private static func loadModule() -> Bool {
        let arguments = ["/sbin/modprobe", "--", "ip_vs"]
        let environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, arguments[0], nil, nil, &argv, &envp) == 0 else { return false }
        var status: Int32 = 0
        guard (try? Errno.retryingInterrupts({ waitpid(pid, &status, 0) })) != nil else { return false }
        // WIFEXITED(status) && WEXITSTATUS(status) == 0
        return status & 0x7f == 0 && (status >> 8) & 0xff == 0
    }

    /// Makes the socket read `bytes` at a time: below the kernel's datagram size, the first
    /// dump is cut, and must be recovered (for tests).
    func setReadSize(_ bytes: Int) { client.setReadSize(bytes) }

    /// Version and connection-table size, as read at start-up (they cannot change while
    /// the module is loaded, so no second GET_INFO is sent).
    public func info() throws(IPVSError) -> IPVSInfo { cachedInfo }

    // MARK: Changes

    public func apply(_ modification: Modification) throws(IPVSError) {
        var attributes = AttributeEncoder(capacity: 256)
        let command = NetlinkBackend.encode(modification, into: &attributes)
        do throws(Errno) {
            try attributes.withUnsafeBytes { (bytes) throws(Errno) in
                try client.request(command, attributes: { $0.append(raw: bytes) }) { _ in }
            }
        } catch {
            throw IPVSError(modification.operation, errno: error)
        }
    }

    /// Pipelines the modifications (see `NetlinkClient.perform`): the kernel still handles
    /// them one by one, in order.
    public func perform(_ modifications: [Modification]) -> [IPVSError?] {
        let statuses = client.perform(count: modifications.count) { index, attributes in
            NetlinkBackend.encode(modifications[index], into: &attributes)
        }
        // By index, and only for failures (hot path, `-R`: no copy of a change per line).
        var results = [IPVSError?](repeating: nil, count: statuses.count)
        for (index, status) in statuses.enumerated() {
            if let status { results[index] = IPVSError(modifications[index].operation, errno: status) }
        }
        return results
    }

    /// Writes the request's attributes and returns its command.
    private static func encode(_ modification: Modification, into encoder: inout AttributeEncoder) -> IPVSCommand {
        switch modification {
        case .addService(let s): IPVSCodec.serviceRequest(s, into: &encoder); return .newService
        case .updateService(let s): IPVSCodec.serviceRequest(s, into: &encoder); return .setService
        case .deleteService(let s): IPVSCodec.serviceRequest(s, into: &encoder); return .deleteService
        case .zero(let s): IPVSCodec.zeroRequest(s, into: &encoder); return .zero
        case .flush: return .flush
        case .addDestination(let d, let s): IPVSCodec.destinationRequest(d, service: s, into: &encoder); return .newDestination
        case .updateDestination(let d, let s):
            IPVSCodec.destinationRequest(d, service: s, into: &encoder); return .setDestination
        case .deleteDestination(let d, let s):
            IPVSCodec.destinationRequest(d, service: s, into: &encoder); return .deleteDestination
        case .setTimeouts(let t): IPVSCodec.timeoutsRequest(t, into: &encoder); return .setConfig
        case .startDaemon(let d): IPVSCodec.startDaemonRequest(d, into: &encoder); return .newDaemon
        case .stopDaemon(let d): IPVSCodec.stopDaemonRequest(d, into: &encoder); return .deleteDaemon
        }
    }

    // MARK: Reads

    /// One read request whose reply messages `decode` turns into elements, as they arrive.
    /// A reply libipvs could not parse is reported as it reports it, EINVAL.
    private func read<T>(
        _ operation: IPVSError.Operation, _ command: IPVSCommand, dump: Bool = true,
        attributes: (inout AttributeEncoder) -> Void = { _ in },
        _ decode: (ArraySlice<UInt8>) throws(MalformedReply) -> T
    ) throws(IPVSError) -> [T] {
        var items: [T] = []
        var malformed = false
        do throws(Errno) {
            try client.request(
                command, dump: dump, attributes: attributes,
                restart: {
                    items.removeAll()
                    malformed = false
                }
            ) { message in
                guard !malformed else { return }
                do throws(MalformedReply) { items.append(try decode(message)) } catch { malformed = true }
            }
        } catch {
            throw IPVSError(operation, errno: error)
        }
        if malformed { throw IPVSError(operation, errno: .invalidArgument) }
        return items
    }

    /// All services. A dump that spans several reads resumes by position in the kernel's
    /// service table, which all network namespaces share: a change elsewhere between two
    /// reads can repeat an entry. A service key is unique in a namespace, so a repeated key
    /// is such an artefact, and only its first copy is kept.
    public func services() throws(IPVSError) -> [VirtualService] {
        var services = try read(.getServices, .getService) { (message) throws(MalformedReply) in
            try IPVSCodec.decodeService(message: message)
        }
        var seen = Set<ServiceKey>(minimumCapacity: services.count)
        services.removeAll { !seen.insert($0.key).inserted }
        return services
    }

    /// The non-dump GET_SERVICE, with the full nest libipvs sends (empty scheduler,
    /// zero flags, timeout and netmask).
    public func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService {
        let query = VirtualService(key: key, netmask: 0)
        let services = try read(.getService, .getService, dump: false, attributes: { IPVSCodec.serviceRequest(query, into: &$0) }) {
            (message) throws(MalformedReply) in try IPVSCodec.decodeService(message: message)
        }
        guard let service = services.first else { throw IPVSError(.getService, errno: .invalidArgument) }
        return service
    }

    public func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
        let family = service.key.family
        return try read(.getDestinations, .getDestination, attributes: { IPVSCodec.destinationsRequest(service.key, into: &$0) }) {
            (message) throws(MalformedReply) in try IPVSCodec.decodeDestination(message: message, family: family)
        }
    }

    public func timeouts() throws(IPVSError) -> Timeouts {
        let replies = try read(.getTimeouts, .getConfig, dump: false) { IPVSCodec.decodeTimeouts(message: $0) }
        guard let timeouts = replies.first else { throw IPVSError(.getTimeouts, errno: .invalidArgument) }
        return timeouts
    }

    public func daemons() throws(IPVSError) -> [SyncDaemon] {
        try read(.getDaemons, .getDaemon) { (message) throws(MalformedReply) in try IPVSCodec.decodeDaemon(message: message) }
    }

    /// `/proc/net/ip_vs_conn` of the namespace the process is in.
    public func connectionTable() throws(Errno) -> String {
        String(decoding: try WholeFile.read("/proc/net/ip_vs_conn"), as: UTF8.self)
    }

    /// `/proc/net/ip_vs_conn`, block by block. The kernel returns at most a page per `read`
    /// and walks its connection table from the start to the read's position for each one, so
    /// the size of the reads changes nothing above a page (measured in the VM: 1 MiB reads,
    /// the same time and peak RSS as 64 KiB ones).
    public func readConnectionTable(_ body: (UnsafeRawBufferPointer) -> Void) throws(Errno) {
        try WholeFile.forEachBlock("/proc/net/ip_vs_conn", body)
    }

    /// The floor of a listing, for the benchmark (`ipvsadm-floor`): the requests of `-Ln`
    /// (the services dump, then one destinations dump per service) back to back on this
    /// socket, the replies received but not decoded beyond the service keys, nothing
    /// printed. Returns the number of services and of reply messages.
    @_spi(Benchmark)
    public func issueListingRequests() throws(IPVSError) -> (services: Int, messages: Int) {
        let services = try services()
        var messages = services.count
        for service in services {
            do throws(Errno) {
                try client.request(.getDestination, dump: true, attributes: { IPVSCodec.destinationsRequest(service.key, into: &$0) }) {
                    _ in messages += 1
                }
            } catch {
                throw IPVSError(.getDestinations, errno: error)
            }
        }
        return (services.count, messages)
    }
}
