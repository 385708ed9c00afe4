import Glibc
import IPVS

/// The real kernel, over the generic-netlink family "IPVS". One socket serves every
/// request of the process (ipvsadm opens and resolves one per request).
public final class NetlinkBackend: IPVSBackend {
    private let socket: NetlinkSocket
    private let cachedInfo: IPVSInfo

    private init(socket: consuming NetlinkSocket, info: IPVSInfo) {
        self.socket = socket
        self.cachedInfo = info
    }

    /// Connects as ipvsadm's start-up does: open the socket and ask GET_INFO; on failure
    /// run `/sbin/modprobe -- ip_vs` and, if it exits 0, try once more. Throws
    /// `IPVSError(.initialize, …)` with the errno of the first attempt when modprobe fails,
    /// or of the second attempt when that one fails.
    public static func open() throws(IPVSError) -> NetlinkBackend {
        let firstErrno: Int32
        do {
            return try attempt()
        } catch {
            firstErrno = error.errno
        }
        guard loadModule() else { throw IPVSError(.initialize, errno: firstErrno) }
        do {
            return try attempt()
        } catch {
            throw IPVSError(.initialize, errno: error.errno)
        }
    }

    private static func attempt() throws(NetlinkSocket.Failure) -> NetlinkBackend {
        let socket = try NetlinkSocket()
        let messages = try socket.transact(.getInfo)
        guard let info = try? IPVSCodec.decodeInfo(messages) else {
            throw NetlinkSocket.Failure(errno: EINVAL)
        }
        return NetlinkBackend(socket: socket, info: info)
    }

