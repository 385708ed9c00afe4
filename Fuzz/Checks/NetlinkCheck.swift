// The codec, the framing and the client are internal to IPVSNetlink; the checks reach them as
// its SPI `Testing`, in every build.
@_spi(Benchmark) @_spi(Testing) import IPVSNetlink
import IPVS
@_spi(Benchmark) @_spi(Testing) import IPVSTestSupport

/// `netlink`: raw bytes where the kernel's bytes go. The first byte picks what they are:
/// - even: one reply message's attributes, through every decoder (service, destination as
///   IPv4 and IPv6, info, timeouts, daemon, statistics as STATS64 and STATS), and as a datagram
///   through the framing (`NetlinkMessage.forEach`, `status`). Every decoder gives a value or
///   its typed error, never a trap; and the two attribute readers agree: the indexed
///   `AttributeSet` (look-ups, `types`, integer reads) and the one-pass `AttributeSet.forEach`
///   see the same attributes, the last copy of a type winning, at the top level and one nest
///   down.
/// - odd: a conversation. Then a count `n` (at most 15), `n` operations (services, real
///   servers, one service, timeouts, daemons, a change, a batch of changes), and the datagrams
///   the kernel "sends", each as a 16-bit little-endian length and its bytes. The client (IPVS
///   family 32, first sequence number 1, as in `Tests/IPVSNetlinkTests/Fixtures`; 512-byte
///   reads when bit 1 of the first byte is set) starts a `NetlinkBackend` and runs the
///   operations; when the datagrams run out, reads fail as a receive timeout does. Every
///   request it sends is whole netlink messages of the IPVS family, a batch of changes gets one
///   result per change, and nothing traps.
enum NetlinkCheck {
    static let family: UInt16 = 32

    static func run(_ input: [UInt8]) throws(FuzzFailure) {
        guard let mode = input.first else { return }
        if mode & 1 == 0 {
            try decoders(Array(input.dropFirst()))
        } else {
            try conversation(Array(input.dropFirst()), smallReads: mode & 2 != 0)
        }
    }

    // MARK: Decoders

    static func decoders(_ bytes: [UInt8]) throws(FuzzFailure) {
        let message = bytes[...]
        _ = try? IPVSCodec.decodeService(message: message)
        _ = try? IPVSCodec.decodeDestination(message: message, family: .inet)
        _ = try? IPVSCodec.decodeDestination(message: message, family: .inet6)
        _ = try? IPVSCodec.decodeInfo(message: message)
        _ = IPVSCodec.decodeTimeouts(message: message)
        _ = try? IPVSCodec.decodeDaemon(message: message)
        _ = IPVSCodec.decodeStats(stats64: message, stats32: nil)
        _ = IPVSCodec.decodeStats(stats64: nil, stats32: message)
        bytes.withUnsafeBytes { raw in
            _ = NetlinkMessage.forEach(in: raw) { header in
                let payload = UnsafeRawBufferPointer(rebasing: raw[header.payload])
                _ = NetlinkMessage.status(payload, required: true)
                _ = NetlinkMessage.status(payload, required: false)
                _ = try? IPVSCodec.decodeService(message: bytes[header.payload])
            }
        }
        try readersAgree(message, depth: 0)
    }

    /// The indexed reader and the one-pass reader see the same attributes.
    static func readersAgree(_ bytes: ArraySlice<UInt8>, depth: Int) throws(FuzzFailure) {
        let set = AttributeSet(bytes)
        var order: [UInt16] = []
        var last: [UInt16: Range<Int>] = [:]
        var lengthsAgree = true
        AttributeSet.forEach(in: bytes) { type, raw, range in
            order.append(type)
            last[type] = range
            if raw.count != range.count { lengthsAgree = false }
        }
        let context = "attributes \(hex(bytes))"
        try expect(lengthsAgree, "forEach gave a payload whose length is not its range's: \(context)")
        try expect(set.types == order, "types \(set.types) but forEach saw \(order): \(context)")
        for type in UInt16(0)..<40 {
            let scanned = last[type].map { bytes[$0] }
            try expect(set[type] == scanned, "attribute \(type): indexed \(String(describing: set[type])), scanned \(String(describing: scanned)): \(context)")
            let word: UInt32? = scanned.flatMap { payload in payload.withUnsafeBytes { $0.integer() } }
            try expect(set.u32(type) == word, "u32(\(type)) disagrees with the payload: \(context)")
            try expect(set.be16(type) == set.u16(type).map { $0.byteSwapped }, "be16(\(type)) is not u16 swapped: \(context)")
        }
        if depth == 0 {
            for range in last.values { try readersAgree(bytes[range], depth: 1) }
        }
    }

    // MARK: Conversation

    static let web = FakeKernel.World.someService

    static func conversation(_ bytes: [UInt8], smallReads: Bool) throws(FuzzFailure) {
        var reader = FuzzBytes(bytes)
        let operations = (0..<(Int(reader.u8()) & 15)).map { _ in reader.u8() }
        var datagrams: [[UInt8]] = []
        while !reader.isAtEnd {
            let length = Int(reader.u16())
            datagrams.append((0..<length).map { _ in reader.u8() })
        }
        let transport = ScriptedTransport(datagrams: datagrams, checkingSends: { requestProblem($0, family: family) })
        let client = NetlinkClient(
            transport: transport, family: family, port: 1, firstSequence: 1,
            readSize: smallReads ? 512 : NetlinkClient.initialReadSize)
        if let backend = try? NetlinkBackend(client: client) {
            var services: [VirtualService] = []
            for operation in operations {
                switch operation & 7 {
                case 0: services = (try? backend.services()) ?? services
                case 1: _ = try? backend.destinations(of: services.first ?? web)
                case 2: _ = try? backend.service(web.key)
                case 3: _ = try? backend.timeouts()
                case 4: _ = try? backend.daemons()
                case 5: _ = try? backend.apply(.addService(web))
                case 6: _ = try? backend.apply(.deleteService(web))
                default:
                    let count = (Int(operation >> 3) + 1) * 8
                    let changes = (0..<count).map { index in
                        Modification.addService(VirtualService(
                            key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a03_0000 + UInt32(index)), port: 80),
                            scheduler: "rr"))
                    }
                    let results = backend.perform(changes)
                    try expect(results.count == count, "perform of \(count) changes gave \(results.count) results")
                }
            }
        }
        try expect(transport.problems.isEmpty, transport.problems.joined(separator: "\n"))
    }
}
