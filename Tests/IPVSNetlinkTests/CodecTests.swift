import IPVS
import IPVSTestSupport
import Testing

@_spi(Testing) @testable import IPVSNetlink

private let vip = IPAddress(ipv4: 0x0102_0304)
private let tcp80 = ServiceKey.address(protocol: .tcp, address: vip, port: 80)

@Suite struct CodecRequestTests {
    // Golden bytes: captured from the oracle (see the fixtures' provenance lines).

    @Test func newServiceMatchesTheOracle() {
        // ipvsadm -A -t 1.2.3.4:80 -s wlc
        let service = VirtualService(key: tcp80, scheduler: "wlc")
        let bytes = encoded { IPVSCodec.serviceRequest(service, into: &$0) }
        let expected = fixtureBytes("new-service-tcp-1.2.3.4-80-wlc.hex")
        #expect(expected.count == 84)
        #expect(hex(bytes) == hex(expected))
    }

    @Test func newDestinationMatchesTheOracle() {
        // ipvsadm -a -t 1.2.3.4:80 -r 10.0.0.1:8080 -m -w 5
        let service = VirtualService(key: tcp80)
        let destination = Destination(address: IPAddress(ipv4: 0x0a00_0001), port: 8080, forwarding: .masquerading, weight: 5)
        let bytes = encoded { IPVSCodec.destinationRequest(destination, service: service, into: &$0) }
        #expect(hex(bytes) == hex(fixtureBytes("new-dest-masq-weight5.hex")))
    }

    @Test func firewallMarkServiceMatchesTheOracle() {
        // ipvsadm -A -f 2147483649 -6 -s sh -b sh-fallback -p 300 -M 64 --pe sip
        let service = VirtualService(
            key: .firewallMark(2_147_483_649, family: .inet6), scheduler: "sh", flags: [.persistent, .sched1],
            timeout: 300, netmask: 64, persistenceEngine: "sip")
        #expect(hex(encoded { IPVSCodec.serviceRequest(service, into: &$0) }) == hex(fixtureBytes("new-service-fwmark-ipv6-sh.hex")))
    }

    @Test func startDaemonMatchesTheOracle() {
        // ipvsadm --start-daemon backup --mcast-interface lo --syncid 9 --sync-maxlen 1400
        //         --mcast-group 224.0.0.81 --mcast-port 8848 --mcast-ttl 2
        let daemon = SyncDaemon(
            state: .backup, interface: "lo", syncID: 9, maxLength: 1400, group: IPAddress(ipv4: 0xe000_0051),
            port: 8848, ttl: 2)
        #expect(hex(encoded { IPVSCodec.startDaemonRequest(daemon, into: &$0) }) == hex(fixtureBytes("new-daemon-backup.hex")))
    }

