#if DEBUG
@_spi(Benchmark) @testable import IPVSNetlink
import IPVS
@_spi(Benchmark) import IPVSTestSupport

/// `codec`: the bytes make values (the kernel's info, services, real servers of one service,
/// timeouts, sync daemons, the kernel's answer to each change, how it groups dump messages into
/// datagrams, how much the client reads at a time, the first sequence number). Then:
/// - each request encoder's bytes decode to the value encoded, where request and reply share
///   their layout (services, real servers with the reply-only counters added, daemons,
///   timeouts): `IPVSCodec.decode*(message: IPVSCodec.*Request(x)) == x`;
/// - through `NetlinkClient` and `NetlinkBackend`, talking to `FakeKernel`, which answers every
///   request with those values encoded as the kernel replies (a dump grouped into datagrams as
///   the input says, a datagram longer than the client's reads cut as the kernel cuts it), the
///   backend reads back exactly those values, one service per key, and every change gets the
///   answer the kernel gave it (an errno is a negated number in 1...4095, anything else in the
///   error field is a protocol error).
enum CodecCheck {
    static func run(_ input: [UInt8]) throws(FuzzFailure) {
        var reader = FuzzBytes(input)
        var world = FakeKernel.World()
        world.readSize = [NetlinkClient.initialReadSize, 256, 512, 1500][reader.below(4)]
        world.grouping = (0..<3).map { _ in 1 + reader.below(4) }
        world.firstSequence = reader.bool() ? reader.u32() : 1
        world.info = IPVSInfo(version: reader.u32(), connectionTableSize: reader.u32())
        world.services = (0..<reader.below(6)).map { _ in Values.service(&reader) }
        world.servicesEnd = reader.below(8) == 0 ? Values.errorField(&reader) : 0
        let owner = world.services.first ?? NetlinkCheck.web
        world.oldKernel = reader.below(8) == 0
        world.destinations = (0..<reader.below(6)).map { _ in
            let family = world.oldKernel ? owner.key.family : reader.family()
            return Values.destination(&reader, family: family)
        }
        world.timeouts = Timeouts(tcp: reader.u32(), tcpFin: reader.u32(), udp: reader.u32())
        world.omittedTimeouts = reader.u8() & 7
        world.daemons = (0..<reader.below(3)).map { _ in Values.daemon(&reader) }
        world.answers = (0..<1 + reader.below(4)).map { _ in Values.errorField(&reader) }

        try requestsDecode(world, owner: owner)
        try backendReads(world, owner: owner)
    }

    // MARK: Encoders against decoders

    static func requestsDecode(_ world: FakeKernel.World, owner: VirtualService) throws(FuzzFailure) {
        for service in world.services {
            // A request carries no counters.
            var expected = Values.sent(service)
            expected.stats = Statistics()
            let decoded = try? IPVSCodec.decodeService(message: encoded { IPVSCodec.serviceRequest(service, into: &$0) }[...])
            try expect(decoded == expected, "service \(service) decoded as \(String(describing: decoded))")
        }
        for destination in world.destinations {
            let reply = FakeKernel.destinationReply(destination, of: owner, oldKernel: false)
            let decoded = try? IPVSCodec.decodeDestination(message: reply[...], family: owner.key.family)
            try expect(decoded == destination, "real server \(destination) decoded as \(String(describing: decoded))")
        }
        for daemon in world.daemons {
            let decoded = try? IPVSCodec.decodeDaemon(message: encoded { IPVSCodec.startDaemonRequest(daemon, into: &$0) }[...])
            try expect(decoded == daemon, "daemon \(daemon) decoded as \(String(describing: decoded))")
        }
        let timeouts = IPVSCodec.decodeTimeouts(message: encoded { IPVSCodec.timeoutsRequest(world.timeouts, into: &$0) }[...])
        try expect(timeouts == world.timeouts, "timeouts \(world.timeouts) decoded as \(timeouts)")
    }

    // MARK: The client and backend against a fake kernel

