import Glibc
import IPVS
import IPVSAdm
@testable import IPVSNetlink
import Testing
@testable import IPVSHealth

/// The TCP check's two modes give the same verdicts (Docs/Health.md, "TCP checks"): a SYN and
/// its answer (`mode=syn`) against a connect (`mode=connect`), for a listening port, a closed
/// one, a full accept queue, a host that does not answer and routes that refuse. Raw sockets
/// need root: without it the SYN mode connects, and the suite checks that instead.
@Suite(.serialized) struct TCPModeTests {
    static let isRoot = geteuid() == 0

    func spec(_ mode: CheckSpec.TCPMode, timeout: Double = 0.5) -> CheckSpec {
        var spec = CheckSpec(kind: .tcp)
        spec.tcpMode = mode
        spec.timeout = timeout
        return spec
    }

    func target(_ id: Int, _ spec: CheckSpec, address: IPAddress, port: UInt16) -> ProbeTarget {
        ProbeTarget(
            id: id, spec: spec, address: address, port: port,
            service: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80), server: address,
            serverPort: port, forwarding: .masquerading, environment: [])
    }

    /// Each check run in both modes: the results by id (syn: id, connect: id + 100).
    func both(_ checks: [(id: Int, address: IPAddress, port: UInt16)], timeout: Double = 0.5) -> [Int: ProbeResult] {
        let clock = SystemHealthClock()
        let prober = SystemProber(clock: clock, signals: [])
        let now = clock.monotonic
        for check in checks {
            prober.start(target(check.id, spec(.syn, timeout: timeout), address: check.address, port: check.port), now: now)
            prober.start(
                target(check.id + 100, spec(.connect, timeout: timeout), address: check.address, port: check.port), now: now)
        }
        return SystemProberTests.collect(prober, clock, count: checks.count * 2)
    }

    @Test func listeningAndClosed() {
        let open = SystemProberTests.listener()
        defer { close(open.fd) }
        let closed = SystemProberTests.listener()
        close(closed.fd)
        let results = both([(1, SystemProberTests.loopback, open.port), (2, SystemProberTests.loopback, closed.port)])
        #expect(results[1]?.ok == true)
        #expect(results[1]?.message == (Self.isRoot ? "SYN-ACK" : "connected"))
        #expect(results[101]?.ok == true)
        #expect(results[101]?.message == "connected")
        #expect(results[2]?.ok == false)
        #expect(results[2]?.message == "connection refused")
        #expect(results[102]?.message == "connection refused")
    }

    /// A turn's SYNs leave in batches of 64 (sendmmsg): 150 checks started at once, three
    /// batches, alternately to a listening port and a closed one, each with its own verdict; and
    /// a check forgotten before its SYN left gives none.
    @Test func manyChecksInOneTurn() {
        let open = SystemProberTests.listener(backlog: 256)
        defer { close(open.fd) }
        let closed = SystemProberTests.listener()
        close(closed.fd)
        let clock = SystemHealthClock()
        let prober = SystemProber(clock: clock, signals: [])
        let now = clock.monotonic
        for id in 0..<150 {
            let port = id % 2 == 0 ? open.port : closed.port
            prober.start(target(id, spec(.syn), address: SystemProberTests.loopback, port: port), now: now)
        }
        prober.forget(id: 149)
        let results = SystemProberTests.collect(prober, clock, count: 149)
        #expect(results.count == 149)
        #expect(results[149] == nil)
        for id in 0..<149 {
            #expect(results[id]?.ok == (id % 2 == 0), "\(id)")
            if Self.isRoot { #expect(results[id]?.message == (id % 2 == 0 ? "SYN-ACK" : "connection refused"), "\(id)") }
        }
    }

    /// listen(fd, 0) takes one connection; with it queued and not accepted, the kernel drops
    /// further SYNs (it neither answers nor resets): both modes time out.
    @Test func fullAcceptQueue() {
        let full = SystemProberTests.listener(backlog: 0)
        defer { close(full.fd) }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        _ = SystemProber.withSocketAddress(SystemProberTests.loopback, port: full.port) { connect(client, $0, $1) }
        let results = both([(1, SystemProberTests.loopback, full.port)], timeout: 0.4)
        #expect(results[1]?.ok == false)
        #expect(results[1]?.message == "timed out")
        #expect(results[101]?.ok == false)
        #expect(results[101]?.message == "timed out")
    }

    /// In a namespace of its own: 10.99.0.1/32 on `lo` and a route to 10.96.0.0/24 out of `lo`,
    /// so a packet to 10.96.0.2 comes back in and is dropped (not local, no forwarding): a
    /// host that is down, or a firewall that drops, as the checker sees them (no answer).
    /// Routes that refuse, a blackhole and an unreachable route, fail both modes. And a
    /// local address where nothing listens (10.99.0.1): refused.
    @Test(.enabled(if: isRoot && access("/usr/sbin/ip", X_OK) == 0 || access("/sbin/ip", X_OK) == 0))
    func noAnswerAndRefusingRoutes() throws {
        let name = "ipvsadm-health-test-\(getpid())"
        let setup = [
            "ip netns add \(name)", "ip -n \(name) link set lo up", "ip -n \(name) addr add 10.99.0.1/32 dev lo",
            "ip -n \(name) route add 10.96.0.0/24 dev lo src 10.99.0.1",
            "ip -n \(name) route add blackhole 10.98.0.1", "ip -n \(name) route add unreachable 10.97.0.1",
        ]
        defer { _ = system("ip netns del \(name) 2>/dev/null") }
        for command in setup { try #require(system(command) == 0, "\(command)") }
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let inside = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        defer { close(original); close(inside) }
        try NetlinkSocket.enterNetworkNamespace(inside)
        // The prober opens its sockets at the first check: in the namespace, for good.
        let results = both([
            (1, IPAddress(ipv4: 0x0a60_0002), 80),      // 10.96.0.2: no answer
            (2, IPAddress(ipv4: 0x0a62_0001), 80),      // 10.98.0.1: blackhole
            (3, IPAddress(ipv4: 0x0a61_0001), 80),      // 10.97.0.1: unreachable
            (4, IPAddress(ipv4: 0x0a63_0001), 80),      // 10.99.0.1: local, closed
        ], timeout: 0.4)
        try NetlinkSocket.enterNetworkNamespace(original)
        for id in [1, 2, 3, 4] {
            #expect(results[id]?.ok == false, "\(id)")
            #expect(results[id + 100]?.ok == false, "\(id)")
        }
        #expect(results[1]?.message == "timed out")
        #expect(results[101]?.message == "timed out")
        #expect(results[4]?.message == "connection refused")
        #expect(results[104]?.message == "connection refused")
    }

    /// The SYN in place over its template: the bytes PathPacket.tcp builds, but the IP
    /// header's identification and checksum (the kernel's to fill).
    @Test func synBytes() {
        var packet = PathPacket.tcp(
            source: 0, destination: 0, sourcePort: 0, destinationPort: 0, sequence: 0, flags: PathPacket.syn,
            identification: 0)
        let probe = SYNProbe.Probe(
            token: 1, started: 0, destination: 0x0a00_0002, port: 8080, source: 0x0a00_0001, localPort: 61234,
            sequence: 0xdead_beef, deadline: 1, resendAt: 1, backoff: 1)
        SYNProbe.fill(&packet, probe)
        let expected = PathPacket.tcp(
            source: 0x0a00_0001, destination: 0x0a00_0002, sourcePort: 61234, destinationPort: 8080,
            sequence: 0xdead_beef, flags: PathPacket.syn, identification: 0)
        #expect(packet[12...] == expected[12...])
    }
}
