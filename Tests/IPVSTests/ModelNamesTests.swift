import IPVS
import Testing

/// The names and orders the listings share, kept on the model types.
@Suite struct ModelNamesTests {
    @Test func versionText() {
        #expect(IPVSInfo(version: 0x01_02_01, connectionTableSize: 4096).versionText == "1.2.1")
        #expect(IPVSInfo(version: 0xff_0a_00, connectionTableSize: 0).versionText == "255.10.0")
    }

    @Test func daemonStatesReadBackTheirNames() {
        for state in [SyncDaemon.State.master, .backup] { #expect(SyncDaemon.State(name: state.name) == state) }
        #expect(SyncDaemon.State(name: "Master") == nil)
    }

    @Test func protocolNames() {
        for proto in [IPProtocolNumber.tcp, .udp, .sctp] {
            #expect(IPProtocolNumber(kernelName: proto.kernelName!) == proto)
            #expect(proto.name == proto.kernelName!.lowercased())
        }
        #expect(IPProtocolNumber(rawValue: 1).name == nil && IPProtocolNumber(kernelName: "tcp") == nil)
    }

    @Test func unnamedNumbersHaveNoName() {
        #expect(TunnelType(rawValue: 3).name == nil && TunnelType.gue.name == "gue")
        #expect(ForwardingMethod.bypass.name == "bypass" && ForwardingMethod.bypass.tableName == nil)
        #expect(ForwardingMethod(rawValue: 5).name == nil)
    }

    @Test func countersInListingOrder() {
        var s = Statistics()
        (s.connections, s.inPackets, s.outPackets, s.inBytes, s.outBytes) = (1, 2, 3, 4, 5)
        (s.connectionRate, s.inPacketRate, s.outPacketRate, s.inByteRate, s.outByteRate) = (6, 7, 8, 9, 10)
        #expect(Array(s.totals) == [1, 2, 3, 4, 5])
        #expect(Array(s.rates) == [6, 7, 8, 9, 10])
    }

    @Test func schedulerFlagNames() {
        let sh = VirtualService(key: .firewallMark(1, family: .inet), scheduler: "sh", flags: [.sched2, .sched3])
        #expect(sh.schedulerFlagText == "sh-port" && sh.schedulerFlagOptions == "sh-port,flag-3")
        let rr = VirtualService(key: .firewallMark(1, family: .inet6), scheduler: "rr", flags: [.sched1, .sched3], netmask: 64)
        #expect(rr.schedulerFlagText == "flag-1,flag-3" && rr.schedulerFlagOptions == "flag-1,flag-3")
        #expect(rr.persistenceMaskText == "64" && sh.persistenceMaskText == nil)
    }
}
