/// The path probe's packets, as bytes (RFC 791 IPv4, RFC 793 TCP, RFC 2003 IP-in-IP), and the
/// reading of the replies. Pure functions over byte arrays: the unit tests compare them with
/// packets built independently.
///
/// Addresses and ports are given in host order (`IPAddress.ipv4`); the bytes are network order.
public enum PathPacket {
    /// TCP header flags.
    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let ack: UInt8 = 0x10

    /// IP protocol numbers.
    public static let protocolTCP: UInt8 = 6
    public static let protocolIPIP: UInt8 = 4

    /// The window a probe's SYN offers (any non-zero value; no data ever flows).
    static let window: UInt16 = 64240

    /// The 16-bit one's-complement sum of `bytes` (RFC 1071) added to `sum`, not yet folded;
    /// an odd last byte is padded with a zero.
    static func sum(_ bytes: ArraySlice<UInt8>, into sum: UInt32 = 0) -> UInt32 {
        var total = sum
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            total &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.endIndex { total &+= UInt32(bytes[index]) << 8 }
        return total
    }

    /// The Internet checksum of a folded `sum`: carries added back, one's complement.
    static func checksum(folding sum: UInt32) -> UInt16 {
        var total = sum
        while total > 0xffff { total = (total & 0xffff) + (total >> 16) }
        return ~UInt16(total)
    }

    /// The checksum of `bytes` alone (an IPv4 header).
    public static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt16 { checksum(folding: sum(bytes)) }

    static func put16(_ value: UInt16, _ bytes: inout [UInt8], at offset: Int) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    static func put32(_ value: UInt32, _ bytes: inout [UInt8], at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(i))) }
    }

    static func get16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    static func get32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(get16(bytes, offset)) << 16 | UInt32(get16(bytes, offset + 2))
    }

    /// A 20-byte IPv4 header (no options, DF set, TTL 64) for `payloadLength` bytes of
    /// `protocol`, its checksum filled in.
    static func ipv4Header(
        source: UInt32, destination: UInt32, protocol: UInt8, payloadLength: Int, identification: UInt16
    ) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 20)
        header[0] = 0x45                                        // version 4, 5 words
        put16(UInt16(20 + payloadLength), &header, at: 2)       // total length
        put16(identification, &header, at: 4)
        put16(0x4000, &header, at: 6)                           // don't fragment
        header[8] = 64                                          // TTL
        header[9] = `protocol`
        put32(source, &header, at: 12)
        put32(destination, &header, at: 16)
        put16(checksum(header[...]), &header, at: 10)
        return header
    }

    /// An IPv4 packet carrying a 20-byte TCP header (no options, no data) with `flags`: the
    /// probe's SYN (`flags: syn`) and the RST that closes the real server's half-open
    /// connection. Both checksums are filled in (TCP's over the pseudo-header).
    public static func tcp(
        source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16,
        sequence: UInt32, acknowledgment: UInt32 = 0, flags: UInt8, identification: UInt16
    ) -> [UInt8] {
        var segment = [UInt8](repeating: 0, count: 20)
        put16(sourcePort, &segment, at: 0)
        put16(destinationPort, &segment, at: 2)
        put32(sequence, &segment, at: 4)
        put32(acknowledgment, &segment, at: 8)
        segment[12] = 5 << 4                                    // data offset: 5 words
        segment[13] = flags
        put16(flags & rst != 0 ? 0 : window, &segment, at: 14)
        // Pseudo-header: source, destination, zero, protocol, TCP length.
        var pseudo = UInt32(source >> 16) &+ UInt32(source & 0xffff)
        pseudo &+= UInt32(destination >> 16) &+ UInt32(destination & 0xffff)
        pseudo &+= UInt32(protocolTCP) &+ UInt32(segment.count)
        put16(checksum(folding: sum(segment[...], into: pseudo)), &segment, at: 16)
        return ipv4Header(
            source: source, destination: destination, protocol: protocolTCP, payloadLength: segment.count,
            identification: identification) + segment
    }

    /// `inner` in an outer IPv4 header of protocol 4 (IP-in-IP, as IPVS's tunnel mode sends it).
    public static func ipip(source: UInt32, destination: UInt32, inner: [UInt8], identification: UInt16) -> [UInt8] {
        ipv4Header(
            source: source, destination: destination, protocol: protocolIPIP, payloadLength: inner.count,
            identification: identification) + inner
    }

    /// What the probe reads of a received TCP segment.
    public struct Segment: Equatable, Sendable {
        public var source: UInt32
        public var destination: UInt32
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        public var sequence: UInt32
        public var acknowledgment: UInt32
        public var flags: UInt8

        public init(
            source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32,
            acknowledgment: UInt32, flags: UInt8
        ) {
            self.source = source
            self.destination = destination
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
            self.sequence = sequence
            self.acknowledgment = acknowledgment
            self.flags = flags
        }
    }

    /// The TCP segment in an IPv4 packet (starting at its IP header), or nil for anything else:
    /// not IPv4, not TCP, a fragment other than the first, or too short for the headers it
    /// announces. Checksums are not verified: the receiving interface has done it (or will,
    /// with checksum offload, before the kernel's own stack sees the packet).
    public static func segment(in packet: UnsafeRawBufferPointer) -> Segment? {
        guard packet.count >= 20, packet[0] >> 4 == 4, packet[9] == protocolTCP else { return nil }
        let headerLength = Int(packet[0] & 0x0f) * 4
        let totalLength = Int(get16(packet, 2))
        guard headerLength >= 20, get16(packet, 6) & 0x1fff == 0, totalLength <= packet.count,
              totalLength >= headerLength + 20
        else { return nil }
        let tcp = headerLength
        return Segment(
            source: get32(packet, 12), destination: get32(packet, 16),
            sourcePort: get16(packet, tcp), destinationPort: get16(packet, tcp + 2),
            sequence: get32(packet, tcp + 4), acknowledgment: get32(packet, tcp + 8), flags: packet[tcp + 13])
    }

    /// The verdict a reply gives on a SYN sent with `sequence`: `.passed` for a SYN-ACK
    /// acknowledging it, `.refused` for a RST acknowledging it (a SYN has no ACK, so its reset
    /// carries one, RFC 793 3.4), nil for anything else (a stray, or a late segment of an
    /// earlier probe that used the same port: the random sequence number tells them apart).
    public static func verdict(of reply: Segment, sequence: UInt32) -> PathProbe.Outcome? {
        guard reply.flags & ack != 0, reply.acknowledgment == sequence &+ 1 else { return nil }
        if reply.flags & rst != 0 { return .refused }
        if reply.flags & syn != 0 { return .passed }
        return nil
    }
}