    @Test func destinationDumpRequestsMatchTheOracle() {
        #expect(hex(encoded { IPVSCodec.destinationsRequest(tcp80, into: &$0) }) == hex(fixtureBytes("get-dest-tcp-1.2.3.4-80.hex")))
        #expect(
            hex(encoded { IPVSCodec.destinationsRequest(.firewallMark(2_147_483_649, family: .inet6), into: &$0) })
                == hex(fixtureBytes("get-dest-fwmark-ipv6.hex")))
    }

    @Test func firewallMarkServiceCarriesNoProtocolAddressOrPort() {
        let service = VirtualService(
            key: .firewallMark(0x8000_0001, family: .inet6), scheduler: "rr", flags: [.persistent, .hashed],
            timeout: 300, netmask: 64, persistenceEngine: "sip")
        let nest = AttributeSet(encoded { IPVSCodec.serviceRequest(service, into: &$0) }).nested(CommandAttribute.service)
        #expect(nest?.types == [1, 5, 6, 11, 7, 8, 9])  // AF FWMARK SCHED PE FLAGS TIMEOUT NETMASK
        #expect(nest?.u16(ServiceAttribute.addressFamily) == 10)
        #expect(nest?.u32(ServiceAttribute.firewallMark) == 0x8000_0001)
        #expect(nest?.string(ServiceAttribute.persistenceEngineName) == "sip")
        // HASHED is the kernel's bit and is never sent; the mask is all ones.
        #expect(nest.map { hex($0[ServiceAttribute.flags]!) } == "01 00 00 00 ff ff ff ff")
        // IPv6: the prefix length as a host-order u32.
        #expect(nest?.u32(ServiceAttribute.netmask) == 64)
    }

    @Test func ipv4NetmaskIsSentInNetworkOrder() {
        let service = VirtualService(key: tcp80, scheduler: "wlc", flags: .persistent, timeout: 360, netmask: 0xffff_ff00)
        let nest = AttributeSet(encoded { IPVSCodec.serviceRequest(service, into: &$0) }).nested(CommandAttribute.service)
        #expect(nest.map { hex($0[ServiceAttribute.netmask]!) } == "ff ff ff 00")
    }

    @Test func destinationDumpUsesTheReducedServiceNest() {
        var expected = AttributeEncoder()
        expected.nest(1) { nest in
            nest.append(1, u16: 2)
            nest.append(2, u16: 6)
            nest.append(3, payload: vip.bytes)
            nest.append(4, be16: 80)
        }
        #expect(encoded { IPVSCodec.destinationsRequest(tcp80, into: &$0) } == expected.bytes)

        let mark = AttributeSet(encoded { IPVSCodec.destinationsRequest(.firewallMark(7, family: .inet), into: &$0) }).nested(1)
        #expect(mark?.types == [1, 5])
    }

    @Test func zeroAllSendsNoAttributes() {
        #expect(encoded { IPVSCodec.zeroRequest(nil, into: &$0) }.isEmpty)
        #expect(encoded { IPVSCodec.zeroRequest(VirtualService(key: tcp80), into: &$0) } == encoded { IPVSCodec.serviceRequest(VirtualService(key: tcp80), into: &$0) })
    }

    @Test func timeoutsAreTopLevel() {
        let bytes = encoded { IPVSCodec.timeoutsRequest(Timeouts(tcp: 900, tcpFin: 0, udp: 300), into: &$0) }
        let set = AttributeSet(bytes)
        #expect(set.types == [4, 5, 6])
        #expect(set.u32(4) == 900)
        #expect(set.u32(5) == 0)
        #expect(set.u32(6) == 300)
    }

    @Test func daemonRequests() {
        let master = SyncDaemon(state: .master, interface: "eth0", syncID: 3)
        let minimal = AttributeSet(encoded { IPVSCodec.startDaemonRequest(master, into: &$0) }).nested(3)
        #expect(minimal?.types == [1, 2, 3])

        let full = SyncDaemon(
            state: .backup, interface: "eth1", syncID: 9, maxLength: 1472, group: IPAddress(ipv4: 0xe000_0051),
            port: 8848, ttl: 2)
        let nest = AttributeSet(encoded { IPVSCodec.startDaemonRequest(full, into: &$0) }).nested(3)
        #expect(nest?.types == [1, 2, 3, 4, 7, 8, 5])
        #expect(nest.map { hex($0[5]!) } == "e0 00 00 51")  // group in network order
        #expect(nest?.u16(7) == 8848)  // port in host order

        let six = SyncDaemon(state: .master, interface: "eth0", group: IPAddress.parse("ff02::1", with: IPAddress.parseIPv6))
        #expect(AttributeSet(encoded { IPVSCodec.startDaemonRequest(six, into: &$0) }).nested(3)?.types == [1, 2, 3, 6])

        let stop = AttributeSet(encoded { IPVSCodec.stopDaemonRequest(full, into: &$0) }).nested(3)
        #expect(stop?.types == [1, 2, 3])
    }
}

/// Replies built the way the kernel builds them (`ip_vs_genl_fill_service`/`_dest`).
enum KernelReply {
    static func stats(_ encoder: inout AttributeEncoder, type: UInt16, wide: Bool, base: UInt64) {
        encoder.nest(type) { s in
            for attribute in UInt16(1)...10 {
                let value = base + UInt64(attribute)
                if wide || attribute == 4 || attribute == 5 {
                    s.append(attribute, u64: value)
                } else {
                    s.append(attribute, u32: UInt32(truncatingIfNeeded: value))
                }
            }
        }
    }

    static func service(_ build: (inout AttributeEncoder) -> Void) -> [UInt8] {
        var encoder = AttributeEncoder()
        encoder.nest(1, build)
        return encoder.bytes
    }

