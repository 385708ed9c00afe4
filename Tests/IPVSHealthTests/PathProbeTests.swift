import Glibc
import IPVS
import Testing
@testable import IPVSHealth

// The path probe's packets and the reading of replies (Sources/IPVSHealth/PathPacket.swift,
// PathRoute.swift). The expected bytes were built independently, with Python's struct module
// and an RFC 1071 checksum written for the purpose (not with this code).

private func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

private let dip: UInt32 = 0xc0a8_38b5      // 192.168.56.181, the director
private let vip: UInt32 = 0xc0a8_38b9      // 192.168.56.185
private let rip: UInt32 = 0xc0a8_38b7      // 192.168.56.183, a real server

private let syn = hex("450000281c46400040062bcbc0a838b5c0a838b9ef32005012345678000000005002faf06a030000")

@Suite struct PathPacketTests {
    @Test func synBytesAndChecksums() {
        let packet = PathPacket.tcp(
            source: dip, destination: vip, sourcePort: 61234, destinationPort: 80, sequence: 0x1234_5678,
            flags: PathPacket.syn, identification: 0x1c46)
        #expect(packet == syn)
        // A header with its checksum in sums to zero.
        #expect(PathPacket.checksum(packet[0..<20]) == 0)
    }

    @Test func resetBytes() {
        let packet = PathPacket.tcp(
            source: dip, destination: vip, sourcePort: 65535, destinationPort: 443, sequence: 0xffff_fffe,
            flags: PathPacket.rst, identification: 0xabcd)
        #expect(packet == hex("45000028abcd400040069c43c0a838b5c0a838b9ffff01bbfffffffe0000000050040000bb670000"))
    }

    @Test func ipipBytes() {
        let packet = PathPacket.ipip(source: dip, destination: rip, inner: syn, identification: 0x0102)
        #expect(packet == hex("4500003c01024000400446ffc0a838b5c0a838b7") + syn)
    }

    @Test func oddLengthChecksumPadsWithZero() {
        // RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2 (checksum 220d); one more byte 0x01
        // counts as 0100.
        #expect(PathPacket.checksum(hex("0001f203f4f5f6f7")[...]) == 0x220d)
        #expect(PathPacket.checksum(hex("0001f203f4f5f6f701")[...]) == 0x210d)
    }

    /// A SYN-ACK from VIP:80 to the director's probe port 61234, IP header with 4 bytes of
    /// options, TCP with an MSS option.
    static let synAck = hex(
        "46000030000040003f064607c0a838b9c0a838b5010101010050ef32deadbeef123456796012fe8800000000020405b4")

    private func segment(_ bytes: [UInt8]) -> PathPacket.Segment? {
        bytes.withUnsafeBytes { PathPacket.segment(in: $0) }
    }

    @Test func readsASynAckPastIPOptions() throws {
        let reply = try #require(segment(Self.synAck))
        #expect(reply == PathPacket.Segment(
            source: vip, destination: dip, sourcePort: 80, destinationPort: 61234, sequence: 0xdead_beef,
            acknowledgment: 0x1234_5679, flags: 0x12))
        #expect(PathPacket.verdict(of: reply, sequence: 0x1234_5678) == .passed)
        // The same reply does not answer a probe with another sequence number.
        #expect(PathPacket.verdict(of: reply, sequence: 0x1234_5679) == nil)
    }

    @Test func verdicts() {
        var reply = PathPacket.Segment(
            source: vip, destination: dip, sourcePort: 80, destinationPort: 61234, sequence: 0,
            acknowledgment: 101, flags: PathPacket.rst | PathPacket.ack)
        #expect(PathPacket.verdict(of: reply, sequence: 100) == .refused)
        reply.flags = PathPacket.rst                    // a RST without ACK answers no SYN
        #expect(PathPacket.verdict(of: reply, sequence: 100) == nil)
        reply.flags = PathPacket.ack                    // a bare ACK
        #expect(PathPacket.verdict(of: reply, sequence: 100) == nil)
        reply.flags = PathPacket.syn                    // a SYN (simultaneous open): no
        #expect(PathPacket.verdict(of: reply, sequence: 100) == nil)
        reply.flags = PathPacket.syn | PathPacket.ack
        #expect(PathPacket.verdict(of: reply, sequence: 100) == .passed)
        reply.acknowledgment = 0                        // sequence wraps: 0xffffffff + 1
        #expect(PathPacket.verdict(of: reply, sequence: 0xffff_ffff) == .passed)
    }

    @Test func ignoresWhatIsNotAWholeTCPHeader() {
        var fragment = Self.synAck
        fragment[7] = 0x10                              // fragment offset 16
        #expect(segment(fragment) == nil)
        var udp = Self.synAck
        udp[9] = 17
        #expect(segment(udp) == nil)
        #expect(segment(Array(Self.synAck.prefix(40))) == nil)      // shorter than its total length
        var ipv6 = Self.synAck
        ipv6[0] = 0x60
        #expect(segment(ipv6) == nil)
        var shortHeader = Self.synAck
        shortHeader[0] = 0x44                           // IHL 4: not a valid header
        #expect(segment(shortHeader) == nil)
    }
}

