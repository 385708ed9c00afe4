import IPVS
@_spi(Benchmark) @_spi(Testing) import IPVSNetlink

/// The one model of the kernel's side of the generic-netlink conversation, answering from a
/// `World`: requests are read as the kernel reads them, replies built as it builds them (a data
/// message per entry, `NLMSG_DONE` at the end of a dump, an acknowledgement for a request that
/// asks for one or fails) and delivered a datagram per read, grouped as IPVS on Linux 6.1
/// groups them: dump messages several to a datagram, `NLMSG_DONE` and every acknowledgement
/// alone. Used by the fuzz checks (`codec`, with worlds made from the input) and by the
/// profile harness (`ipvsadm-restore-profile`, `World.acknowledging`).
///
/// Every number it reads or writes is IPVSNetlink's (`IPVSProtocol.swift`,
/// `NetlinkMessage.swift`, SPI `Testing`), and its replies are built with the codec's request
/// encoders where request and reply share their layout.
///
/// Hot path of the profile (every `-R` request): a change is answered by an entry queued
/// without allocation and written into the reader's buffer when read; only the other requests
/// build their replies as arrays.
@_spi(Testing)
public final class FakeKernel: NetlinkTransport {
    /// The IPVS family's id and the socket's port, as the client is to be told.
    public static let family: UInt16 = 32
    public static let port: UInt32 = 4242

    /// What the kernel holds and how it answers.
    public struct World {
        /// The client's reads (nil: its default) and first sequence number: not the kernel's,
        /// part of the conversation a check makes.
        public var readSize: Int?
        public var firstSequence: UInt32 = 1
        /// Messages per datagram of a dump, in turn.
        public var grouping = [1]
        public var info = IPVSInfo(version: 0, connectionTableSize: 0)
        public var services: [VirtualService] = []
        /// The error field of the services dump's `NLMSG_DONE`.
        public var servicesEnd: Int32 = 0
        /// The real servers of `owner`.
        public var destinations: [Destination] = []
        /// Real servers without their own family attribute (kernels before 3.18).
        public var oldKernel = false
        public var timeouts = Timeouts(tcp: 0, tcpFin: 0, udp: 0)
        /// Bits 0, 1, 2: the TCP, TCP FIN, UDP timeout is left out of the reply.
        public var omittedTimeouts: UInt8 = 0
        public var daemons: [SyncDaemon] = []
        /// The error field of each change's acknowledgement, in turn.
        public var answers: [Int32] = [0]

        public init() {}

        /// The service whose real servers `destinations` are: the first, or TCP 10.0.0.1:80.
        public var owner: VirtualService { services.first ?? World.someService }

        public static let someService = VirtualService(
            key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80), scheduler: "wlc")