    /// - Parameter served: what the fake kernel sends, if not `world` (tests of the check).
    static func backendReads(
        _ world: FakeKernel.World, owner: VirtualService, served: FakeKernel.World? = nil
    ) throws(FuzzFailure) {
        let kernel = FakeKernel(served ?? world)
        let client = NetlinkClient(
            transport: kernel, family: FakeKernel.family, port: FakeKernel.port, firstSequence: world.firstSequence,
            readSize: world.readSize)
        let backend: NetlinkBackend
        do {
            backend = try NetlinkBackend(client: client)
        } catch {
            throw FuzzFailure("the backend did not start: \(error) (\(kernel.log))")
        }
        try expect((try? backend.info()) == world.info, "info \(String(describing: try? backend.info())), sent \(world.info)")

        let services = Result { () throws(IPVSError) in try backend.services() }
        var seen = Set<ServiceKey>()
        let unique = world.services.filter { seen.insert($0.key).inserted }.map(Values.sent)
        let expectedServices: Result<[VirtualService], IPVSError> = Values.errno(world.servicesEnd)
            .map { .failure(IPVSError(.getServices, errno: $0)) } ?? .success(unique)
        try expect(services == expectedServices, "services \(services), sent \(expectedServices) (\(kernel.log))")

        let destinations = Result { () throws(IPVSError) in try backend.destinations(of: owner) }
        try expect(
            destinations == .success(world.destinations),
            "real servers \(destinations), sent \(world.destinations) (\(kernel.log))")

        if let wanted = world.services.last {
            let single = Result { () throws(IPVSError) in try backend.service(wanted.key) }
            let first = world.services.first { $0.key == wanted.key }.map(Values.sent)
            try expect(single == first.map { .success($0) }, "service \(wanted.key): \(single), sent \(String(describing: first))")
        }

        let timeouts = Result { () throws(IPVSError) in try backend.timeouts() }
        var expectedTimeouts = world.timeouts
        if world.omittedTimeouts & 1 != 0 { expectedTimeouts.tcp = 0 }
        if world.omittedTimeouts & 2 != 0 { expectedTimeouts.tcpFin = 0 }
        if world.omittedTimeouts & 4 != 0 { expectedTimeouts.udp = 0 }
        try expect(timeouts == .success(expectedTimeouts), "timeouts \(timeouts), sent \(expectedTimeouts)")

        let daemons = Result { () throws(IPVSError) in try backend.daemons() }
        try expect(daemons == .success(world.daemons), "daemons \(daemons), sent \(world.daemons)")

        var changes: [Modification] = world.services.map { .addService($0) }
        changes += world.destinations.map { .addDestination($0, to: owner) }
        changes += world.daemons.map { .startDaemon($0) }
        changes += [.setTimeouts(world.timeouts), .flush, .zero(nil)]
        let results = backend.perform(changes)
        let expected = changes.indices.map { index in
            Values.errno(world.answers[index % world.answers.count]).map { IPVSError(changes[index].operation, errno: $0) }
        }
        try expect(results == expected, "answers \(results), sent \(expected) (\(kernel.log))")

        let single = Result { () throws(IPVSError) in try backend.apply(.deleteService(owner)) }
        let answer = Values.errno(world.answers[changes.count % world.answers.count])
        try expect(
            single.error == answer.map { IPVSError(.deleteService, errno: $0) },
            "delete answered \(single), sent \(String(describing: answer))")
        try expect(kernel.problems.isEmpty, kernel.problems.joined(separator: "\n"))
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Values made from fuzz bytes.
enum Values {
    static func service(_ reader: inout FuzzBytes) -> VirtualService {
        let family = reader.family()
        let key: ServiceKey = reader.bool()
            ? .firewallMark(reader.u32(), family: family)
            : .address(protocol: IPProtocolNumber(rawValue: reader.u16()), address: reader.address(family), port: reader.u16())
        var service = VirtualService(
            key: key, scheduler: reader.name(maximum: 15), flags: ServiceFlags(rawValue: reader.u32()),
            timeout: reader.u32(), netmask: reader.u32(), persistenceEngine: reader.name(maximum: 16))
        service.stats = statistics(&reader)
        return service
    }

    /// What a service reads back as once sent: HASHED is the kernel's, never sent.
    static func sent(_ service: VirtualService) -> VirtualService {
        var copy = service
        copy.flags.subtract(.hashed)
        return copy
    }

    static func destination(_ reader: inout FuzzBytes, family: AddressFamily) -> Destination {
        Destination(
            address: reader.address(family), port: reader.u16(), forwarding: ForwardingMethod(rawValue: reader.u32()),
            weight: Int32(bitPattern: reader.u32()), upperThreshold: reader.u32(), lowerThreshold: reader.u32(),
            tunnelType: TunnelType(rawValue: reader.u8()), tunnelPort: reader.u16(),
            tunnelFlags: TunnelFlags(rawValue: reader.u16()), activeConnections: reader.u32(),
            inactiveConnections: reader.u32(), persistentConnections: reader.u32(), stats: statistics(&reader))
    }

    static func daemon(_ reader: inout FuzzBytes) -> SyncDaemon {
        let state: SyncDaemon.State = reader.bool() ? .backup : .master
        let group: IPAddress?
        switch reader.below(3) {
        case 0: group = nil
        case 1: group = reader.address(.inet)
        default: group = reader.address(.inet6)
        }
        return SyncDaemon(
            state: state, interface: reader.name(maximum: 15), syncID: reader.u32(), maxLength: reader.u16(),
            group: group, port: reader.u16(), ttl: reader.u8())
    }

    /// Counters, and how the kernel sends them: `kind` 0 none, 1 STATS64, 2 STATS (32-bit
    /// counters, 64-bit bytes), 3 both. The values are what decoding should give.
    static func statistics(_ reader: inout FuzzBytes) -> Statistics {
        var stats = Statistics()
        stats.connections = reader.u64()
        stats.inPackets = reader.u64()
        stats.outPackets = reader.u64()
        stats.inBytes = reader.u64()
        stats.outBytes = reader.u64()
        stats.connectionRate = reader.u64()
        stats.inPacketRate = reader.u64()
        stats.outPacketRate = reader.u64()
        stats.inByteRate = reader.u64()
        stats.outByteRate = reader.u64()
        return stats
    }

    /// The `int` of an `NLMSG_ERROR` or `NLMSG_DONE`: mostly success, often a real errno,
    /// sometimes anything.
    static func errorField(_ reader: inout FuzzBytes) -> Int32 {
        switch reader.below(8) {
        case 0, 1, 2, 3: return 0
        case 4: return -Errno.fileExists.rawValue
        case 5: return -Errno.noSuchProcess.rawValue
        case 6: return -Int32(1 + reader.below(200))
        default: return Int32(bitPattern: reader.u32())
        }
    }

    /// What the client makes of an error field: nil for 0, the errno of -1...-4095, else a
    /// protocol error.
    static func errno(_ field: Int32) -> Errno? {
        if field == 0 { return nil }
        if (-4095)...(-1) ~= field { return Errno(rawValue: -field) }
        return .protocolError
    }
}

/// The kernel's side of the generic-netlink conversation, answering from a `World`: requests
/// are read as the kernel reads them, replies built as it builds them (a data message per
/// entry, `NLMSG_DONE` at the end of a dump, an acknowledgement per request) and delivered a
/// datagram per read, grouped as IPVS on Linux 6.1 groups them: dump messages several to a
/// datagram, `NLMSG_DONE` and every acknowledgement alone.
final class FakeKernel: NetlinkTransport {
    static let family: UInt16 = 32
    static let port: UInt32 = 7

    struct World {
        var readSize = NetlinkClient.initialReadSize
        /// Messages per datagram of a dump, in turn.
        var grouping = [1]
        var firstSequence: UInt32 = 1
        var info = IPVSInfo(version: 0, connectionTableSize: 0)
        var services: [VirtualService] = []
        /// The error field of the services dump's `NLMSG_DONE`.
        var servicesEnd: Int32 = 0
        var destinations: [Destination] = []
        /// Real servers without their own family attribute (kernels before 3.18).
        var oldKernel = false
        var timeouts = Timeouts(tcp: 0, tcpFin: 0, udp: 0)
        /// Bits 0, 1, 2: the TCP, TCP FIN, UDP timeout is left out of the reply.
        var omittedTimeouts: UInt8 = 0
        var daemons: [SyncDaemon] = []
        /// The error field of each change's acknowledgement, in turn.
        var answers: [Int32] = [0]
    }

    private let world: World
    private var queue: [[UInt8]] = []
    private var delivered = 0
    private var answered = 0
    private var groups = 0
    private(set) var problems: [String] = []
    /// Commands received, for messages.
    private(set) var log: [UInt8] = []

    init(_ world: World) { self.world = world }

    func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        if let problem = requestProblem(bytes, family: FakeKernel.family) {
            problems.append(problem)
            return
        }
        _ = NetlinkMessage.forEach(in: bytes) { header in
            let start = header.payload.lowerBound - NetlinkMessage.headerLength
            let flags = bytes.loadUnaligned(fromByteOffset: start + NetlinkMessage.flagsOffset, as: UInt16.self)
            let request = Array(bytes[start..<(start + NetlinkMessage.headerLength)])
            let command = bytes[header.payload.lowerBound]
            let attributes = Array(bytes[(header.payload.lowerBound + NetlinkMessage.genericHeaderLength)..<header.payload.upperBound])
            log.append(command)
            answer(command, dump: flags & 0x300 == 0x300, sequence: header.sequence, request: request, attributes: attributes)
        }
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard delivered < queue.count else { throw .resourceTemporarilyUnavailable }
        delivered += 1
        return deliver(queue[delivered - 1], into: buffer)
    }

    private func answer(_ command: UInt8, dump: Bool, sequence: UInt32, request: [UInt8], attributes: [UInt8]) {
        func data(_ reply: IPVSCommand, _ payload: [UInt8]) -> [UInt8] {
            FakeKernel.message(type: FakeKernel.family, flags: dump ? 2 : 0, sequence: sequence,
                               payload: [reply.rawValue, NetlinkMessage.ipvsVersion, 0, 0] + payload)
        }
        func end(_ messages: [[UInt8]], status: Int32 = 0) {
            deliverGrouped(messages)
            // IPVS's dump callbacks return the bytes they added, so the netlink core sends
            // NLMSG_DONE after a call that added nothing: in a datagram of its own.
            queue.append(FakeKernel.message(type: NetlinkMessage.typeDone, flags: 2, sequence: sequence, payload: FakeKernel.int(status)))
        }
        func reply(_ message: [UInt8]) {
            queue.append(message)
            queue.append(acknowledgement(sequence, 0, request))
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
            let key = (try? IPVSCodec.decodeService(message: attributes[...]))?.key
            if let service = world.services.first(where: { $0.key == key }) {
                reply(data(.newService, FakeKernel.serviceReply(service)))
            } else {
                queue.append(acknowledgement(sequence, -Errno.noSuchProcess.rawValue, request))
            }
        case .getDestination?:
            let owner = world.services.first ?? NetlinkCheck.web
            end(world.destinations.map { data(.newDestination, FakeKernel.destinationReply($0, of: owner, oldKernel: world.oldKernel)) })
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
            queue.append(acknowledgement(sequence, field, request))
        }
    }

    /// Messages into datagrams, as many per datagram as `grouping` says in turn.
    private func deliverGrouped(_ messages: [[UInt8]]) {
        var index = 0
        while index < messages.count {
            let count = world.grouping[groups % world.grouping.count]
            groups += 1
            queue.append(messages[index..<min(index + count, messages.count)].flatMap { $0 })
            index += count
        }
    }

    /// `NLMSG_ERROR`: the error field, then the request's header (NETLINK_CAP_ACK).
    private func acknowledgement(_ sequence: UInt32, _ field: Int32, _ request: [UInt8]) -> [UInt8] {
        FakeKernel.message(type: NetlinkMessage.typeError, flags: 0x100, sequence: sequence, payload: FakeKernel.int(field) + request)
    }

    // MARK: Replies

    /// A service as the kernel sends it: the request's nest, and the counters.
    static func serviceReply(_ service: VirtualService) -> [UInt8] {
        var top = attributes(encoded { IPVSCodec.serviceRequest(service, into: &$0) })
        top[0].payload += statistics(service.stats, stats64: ServiceAttribute.stats64, stats: ServiceAttribute.stats)
        return joined(top)
    }

    /// A real server as the kernel sends it: the request's real-server nest alone, with the
    /// connection counters and statistics; an old kernel sends no family of its own.
    static func destinationReply(_ d: Destination, of service: VirtualService, oldKernel: Bool) -> [UInt8] {
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
        let narrow = counters.enumerated().allSatisfy { index, value in index == 3 || index == 4 || value <= UInt64(UInt32.max) }
        var encoder = AttributeEncoder()
        let zero = counters.allSatisfy { $0 == 0 }
        if !zero && (!narrow || s.connections & 1 == 0) {
            encoder.nest(stats64) { nest in
                for (index, value) in counters.enumerated() { nest.append(UInt16(index + 1), u64: value) }
            }
        }
        if !zero && narrow {
            encoder.nest(stats) { nest in
                for (index, value) in counters.enumerated() {
                    if index == 3 || index == 4 { nest.append(UInt16(index + 1), u64: value) } else {
                        nest.append(UInt16(index + 1), u32: UInt32(value))
                    }
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

    /// The attributes of a buffer, type (with its flag bits) and payload, walked here without
    /// the codec's reader.
    static func attributes(_ bytes: [UInt8]) -> [(type: UInt16, payload: [UInt8])] {
        var list: [(type: UInt16, payload: [UInt8])] = []
        var offset = 0
        while bytes.count - offset >= 4 {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let type = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            guard length >= 4, length <= bytes.count - offset else { break }
            list.append((type, Array(bytes[(offset + 4)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
        return list
    }

    static func joined(_ list: [(type: UInt16, payload: [UInt8])]) -> [UInt8] {
        var encoder = AttributeEncoder()
        for attribute in list { encoder.append(attribute.type, payload: attribute.payload) }
        return encoder.bytes
    }
}

/// The bytes a codec request writes into a fresh encoder.
private func encoded(_ write: (inout AttributeEncoder) -> Void) -> [UInt8] {
    var encoder = AttributeEncoder()
    write(&encoder)
    return encoder.bytes
}
#endif