/// The reply socket's kernel filter, run by a small classic-BPF interpreter (the opcodes the
/// filter uses, with the kernel's rule that a load out of the packet drops it).
@Suite struct ReplyFilterTests {
    private func accepts(_ packet: [UInt8]) -> Bool {
        var a: UInt32 = 0
        var x: UInt32 = 0
        var pc = 0
        let program = PathProbe.replyFilter
        func load(_ offset: Int, _ size: Int) -> UInt32? {
            guard offset >= 0, offset + size <= packet.count else { return nil }
            return packet[offset..<(offset + size)].reduce(0) { $0 << 8 | UInt32($1) }
        }
        while pc < program.count {
            let (code, jt, jf, k) = program[pc]
            pc += 1
            switch code {
            case 0x30: guard let v = load(Int(k), 1) else { return false }; a = v
            case 0x28: guard let v = load(Int(k), 2) else { return false }; a = v
            case 0x50: guard let v = load(Int(x + k), 1) else { return false }; a = v
            case 0x48: guard let v = load(Int(x + k), 2) else { return false }; a = v
            case 0xb1: guard let v = load(Int(k), 1) else { return false }; x = (v & 0xf) * 4
            case 0x54: a &= k
            case 0x15: pc += Int(a == k ? jt : jf)
            case 0x35: pc += Int(a >= k ? jt : jf)
            case 0x45: pc += Int(a & k != 0 ? jt : jf)
            case 0x06: return k > 0
            default: Issue.record("opcode \(code) not interpreted"); return false
            }
        }
        Issue.record("the filter fell off its end")
        return false
    }

    @Test func passesSynAcksAndResetsToProbePortsOnly() {
        let synAck = PathPacketTests.synAck         // IP header 24 bytes: TCP flags at 37
        #expect(accepts(synAck))
        var reset = synAck
        reset[37] = PathPacket.rst | PathPacket.ack
        #expect(accepts(reset))
        reset[37] = PathPacket.rst
        #expect(accepts(reset))
        var ack = synAck
        ack[37] = PathPacket.ack
        #expect(!accepts(ack))
        var synOnly = synAck
        synOnly[37] = PathPacket.syn
        #expect(!accepts(synOnly))
        var lowPort = synAck
        lowPort[26] = 0xee; lowPort[27] = 0x47          // 60999: the kernel's ephemeral range
        #expect(!accepts(lowPort))
        var fragment = synAck
        fragment[7] = 0x10
        #expect(!accepts(fragment))
        var udp = synAck
        udp[9] = 17
        #expect(!accepts(udp))
        // Our own SYN (no options, to port 80) is not a reply.
        #expect(!accepts(syn))
    }
}

@Suite struct RouteNetlinkTests {
    @Test func routeRequestLayout() {
        let request = RouteNetlink.routeRequest(to: 0xc000_0207, sequence: 7)
        // Recorded: what `ip route get 192.0.2.7` sends, in little-endian host order.
        #expect(request == hex("240000001a000100070000000000000002200000000000000000000008000100c0000207"))
    }

    private func answer(_ text: String, sequence: UInt32) -> RouteNetlink.Answer? {
        hex(text).withUnsafeBytes { RouteNetlink.routeAnswer($0, sequence: sequence) }
    }