    static func tcpService(port: UInt16, scheduler: String = "wlc", flags: UInt32 = 0x2) -> [UInt8] {
        service { n in
            n.append(1, u16: 2)
            n.append(2, u16: 6)
            n.append(3, payload: vip.bytes)
            n.append(4, be16: port)
            n.append(6, string: scheduler)
            n.append(7, words: flags, 0xffff_ffff)
            n.append(8, u32: 0)
            n.append(9, be32: 0xffff_ffff)
            stats(&n, type: 10, wide: false, base: 100)
            stats(&n, type: 12, wide: true, base: 1 << 33)
        }
    }

    static func destination(address: IPAddress, port: UInt16, family: UInt16?, stats64: Bool) -> [UInt8] {
        var encoder = AttributeEncoder()
        encoder.nest(2) { d in
            d.append(1, payload: address.bytes)
            d.append(2, be16: port)
            d.append(3, u32: 2)
            d.append(4, u32: 3)
            d.append(13, u8: 1)
            d.append(14, be16: 5555)
            d.append(15, u16: 1)
            d.append(5, u32: 100)
            d.append(6, u32: 10)
            d.append(7, u32: 11)
            d.append(8, u32: 12)
            d.append(9, u32: 13)
            if let family { d.append(11, u16: family) }
            stats(&d, type: 10, wide: false, base: 1 << 32)
            if stats64 { stats(&d, type: 12, wide: true, base: 1 << 32) }
        }
        return encoder.bytes
    }
}

@Suite struct CodecReplyTests {
    @Test func decodesAServiceDump() throws {
        let mark = KernelReply.service { n in
            n.append(1, u16: 10)
            n.append(5, u32: 0xffff_fffe)
            n.append(6, string: "sh")
            n.append(11, string: "sip")
            n.append(7, words: 0x1 | 0x2 | 0x8 | 0x40, 0x0f)  // bits outside the mask are dropped
            n.append(8, u32: 360)
            n.append(9, u32: 64)
        }
        let services = try IPVSCodec.decodeServices([KernelReply.tcpService(port: 80), mark])
        #expect(services.count == 2)

        let first = services[0]
        #expect(first.key == tcp80)
        #expect(first.scheduler == "wlc")
        #expect(first.flags == .hashed)
        #expect(first.netmask == 0xffff_ffff)
        #expect(first.persistenceEngine == "")
        // STATS64 wins over STATS.
        #expect(first.stats.connections == (1 << 33) + 1)
        #expect(first.stats.outByteRate == (1 << 33) + 10)

        let second = services[1]
        #expect(second.key == .firewallMark(0xffff_fffe, family: .inet6))
        #expect(second.scheduler == "sh")
        #expect(second.flags == [.persistent, .hashed, .sched1])
        #expect(second.timeout == 360)
        #expect(second.netmask == 64)
        #expect(second.persistenceEngine == "sip")
        #expect(second.stats == Statistics())
    }

    @Test func destinationStats64IsReadAs64Bit() throws {
        let reply = KernelReply.destination(address: IPAddress(ipv4: 0x0a00_0001), port: 80, family: 2, stats64: true)
        let destinations = try IPVSCodec.decodeDestinations([reply], family: .inet)
        let destination = try #require(destinations.first)
        #expect(destination.address == IPAddress(ipv4: 0x0a00_0001))
        #expect(destination.port == 80)
        #expect(destination.forwarding == .tunnel)
        #expect(destination.weight == 3)
        #expect(destination.upperThreshold == 100)
        #expect(destination.lowerThreshold == 10)
        #expect(destination.activeConnections == 11)
        #expect(destination.inactiveConnections == 12)
        #expect(destination.persistentConnections == 13)
        #expect(destination.tunnelType == .gue)
        #expect(destination.tunnelPort == 5555)
        #expect(destination.tunnelFlags == .checksum)
        // ipvsadm 1.31 would read the low 32 bits only (1); we keep the full counter.
        #expect(destination.stats.connections == (1 << 32) + 1)
        #expect(destination.stats.inPackets == (1 << 32) + 2)
        #expect(destination.stats.inBytes == (1 << 32) + 4)
        #expect(destination.stats.connectionRate == (1 << 32) + 6)
    }

