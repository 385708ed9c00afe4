import IPVS
import Testing

/// The kernel keeps sync daemons and mixed-family real servers apart both ways: no such real
/// server while a daemon runs, and no daemon starts while one exists (EINVAL, checked before
/// a daemon already running or a missing interface). Checked against Linux 6.1 with
/// /sbin/ipvsadm in the VM; the roundtrip fuzz check showed the second rule missing (a table
/// it could build saved to a file that did not restore).
@Suite struct MixedFamilyDaemonTests {
    let web = VirtualService(key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80), scheduler: "rr")
    let tunnel = Destination(
        address: IPAddress(family: .inet6, high: 0x2001_0db8_0000_0000, low: 0x11), port: 80, forwarding: .tunnel)

    @Test func noDaemonWhileAMixedFamilyRealServerExists() throws {
        let backend = InMemoryBackend()
        try backend.apply(.addService(web))
        try backend.apply(.addDestination(tunnel, to: web))
        let master = SyncDaemon(state: .master, interface: "lo")
        #expect(errno { () throws(IPVSError) in try backend.apply(.startDaemon(master)) } == .invalidArgument)
        let nowhere = SyncDaemon(state: .master, interface: "nosuch0")
        #expect(errno { () throws(IPVSError) in try backend.apply(.startDaemon(nowhere)) } == .invalidArgument)
        #expect(try backend.daemons().isEmpty)
        try backend.apply(.deleteDestination(tunnel, from: web))
        try backend.apply(.startDaemon(master))
        #expect(errno { () throws(IPVSError) in try backend.apply(.startDaemon(master)) } == .fileExists)
    }

    @Test func noMixedFamilyRealServerWhileADaemonRuns() throws {
        let backend = InMemoryBackend()
        try backend.apply(.addService(web))
        try backend.apply(.startDaemon(SyncDaemon(state: .backup, interface: "lo")))
        #expect(errno { () throws(IPVSError) in try backend.apply(.addDestination(tunnel, to: web)) } == .invalidArgument)
    }
}