    // Recorded from a kernel (6.1): `ip route get` of an on-link address, of 127.0.0.1, and of an
    // address behind the default gateway 192.0.2.1 (eth0, ifindex 4, source 192.0.2.2).
    @Test func readsRecordedAnswers() {
        let onLink = "6800000018000000070000009654000002200000fe0000010002000008000f00fe00000008000100c0000207080004000400000008000700c0000202080019000000000024000c000200000000000000000000000000000000000000000000000000000000000000"
        #expect(answer(onLink, sequence: 7) == .route(.init(type: 1, interface: 4, gateway: nil, source: 0xc000_0202)))
        #expect(answer(onLink, sequence: 8) == nil)
        let local = "6800000018000000080000009654000002200000fe0000020002008008000f00fe000000080001007f0000010800040001000000080007007f000001080019000000000024000c00020000005a851100000000000000000000000000000000000000000000000000"
        #expect(answer(local, sequence: 8) == .route(.init(type: 2, interface: 1, gateway: nil, source: 0x7f00_0001)))
        let viaGateway = "7000000018000000090000009654000002200000fe0000010002000008000f00fe0000000800010008080808080004000400000008000700c000020208000500c0000201080019000000000024000c000200000050851100000000000000000000000000000000000000000000000000"
        #expect(answer(viaGateway, sequence: 9) == .route(.init(type: 1, interface: 4, gateway: 0xc000_0201, source: 0xc000_0202)))
    }

    @Test func readsAnError() {
        // NLMSG_ERROR, error -101 (ENETUNREACH), then the request's header.
        let error = "240000000200000007000000000000009bffffff240000001a0001000700000000000000"
        #expect(answer(error, sequence: 7) == .error(ENETUNREACH))
    }

    private func events(_ text: String) -> [RouteNetlink.Neighbour] {
        hex(text).withUnsafeBytes { RouteNetlink.neighbourEvents($0) }
    }

    @Test func readsNeighbourEvents() {
        // RTM_NEWNEIGH, AF_INET, ifindex 3, NUD_REACHABLE, NDA_DST 192.168.56.183, NDA_LLADDR
        // 02:00:00:00:01:83.
        #expect(events("300000001c000000000000000000000002000000030000000200000108000100c0a838b70a0002000200000001830000")
            == [.init(interface: 3, address: rip, link: 0x0200_0000_0183)])
        // RTM_DELNEIGH for 192.168.56.184.
        #expect(events("240000001d000000000000000000000002000000030000000000000108000100c0a838b8")
            == [.init(interface: 3, address: 0xc0a8_38b8, link: nil)])
        // NUD_INCOMPLETE: no usable address even with an NDA_LLADDR.
        #expect(events("300000001c000000000000000000000002000000030000000100000108000100c0a838b70a0002000200000001830000")
            == [.init(interface: 3, address: rip, link: nil)])
    }

    @Test func readsTheARPTable() {
        let text = """
            IP address       HW type     Flags       HW address            Mask     Device
            192.168.56.183   0x1         0x2         02:00:00:00:01:83     *        lo
            192.168.56.184   0x1         0x0         00:00:00:00:00:00     *        lo
            192.168.56.186   0x1         0x6         02:00:00:00:01:86     *        lo
            192.168.56.187   0x1         0x2         02:00:00:00:01:87     *        no-such-interface

            """
        let lo = Int32(bitPattern: if_nametoindex("lo"))
        #expect(RouteNetlink.arpTable(text) == [
            NeighbourKey(interface: lo, address: rip): 0x0200_0000_0183,
            NeighbourKey(interface: lo, address: 0xc0a8_38ba): 0x0200_0000_0186,
        ])
    }
}

@Suite struct PathProbeRequestTests {
    private func request(_ words: String) -> PathProbe.Request? {
        PathProbe.Request(words.split(separator: " ").map(String.init))
    }

    @Test func readsTheOneShotsArguments() throws {
        let dr = try #require(request("192.168.56.185:80 192.168.56.183 dr"))
        #expect(dr.vip == IPAddress(ipv4: vip) && dr.port == 80 && dr.realServer == IPAddress(ipv4: rip))
        #expect(dr.method == .directRouting && dr.timeout == 3)
        let tun = try #require(request("192.168.56.185:443 192.168.56.183:443 -i 1.5"))
        #expect(tun.method == .tunnel && tun.port == 443 && tun.timeout == 1.5)
        for bad in ["192.168.56.185 192.168.56.183 dr", "192.168.56.185:80 192.168.56.183 nat",
                    "192.168.56.185:0 192.168.56.183 dr", "192.168.56.185:80 rs1 dr",
                    "192.168.56.185:80 192.168.56.183 dr 0", "192.168.56.185:80 192.168.56.183"] {
            #expect(request(bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6IsRefusedAtOnce() throws {
        // Needs CAP_NET_RAW to open its sockets; skipped where it is missing.
        guard let probe = try? PathProbe() else { return }
        let v6 = try #require(IPAddress.parse("2001:db8::1", with: IPAddress.parseIPv6))
        #expect(probe.send(token: 1, vip: v6, port: 80, realServer: v6, method: .directRouting, deadline: 0)
            == .failed("IPv4 only"))
    }
}