    @Test func destinationFallsBackToStats32AndServiceFamily() throws {
        let six = try #require(IPAddress.parse("2001:db8::1", with: IPAddress.parseIPv6))
        let reply = KernelReply.destination(address: six, port: 443, family: nil, stats64: false)
        let destination = try #require(try IPVSCodec.decodeDestinations([reply], family: .inet6).first)
        #expect(destination.address == six)
        #expect(destination.stats.connections == 1)  // truncated u32, as the kernel sent it
        #expect(destination.stats.inBytes == (1 << 32) + 4)
    }

    @Test func missingRequiredAttributesAreMalformed() {
        let noScheduler = KernelReply.service { n in
            n.append(1, u16: 2)
            n.append(5, u32: 1)
        }
        #expect(throws: MalformedReply.self) { try IPVSCodec.decodeServices([noScheduler]) }
        #expect(throws: MalformedReply.self) { try IPVSCodec.decodeServices([[]]) }

        var encoder = AttributeEncoder()
        encoder.nest(2) { d in d.append(2, be16: 80) }
        #expect(throws: MalformedReply.self) { try IPVSCodec.decodeDestinations([encoder.bytes], family: .inet) }
        #expect(throws: MalformedReply.self) { try IPVSCodec.decodeInfo([[UInt8]]()) }
    }

    @Test func decodesInfoTimeoutsAndDaemons() throws {
        var info = AttributeEncoder()
        info.append(1, u32: 0x0001_0201)
        info.append(2, u32: 4096)
        #expect(try IPVSCodec.decodeInfo([info.bytes]) == IPVSInfo(version: 0x0001_0201, connectionTableSize: 4096))

        var config = AttributeEncoder()
        config.append(4, u32: 900)
        config.append(5, u32: 120)
        #expect(try IPVSCodec.decodeTimeouts([config.bytes]) == Timeouts(tcp: 900, tcpFin: 120, udp: 0))

        var daemon = AttributeEncoder()
        daemon.nest(3) { d in
            d.append(1, u32: 2)
            d.append(2, string: "eth0")
            d.append(3, u32: 7)
            d.append(4, u16: 1472)
            d.append(7, u16: 8848)
            d.append(8, u8: 1)
            d.append(5, be32: 0xe000_0051)
        }
        let daemons = try IPVSCodec.decodeDaemons([daemon.bytes])
        #expect(daemons == [SyncDaemon(
            state: .backup, interface: "eth0", syncID: 7, maxLength: 1472, group: IPAddress(ipv4: 0xe000_0051),
            port: 8848, ttl: 1)])
    }
}

/// The tests hand each reply message as its own array; the client hands the codec one
/// message at a time, a slice of its receive buffer.
extension IPVSCodec {
    static func decodeServices(_ messages: [[UInt8]]) throws(MalformedReply) -> [VirtualService] {
        var services: [VirtualService] = []
        for message in messages { services.append(try decodeService(message: message[...])) }
        return services
    }

    static func decodeDestinations(_ messages: [[UInt8]], family: AddressFamily) throws(MalformedReply) -> [Destination] {
        var destinations: [Destination] = []
        for message in messages { destinations.append(try decodeDestination(message: message[...], family: family)) }
        return destinations
    }

    static func decodeInfo(_ messages: [[UInt8]]) throws(MalformedReply) -> IPVSInfo {
        guard let message = messages.first else { throw MalformedReply(what: "no message") }
        return try decodeInfo(message: message[...])
    }

    static func decodeTimeouts(_ messages: [[UInt8]]) throws(MalformedReply) -> Timeouts {
        guard let message = messages.first else { throw MalformedReply(what: "no message") }
        return decodeTimeouts(message: message[...])
    }

    static func decodeDaemons(_ messages: [[UInt8]]) throws(MalformedReply) -> [SyncDaemon] {
        var daemons: [SyncDaemon] = []
        for message in messages { daemons.append(try decodeDaemon(message: message[...])) }
        return daemons
    }
}

/// The bytes a codec request writes into a fresh encoder.
func encoded(_ write: (inout AttributeEncoder) -> Void) -> [UInt8] {
    var encoder = AttributeEncoder()
    write(&encoder)
    return encoder.bytes
}