        /// The profile's world: IPVS 1.2.1 with a 4096-entry connection table, an empty table,
        /// every change taken.
        public static var acknowledging: World {
            var world = World()
            world.info = IPVSInfo(version: 0x01_02_01, connectionTableSize: 4096)
            return world
        }
    }

    /// A reply waiting to be read: one datagram each.
    private enum Reply {
        case datagram([UInt8])
        /// `NLMSG_ERROR` with this error field and the request's header (NETLINK_CAP_ACK),
        /// written when read.
        case acknowledgement(RequestHeader, field: Int32)
    }

    /// An `nlmsghdr` as sent, echoed in its acknowledgement.
    private struct RequestHeader {
        var length: UInt32
        var type: UInt16
        var flags: UInt16
        var sequence: UInt32
        var port: UInt32
    }

    private let world: World
    private var queue: [Reply] = []
    private var delivered = 0
    private var answered = 0
    private var groups = 0
    /// What the client sent that the kernel would not take as it is.
    public private(set) var problems: [String] = []
    /// Commands received, for messages.
    public private(set) var log: [UInt8] = []
    /// Requests received, and a checksum (FNV-1a) of their bytes without the sequence numbers:
    /// equal when an encoder change left the requests as they were.
    public private(set) var requests = 0
    public private(set) var checksum: UInt64 = 0xcbf2_9ce4_8422_2325

    public init(_ world: World) { self.world = world }

    /// A backend over a fake kernel holding `world`, started as `open` starts (GET_INFO), and a
    /// way to read its count of requests and their checksum (for `ipvsadm-restore-profile`).
    public static func backend(_ world: World = .acknowledging) throws(IPVSError)
        -> (backend: NetlinkBackend, sent: () -> (requests: Int, checksum: UInt64))
    {
        let kernel = FakeKernel(world)
        let backend = try NetlinkBackend(transport: kernel, family: family, port: port)
        return (backend, { (kernel.requests, kernel.checksum) })
    }

    // Hot path of the profile: no closure here (the profile subtracts these two methods'
    // instructions by name) and no allocation per change.
    public func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        if let problem = requestProblem(bytes, family: FakeKernel.family) {
            problems.append(problem)
            return
        }
        var offset = 0
        while offset < bytes.count {
            let header = RequestHeader(
                length: bytes.loadUnaligned(fromByteOffset: offset + NetlinkMessage.lengthOffset, as: UInt32.self),
                type: bytes.loadUnaligned(fromByteOffset: offset + NetlinkMessage.typeOffset, as: UInt16.self),
                flags: bytes.loadUnaligned(fromByteOffset: offset + NetlinkMessage.flagsOffset, as: UInt16.self),
                sequence: bytes.loadUnaligned(fromByteOffset: offset + NetlinkMessage.sequenceOffset, as: UInt32.self),
                port: bytes.loadUnaligned(fromByteOffset: offset + NetlinkMessage.portOffset, as: UInt32.self))
            let end = offset + Int(header.length)
            requests += 1
            for index in offset..<end where !(offset + NetlinkMessage.sequenceOffset..<offset + NetlinkMessage.portOffset).contains(index) {
                checksum = (checksum ^ UInt64(bytes[index])) &* 0x100_0000_01b3
            }
            let command = bytes[offset + NetlinkMessage.commandOffset]
            log.append(command)
            answer(command, header, attributes: UnsafeRawBufferPointer(
                rebasing: bytes[(offset + NetlinkMessage.headerLength + NetlinkMessage.genericHeaderLength)..<end]))
            offset += NetlinkMessage.aligned(Int(header.length))
        }
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard delivered < queue.count else {
            if !queue.isEmpty {
                queue.removeAll(keepingCapacity: true)
                delivered = 0
            }
            throw .resourceTemporarilyUnavailable  // what a receive timeout reports
        }
        delivered += 1
        switch queue[delivered - 1] {
        case .datagram(let datagram):
            return deliver(datagram, into: buffer)
        case .acknowledgement(let request, let field):
            let length = NetlinkMessage.headerLength + 4 + NetlinkMessage.headerLength
            guard buffer.count >= length else {
                let echo = withUnsafeBytes(of: request) { Array($0) }
                return deliver(
                    FakeKernel.message(
                        type: NetlinkMessage.typeError, flags: NetlinkMessage.Flags.capped.rawValue,
                        sequence: request.sequence, payload: FakeKernel.int(field) + echo),
                    into: buffer)
            }
            FakeKernel.storeHeader(
                into: buffer, length: UInt32(length), type: NetlinkMessage.typeError,
                flags: NetlinkMessage.Flags.capped.rawValue, sequence: request.sequence)
            buffer.storeBytes(of: field, toByteOffset: NetlinkMessage.headerLength, as: Int32.self)
            let echo = NetlinkMessage.headerLength + 4
            buffer.storeBytes(of: request.length, toByteOffset: echo + NetlinkMessage.lengthOffset, as: UInt32.self)
            buffer.storeBytes(of: request.type, toByteOffset: echo + NetlinkMessage.typeOffset, as: UInt16.self)
            buffer.storeBytes(of: request.flags, toByteOffset: echo + NetlinkMessage.flagsOffset, as: UInt16.self)
            buffer.storeBytes(of: request.sequence, toByteOffset: echo + NetlinkMessage.sequenceOffset, as: UInt32.self)
            buffer.storeBytes(of: request.port, toByteOffset: echo + NetlinkMessage.portOffset, as: UInt32.self)
            return length
        }
    }

    // MARK: Answers

    private func answer(_ command: UInt8, _ request: RequestHeader, attributes: UnsafeRawBufferPointer) {
        let dump = request.flags & NetlinkMessage.Flags.dump.rawValue == NetlinkMessage.Flags.dump.rawValue
        func data(_ reply: IPVSCommand, _ payload: [UInt8]) -> [UInt8] {
            FakeKernel.message(
                type: FakeKernel.family, flags: dump ? NetlinkMessage.Flags.multipart.rawValue : 0,
                sequence: request.sequence, payload: [reply.rawValue, NetlinkMessage.ipvsVersion, 0, 0] + payload)
        }
        func end(_ messages: [[UInt8]], status: Int32 = 0) {
            queueGrouped(messages)
            // IPVS's dump callbacks return the bytes they added, so the netlink core sends
            // NLMSG_DONE after a call that added nothing: in a datagram of its own.
            queue.append(.datagram(FakeKernel.message(
                type: NetlinkMessage.typeDone, flags: NetlinkMessage.Flags.multipart.rawValue,
                sequence: request.sequence, payload: FakeKernel.int(status))))
        }
        func reply(_ message: [UInt8]) {
            queue.append(.datagram(message))
            acknowledge(request, 0)
        }
        switch IPVSCommand(rawValue: command) {
        case .getInfo?:
            var encoder = AttributeEncoder()
            encoder.append(InfoAttribute.version, u32: world.info.version)
            encoder.append(InfoAttribute.connectionTableSize, u32: world.info.connectionTableSize)
            reply(data(.setInfo, encoder.bytes))
        case .getService? where dump:
            end(world.services.map { data(.newService, FakeKernel.serviceReply($0)) }, status: world.servicesEnd)
        case .getService?:
            let key = (try? IPVSCodec.decodeService(message: Array(attributes)[...]))?.key
            if let service = world.services.first(where: { $0.key == key }) {
                reply(data(.newService, FakeKernel.serviceReply(service)))
            } else {
                acknowledge(request, -Errno.noSuchProcess.rawValue)
            }
        case .getDestination?:
            end(world.destinations.map {
                data(.newDestination, FakeKernel.destinationReply($0, of: world.owner, oldKernel: world.oldKernel))
            })
        case .getConfig?:
            let omitted = [CommandAttribute.timeoutTCP, CommandAttribute.timeoutTCPFin, CommandAttribute.timeoutUDP].enumerated()
                .filter { world.omittedTimeouts & (1 << $0.offset) != 0 }.map { $0.element }
            let all = FakeKernel.attributes(encoded { IPVSCodec.timeoutsRequest(world.timeouts, into: &$0) })
            reply(data(.setConfig, FakeKernel.joined(all.filter { !omitted.contains($0.type & NetlinkAttribute.typeMask) })))
        case .getDaemon?:
            end(world.daemons.map { daemon in data(.newDaemon, encoded { IPVSCodec.startDaemonRequest(daemon, into: &$0) }) })
        default:
            let field = world.answers[answered % world.answers.count]
            answered += 1
            acknowledge(request, field)
        }
    }

    /// The kernel acknowledges a request that asks for it (`NLM_F_ACK`) and reports every
    /// failure.
    private func acknowledge(_ request: RequestHeader, _ field: Int32) {
        if field != 0 || request.flags & NetlinkMessage.Flags.acknowledge.rawValue != 0 {
            queue.append(.acknowledgement(request, field: field))
        }
    }

    /// Messages into datagrams, as many per datagram as `grouping` says in turn.
    private func queueGrouped(_ messages: [[UInt8]]) {
        var index = 0
        while index < messages.count {
            let count = world.grouping[groups % world.grouping.count]
            groups += 1
            queue.append(.datagram(messages[index..<min(index + count, messages.count)].flatMap { $0 }))
            index += count
        }
    }

    // MARK: Replies

    /// A service as the kernel sends it: the request's nest, and the counters.
    public static func serviceReply(_ service: VirtualService) -> [UInt8] {
        var top = attributes(encoded { IPVSCodec.serviceRequest(service, into: &$0) })
        top[0].payload += statistics(service.stats, stats64: ServiceAttribute.stats64, stats: ServiceAttribute.stats)
        return joined(top)
    }

    /// A real server as the kernel sends it: the request's real-server nest alone, with the
    /// connection counters and statistics; an old kernel sends no family of its own.
    public static func destinationReply(_ d: Destination, of service: VirtualService, oldKernel: Bool) -> [UInt8] {
        let top = attributes(encoded { IPVSCodec.destinationRequest(d, service: service, into: &$0) })
        guard var nest = top.first(where: { $0.type & NetlinkAttribute.typeMask == CommandAttribute.destination }) else {
            return []
        }
        var inner = attributes(nest.payload)
        if oldKernel { inner.removeAll { $0.type == DestinationAttribute.addressFamily } }
        var encoder = AttributeEncoder()
        encoder.append(DestinationAttribute.activeConnections, u32: d.activeConnections)
        encoder.append(DestinationAttribute.inactiveConnections, u32: d.inactiveConnections)
        encoder.append(DestinationAttribute.persistentConnections, u32: d.persistentConnections)
        nest.payload = joined(inner) + encoder.bytes
            + statistics(d.stats, stats64: DestinationAttribute.stats64, stats: DestinationAttribute.stats)
        return joined([nest])
    }

    /// STATS64 with every counter; STATS with the 32-bit ones truncated would read differently,
    /// so it is sent only beside STATS64 (which wins), or alone when every counter fits.
    static func statistics(_ s: Statistics, stats64: UInt16, stats: UInt16) -> [UInt8] {
        let counters = [s.connections, s.inPackets, s.outPackets, s.inBytes, s.outBytes, s.connectionRate,
                        s.inPacketRate, s.outPacketRate, s.inByteRate, s.outByteRate]
        let wide: Set<UInt16> = [StatsAttribute.inBytes, StatsAttribute.outBytes]
        let types = [StatsAttribute.connections, StatsAttribute.inPackets, StatsAttribute.outPackets, StatsAttribute.inBytes,
                     StatsAttribute.outBytes, StatsAttribute.connectionRate, StatsAttribute.inPacketRate,
                     StatsAttribute.outPacketRate, StatsAttribute.inByteRate, StatsAttribute.outByteRate]
        let narrow = zip(types, counters).allSatisfy { type, value in wide.contains(type) || value <= UInt64(UInt32.max) }
        var encoder = AttributeEncoder()
        let zero = counters.allSatisfy { $0 == 0 }
        if !zero && (!narrow || s.connections & 1 == 0) {
            encoder.nest(stats64) { nest in
                for (type, value) in zip(types, counters) { nest.append(type, u64: value) }
            }
        }
        if !zero && narrow {
            encoder.nest(stats) { nest in
                for (type, value) in zip(types, counters) {
                    if wide.contains(type) { nest.append(type, u64: value) } else { nest.append(type, u32: UInt32(value)) }
                }
            }
        }
        return encoder.bytes
    }

    // MARK: Bytes

    static func int(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    static func message(type: UInt16, flags: UInt16, sequence: UInt32, payload: [UInt8]) -> [UInt8] {
        var message = AttributeEncoder()
        NetlinkMessage.appendHeader(
            to: &message, length: UInt32(NetlinkMessage.headerLength + payload.count), type: type, flags: flags,
            sequence: sequence, port: port)
        payload.withUnsafeBytes { message.append(raw: $0) }
        message.pad()
        return message.bytes
    }

    /// Writes a reply's `nlmsghdr` at the start of `buffer`.
    private static func storeHeader(
        into buffer: UnsafeMutableRawBufferPointer, length: UInt32, type: UInt16, flags: UInt16, sequence: UInt32
    ) {
        buffer.storeBytes(of: length, toByteOffset: NetlinkMessage.lengthOffset, as: UInt32.self)
        buffer.storeBytes(of: type, toByteOffset: NetlinkMessage.typeOffset, as: UInt16.self)
        buffer.storeBytes(of: flags, toByteOffset: NetlinkMessage.flagsOffset, as: UInt16.self)
        buffer.storeBytes(of: sequence, toByteOffset: NetlinkMessage.sequenceOffset, as: UInt32.self)
        buffer.storeBytes(of: port, toByteOffset: NetlinkMessage.portOffset, as: UInt32.self)
    }

    /// The attributes of a buffer, type (with its flag bits) and payload, walked here without
    /// the codec's reader.
    static func attributes(_ bytes: [UInt8]) -> [(type: UInt16, payload: [UInt8])] {
        var list: [(type: UInt16, payload: [UInt8])] = []
        var offset = 0
        while bytes.count - offset >= NetlinkAttribute.headerLength {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let type = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            guard length >= NetlinkAttribute.headerLength, length <= bytes.count - offset else { break }
            list.append((type, Array(bytes[(offset + NetlinkAttribute.headerLength)..<(offset + length)])))
            offset += NetlinkAttribute.aligned(length)
        }
        return list
    }

    static func joined(_ list: [(type: UInt16, payload: [UInt8])]) -> [UInt8] {
        var encoder = AttributeEncoder()
        for attribute in list { encoder.append(attribute.type, payload: attribute.payload) }
        return encoder.bytes
    }
}

/// What is wrong with bytes the client sent, if anything: they must be whole, padded netlink
/// requests of the family, each with a generic-netlink header of IPVS's version.
@_spi(Testing)
public func requestProblem(_ bytes: UnsafeRawBufferPointer, family: UInt16) -> String? {
    var problem: String?
    var count = 0
    let whole = NetlinkMessage.forEach(in: bytes) { header in
        count += 1
        if header.type != family { problem = problem ?? "a request of type \(header.type)" }
        if header.payload.count < NetlinkMessage.genericHeaderLength
            || bytes[header.payload.lowerBound + 1] != NetlinkMessage.ipvsVersion
        {
            problem = problem ?? "a request without the IPVS generic-netlink header"
        }
    }
    if !whole || count == 0 || bytes.count % NetlinkMessage.alignment != 0 {
        return "sent bytes that are not whole padded messages: \(hex(bytes))"
    }
    return problem
}

/// The bytes a codec request writes into a fresh encoder.
@_spi(Testing)
public func encoded(_ write: (inout AttributeEncoder) -> Void) -> [UInt8] {
    var encoder = AttributeEncoder()
    write(&encoder)
    return encoder.bytes
}