@Suite struct PathProbeBookTests {
    private func probe(_ token: Int, localPort: UInt16, sequence: UInt32, deadline: Double = 10,
                       method: PathProbe.Method = .directRouting, link: UInt64? = 0x0200_0000_0183) -> PathProbeBook.Probe {
        PathProbeBook.Probe(
            token: token, vip: vip, port: 80, realServer: rip, method: method, deadline: deadline, source: dip,
            localPort: localPort, sequence: sequence, interface: 3, nextHop: rip, link: link, lastSent: 0)
    }

    private func reply(to localPort: UInt16, ack: UInt32, flags: UInt8 = PathPacket.syn | PathPacket.ack,
                       from source: UInt32 = vip, port: UInt16 = 80) -> PathPacket.Segment {
        PathPacket.Segment(
            source: source, destination: dip, sourcePort: port, destinationPort: localPort, sequence: 7,
            acknowledgment: ack, flags: flags)
    }

    @Test func repliesFindTheirProbe() throws {
        var book = PathProbeBook()
        book.store(probe(1, localPort: 61000, sequence: 100))
        book.store(probe(2, localPort: 61001, sequence: 200))
        // Another VIP, another port, a wrong acknowledgment: not ours.
        #expect(book.match(reply(to: 61000, ack: 101, from: 0xc0a8_38ba)) == nil)
        #expect(book.match(reply(to: 61000, ack: 101, port: 81)) == nil)
        #expect(book.match(reply(to: 61000, ack: 201)) == nil)
        let refusedMatch = book.match(reply(to: 61001, ack: 201, flags: PathPacket.rst | PathPacket.ack))
        let refused = try #require(refusedMatch)
        #expect(refused.probe.token == 2 && refused.outcome == .refused)
        let passedMatch = book.match(reply(to: 61000, ack: 101))
        let passed = try #require(passedMatch)
        #expect(passed.probe.token == 1 && passed.outcome == .passed)
        // Each probe finishes once: a retransmitted SYN-ACK finds nothing.
        #expect(book.match(reply(to: 61000, ack: 101)) == nil)
        #expect(book.probes.isEmpty)
    }

    @Test func aTokenSentAgainReplacesItsProbe() {
        var book = PathProbeBook()
        book.store(probe(1, localPort: 61000, sequence: 100))
        book.store(probe(1, localPort: 61002, sequence: 300))
        #expect(book.match(reply(to: 61000, ack: 101)) == nil)
        #expect(book.match(reply(to: 61002, ack: 301))?.outcome == .passed)
    }

    @Test func expiresByDeadlineAndTracksTheWaitForAMAC() {
        var book = PathProbeBook()
        book.store(probe(1, localPort: 61000, sequence: 1, deadline: 5))
        book.store(probe(2, localPort: 61001, sequence: 2, deadline: 6, link: nil))
        book.store(probe(3, localPort: 61002, sequence: 3, deadline: 9, method: .tunnel, link: nil))
        #expect(book.waitingForLink == [2])
        #expect(book.expire(now: 4.9).isEmpty)
        #expect(book.expire(now: 6).map(\.token).sorted() == [1, 2])
        #expect(book.waitingForLink.isEmpty && book.probes.keys.sorted() == [3])
    }

    @Test func freePortSkipsPortsInUse() {
        var book = PathProbeBook()
        book.store(probe(1, localPort: 61000, sequence: 1))
        var draws: [UInt16] = [61000, 61000, 61001]
        #expect(book.freePort(vip: vip, port: 80, source: dip, random: { draws.removeFirst() }) == 61001)
        // The same port to another VIP port is free.
        #expect(book.freePort(vip: vip, port: 443, source: dip, random: { 61000 }) == 61000)
        #expect(book.freePort(vip: vip, port: 80, source: dip, random: { 61000 }) == nil)
    }
}