    /// `/sbin/modprobe -- ip_vs`, with our standard streams; true if it exited with 0.
    private static func loadModule() -> Bool {
        let arguments = ["/sbin/modprobe", "--", "ip_vs"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, arguments[0], nil, nil, argv, environ) == 0 else { return false }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return false }
        }
        // WIFEXITED(status) && WEXITSTATUS(status) == 0
        return status & 0x7f == 0 && (status >> 8) & 0xff == 0
    }

    // MARK: Requests

    private func request(
        _ operation: IPVSError.Operation, _ command: IPVSCommand, dump: Bool = false, _ attributes: [UInt8] = []
    ) throws(IPVSError) -> [ArraySlice<UInt8>] {
        do {
            return try socket.transact(command, dump: dump, attributes: attributes)
        } catch {
            throw IPVSError(operation, errno: error.errno)
        }
    }

    private func decode<T>(
        _ operation: IPVSError.Operation, _ body: () throws(MalformedReply) -> T
    ) throws(IPVSError) -> T {
        do {
            return try body()
        } catch {
            throw IPVSError(operation, errno: EINVAL)
        }
    }

    /// Makes the socket read `bytes` at a time: below the kernel's datagram size, the first
    /// dump is cut, and must be recovered (for tests).
    func setReadSize(_ bytes: Int) { socket.setReadSize(bytes) }

    /// Version and connection-table size, as read at start-up (they cannot change while
    /// the module is loaded, so no second GET_INFO is sent).
    public func info() throws(IPVSError) -> IPVSInfo { cachedInfo }

    public func addService(_ service: VirtualService) throws(IPVSError) { try send(.addService(service)) }
    public func updateService(_ service: VirtualService) throws(IPVSError) { try send(.updateService(service)) }
    public func deleteService(_ service: VirtualService) throws(IPVSError) { try send(.deleteService(service)) }
    public func zero(_ service: VirtualService?) throws(IPVSError) { try send(.zero(service)) }
    public func flush() throws(IPVSError) { try send(.flush) }
    public func setTimeouts(_ timeouts: Timeouts) throws(IPVSError) { try send(.setTimeouts(timeouts)) }
    public func startDaemon(_ daemon: SyncDaemon) throws(IPVSError) { try send(.startDaemon(daemon)) }
    public func stopDaemon(_ daemon: SyncDaemon) throws(IPVSError) { try send(.stopDaemon(daemon)) }

    public func addDestination(_ destination: Destination, to service: VirtualService) throws(IPVSError) {
        try send(.addDestination(destination, to: service))
    }

    public func updateDestination(_ destination: Destination, in service: VirtualService) throws(IPVSError) {
        try send(.updateDestination(destination, in: service))
    }

    public func deleteDestination(_ destination: Destination, from service: VirtualService) throws(IPVSError) {
        try send(.deleteDestination(destination, from: service))
    }

    /// One modification, one request, waiting for its acknowledgement.
    private func send(_ modification: Modification) throws(IPVSError) {
        let (operation, command, attributes) = NetlinkBackend.encode(modification)
        _ = try request(operation, command, attributes)
    }

    /// The request, the operation it reports errors as, and its attributes.
    private static func encode(_ modification: Modification) -> (IPVSError.Operation, IPVSCommand, [UInt8]) {
        switch modification {
        case .addService(let s): return (.addService, .newService, IPVSCodec.serviceRequest(s))
        case .updateService(let s): return (.updateService, .setService, IPVSCodec.serviceRequest(s))
        case .deleteService(let s): return (.deleteService, .deleteService, IPVSCodec.serviceRequest(s))
        case .zero(let s): return (.zeroService, .zero, IPVSCodec.zeroRequest(s))
        case .flush: return (.flush, .flush, [])
        case .addDestination(let d, let s):
            return (.addDestination, .newDestination, IPVSCodec.destinationRequest(d, service: s))
        case .updateDestination(let d, let s):
            return (.updateDestination, .setDestination, IPVSCodec.destinationRequest(d, service: s))
        case .deleteDestination(let d, let s):
            return (.deleteDestination, .deleteDestination, IPVSCodec.destinationRequest(d, service: s))
        case .setTimeouts(let t): return (.setTimeouts, .setConfig, IPVSCodec.timeoutsRequest(t))
        case .startDaemon(let d): return (.startDaemon, .newDaemon, IPVSCodec.startDaemonRequest(d))
        case .stopDaemon(let d): return (.stopDaemon, .deleteDaemon, IPVSCodec.stopDaemonRequest(d))
        }
    }

    /// Pipelines the modifications: as many per `sendmsg` as fit, acknowledgements matched
    /// by sequence number. The kernel still handles them one by one, in order.
    public func perform(_ modifications: [Modification]) -> [IPVSError?] {
        var results: [IPVSError?] = []
        results.reserveCapacity(modifications.count)
        var batch: [(command: IPVSCommand, attributes: [UInt8])] = []
        var operations: [IPVSError.Operation] = []
        var bytes = 0
        func send() {
            guard !batch.isEmpty else { return }
            do throws(NetlinkSocket.Failure) {
                let statuses = try socket.transactBatch(batch)
                for (operation, status) in zip(operations, statuses) {
                    results.append(status == 0 ? nil : IPVSError(operation, errno: status))
                }
            } catch {
                for operation in operations { results.append(IPVSError(operation, errno: error.errno)) }
            }
            batch.removeAll(keepingCapacity: true)
            operations.removeAll(keepingCapacity: true)
            bytes = 0
        }
        for modification in modifications {
            let (operation, command, attributes) = NetlinkBackend.encode(modification)
            // nlmsghdr + genlmsghdr + attributes, aligned.
            let size = (16 + 4 + attributes.count + 3) & ~3
            if bytes + size > NetlinkSocket.batchLimit { send() }
            batch.append((command, attributes))
            operations.append(operation)
            bytes += size
        }
        send()
        return results
    }

    /// All services. A dump that spans several reads resumes by position in the kernel's
    /// service table, which all network namespaces share: a change elsewhere between two
    /// reads can repeat an entry. A service key is unique in a namespace, so a repeated key
    /// is such an artefact, and only its first copy is kept.
    ///
    /// The reply is decoded datagram by datagram, so the raw dump is never held whole.
    public func services() throws(IPVSError) -> [VirtualService] {
        var services: [VirtualService] = []
        var malformed = false
        do throws(NetlinkSocket.Failure) {
            try socket.transact(
                .getService, dump: true, attributes: [],
                restart: {
                    services.removeAll()
                    malformed = false
                }
            ) { messages in
                guard !malformed else { return }
                do {
                    services += try IPVSCodec.decodeServices(messages)
                } catch {
                    malformed = true
                }
            }
        } catch {
            throw IPVSError(.getServices, errno: error.errno)
        }
        if malformed { throw IPVSError(.getServices, errno: EINVAL) }
        var seen = Set<ServiceKey>(minimumCapacity: services.count)
        services.removeAll { !seen.insert($0.key).inserted }
        return services
    }

    /// The non-dump GET_SERVICE, with the full nest libipvs sends (empty scheduler,
    /// zero flags, timeout and netmask).
    public func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService {
        let query = VirtualService(key: key, netmask: 0)
        let messages = try request(.getService, .getService, IPVSCodec.serviceRequest(query))
        return try decode(.getService) { () throws(MalformedReply) in
            guard let service = try IPVSCodec.decodeServices(messages).first else {
                throw MalformedReply(what: "no service in reply")
            }
            return service
        }
    }

    public func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
        let messages = try request(
            .getDestinations, .getDestination, dump: true, IPVSCodec.destinationsRequest(service.key))
        return try decode(.getDestinations) { () throws(MalformedReply) in
            try IPVSCodec.decodeDestinations(messages, family: service.key.family)
        }
    }

    /// The floor of a listing, for the benchmark: the requests of `-Ln` (the services dump,
    /// then one destinations dump per service) back to back on this socket, with the
    /// replies received but not decoded (beyond the service keys) and nothing printed.
    /// Returns the number of reply messages.
    public func issueListingRequests() throws(IPVSError) -> Int {
        let services = try services()
        var messages = services.count
        for service in services {
            messages += try request(
                .getDestinations, .getDestination, dump: true, IPVSCodec.destinationsRequest(service.key)).count
        }
        return messages
    }

    public func timeouts() throws(IPVSError) -> Timeouts {
        let messages = try request(.getTimeouts, .getConfig)
        return try decode(.getTimeouts) { () throws(MalformedReply) in try IPVSCodec.decodeTimeouts(messages) }
    }

    public func daemons() throws(IPVSError) -> [SyncDaemon] {
        let messages = try request(.getDaemons, .getDaemon, dump: true)
        return try decode(.getDaemons) { () throws(MalformedReply) in try IPVSCodec.decodeDaemons(messages) }
    }
}
