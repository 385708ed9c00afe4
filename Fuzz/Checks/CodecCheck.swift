@_spi(Benchmark) @_spi(Testing) import IPVSNetlink
import IPVS
@_spi(Benchmark) @_spi(Testing) import IPVSTestSupport

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
        let owner = world.owner
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
            readSize: world.readSize ?? NetlinkClient.initialReadSize)
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
