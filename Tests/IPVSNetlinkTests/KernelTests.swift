import Glibc
import IPVS
@_spi(Testing) @testable import IPVSNetlink
import Testing

/// True where a real IPVS is loaded, we may program it (root), and its table is empty:
/// the tests flush, so they refuse to run against a table with rules in it (a real director).
/// Off on development machines; in the VM, run inside a fresh network namespace.
let kernelAvailable = geteuid() == 0 && procIPVSLineCount() == 3

/// Lines of `/proc/net/ip_vs` (3 header lines when no service exists), or nil without IPVS.
private func procIPVSLineCount() -> Int? {
    guard let file = fopen("/proc/net/ip_vs", "r") else { return nil }
    defer { fclose(file) }
    var lines = 0
    while true {
        let c = fgetc(file)
        if c == EOF { break }
        if c == 10 { lines += 1 }
    }
    return lines
}

func v4(_ a: UInt32) -> IPAddress { IPAddress(ipv4: a) }

/// The backend against the real kernel: requests, listings and the kernel's errnos.
/// Expects an empty IPVS table in its own network namespace with 10.0.0.0/8 routable.
@Suite(.serialized, .enabled(if: kernelAvailable, "needs root and an empty IPVS table (/proc/net/ip_vs)"))
struct KernelTests {
    let backend: NetlinkBackend
    let web = VirtualService(
        key: .address(protocol: .tcp, address: v4(0x0a00_0001), port: 80), scheduler: "wlc")

    init() throws {
        backend = try NetlinkBackend.open()
        try backend.apply(.flush)
    }

    private func expectError(
        _ operation: IPVSError.Operation, _ errno: Errno, _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(IPVSError) -> Void
    ) {
        do {
            try body()
            Issue.record("expected errno \(errno), got success", sourceLocation: sourceLocation)
        } catch {
            #expect(error == IPVSError(operation, errno: errno), sourceLocation: sourceLocation)
            #expect(error.message == message, sourceLocation: sourceLocation)
        }
    }

    @Test func info() throws {
        let info = try backend.info()
        #expect(info.version >= 0x0001_0104)
        #expect(info.connectionTableSize > 0)
    }

    @Test func serviceAndDestinationLifecycle() throws {
        try backend.apply(.addService(web))
        expectError(.addService, .fileExists, "Service already exists") { () throws(IPVSError) in
            try backend.apply(.addService(web))
        }

        let real = Destination(address: v4(0x0a00_0002), port: 8080, forwarding: .masquerading, weight: 2)
        try backend.apply(.addDestination(real, to: web))
        expectError(.addDestination, .fileExists, "Destination already exists") { () throws(IPVSError) in
            try backend.apply(.addDestination(real, to: web))
        }

        let services = try backend.services()
        #expect(services.count == 1)
        let listed = try #require(services.first)
        #expect(listed.key == web.key)
        #expect(listed.scheduler == "wlc")
        #expect(listed.flags == .hashed)
        #expect(listed.netmask == 0xffff_ffff)
        #expect(try backend.service(web.key) == listed)

        var destinations = try backend.destinations(of: listed)
        #expect(destinations.count == 1)
        #expect(destinations.first?.address == real.address)
        #expect(destinations.first?.port == 8080)
        #expect(destinations.first?.forwarding == .masquerading)
        #expect(destinations.first?.weight == 2)

        var heavier = real
        heavier.weight = 5
        heavier.upperThreshold = 100
        heavier.lowerThreshold = 10
        try backend.apply(.updateDestination(heavier, in: web))
        destinations = try backend.destinations(of: listed)
        #expect(destinations.first?.weight == 5)
        #expect(destinations.first?.upperThreshold == 100)
        #expect(destinations.first?.lowerThreshold == 10)

        let missing = Destination(address: v4(0x0a00_0003), port: 8080, forwarding: .masquerading)
        expectError(.updateDestination, .noSuchFileOrDirectory, "No such destination") { () throws(IPVSError) in
            try backend.apply(.updateDestination(missing, in: web))
        }
        expectError(.deleteDestination, .noSuchFileOrDirectory, "No such destination") { () throws(IPVSError) in
            try backend.apply(.deleteDestination(missing, from: web))
        }
        var inverted = real
        inverted.upperThreshold = 1
        inverted.lowerThreshold = 2
        expectError(.updateDestination, .outOfRange, "Numerical result out of range") { () throws(IPVSError) in
            try backend.apply(.updateDestination(inverted, in: web))
        }

        try backend.apply(.zero(web))
        try backend.apply(.zero(nil))

        var edited = web
        edited.scheduler = "rr"
        edited.flags = .persistent
        edited.timeout = 300
        edited.netmask = 0xffff_ff00
        try backend.apply(.updateService(edited))
        let reread = try backend.service(web.key)
        #expect(reread.scheduler == "rr")
        #expect(reread.flags == [.persistent, .hashed])
        #expect(reread.timeout == 300)
        #expect(reread.netmask == 0xffff_ff00)

        try backend.apply(.deleteDestination(real, from: web))
        #expect(try backend.destinations(of: web).isEmpty)
        try backend.apply(.deleteService(web))
        #expect(try backend.services().isEmpty)
    }

    @Test func errnosOfMissingThings() throws {
        expectError(.deleteService, .noSuchProcess, "No such service") { () throws(IPVSError) in
            try backend.apply(.deleteService(web))
        }
        expectError(.updateService, .noSuchProcess, "No such service") { () throws(IPVSError) in
            try backend.apply(.updateService(web))
        }
        expectError(.getService, .noSuchProcess, "No such service") { () throws(IPVSError) in
            _ = try backend.service(web.key)
        }
        expectError(.zeroService, .noSuchProcess, "No such service") { () throws(IPVSError) in
            try backend.apply(.zero(web))
        }
        let real = Destination(address: v4(0x0a00_0002), port: 80)
        expectError(.addDestination, .noSuchProcess, "Service not defined") { () throws(IPVSError) in
            try backend.apply(.addDestination(real, to: web))
        }
        var unknown = web
        unknown.scheduler = "nosuchsched"
        expectError(.addService, .noSuchFileOrDirectory, "Scheduler or persistence engine not found") { () throws(IPVSError) in
            try backend.apply(.addService(unknown))
        }
        // GET_DEST of a missing service is an empty dump, not an error.
        #expect(try backend.destinations(of: web).isEmpty)
    }

    @Test func firewallMarkAndIPv6Services() throws {
        let mark = VirtualService(key: .firewallMark(0x8000_0001, family: .inet), scheduler: "sh",
                                  flags: [.sched1, .sched2])
        let six = try #require(IPAddress.parse("2001:db8::10", with: IPAddress.parseIPv6))
        let v6 = VirtualService(
            key: .address(protocol: .udp, address: six, port: 53), scheduler: "rr", flags: .persistent,
            timeout: 600, netmask: 64)
        try backend.apply(.addService(mark))
        try backend.apply(.addService(v6))
        let realSix = try #require(IPAddress.parse("2001:db8::20", with: IPAddress.parseIPv6))
        try backend.apply(.addDestination(Destination(address: realSix, port: 53, forwarding: .directRouting), to: v6))

        let all = try backend.servicesWithDestinations()
        #expect(all.count == 2)
        let byKey = Dictionary(uniqueKeysWithValues: all.map { ($0.0.key, $0) })
        let listedMark = try #require(byKey[mark.key])
        #expect(listedMark.0.flags == [.sched1, .sched2, .hashed])
        #expect(listedMark.1.isEmpty)
        let listedSix = try #require(byKey[v6.key])
        #expect(listedSix.0.netmask == 64)
        #expect(listedSix.0.timeout == 600)
        #expect(listedSix.1.map(\.address) == [realSix])
        try backend.apply(.flush)
        #expect(try backend.services().isEmpty)
    }

    @Test func timeouts() throws {
        let before = try backend.timeouts()
        try backend.apply(.setTimeouts(Timeouts(tcp: 1000, tcpFin: 0, udp: 200)))
        let after = try backend.timeouts()
        #expect(after == Timeouts(tcp: 1000, tcpFin: before.tcpFin, udp: 200))
        try backend.apply(.setTimeouts(before))
        #expect(try backend.timeouts() == before)
    }

    @Test func syncDaemons() throws {
        #expect(try backend.daemons().isEmpty)
        let master = SyncDaemon(state: .master, interface: "lo", syncID: 5)
        try backend.apply(.startDaemon(master))
        expectError(.startDaemon, .fileExists, "Daemon has already run") { () throws(IPVSError) in
            try backend.apply(.startDaemon(master))
        }
        let daemons = try backend.daemons()
        #expect(daemons.count == 1)
        #expect(daemons.first?.state == .master)
        #expect(daemons.first?.interface == "lo")
        #expect(daemons.first?.syncID == 5)
        try backend.apply(.stopDaemon(master))
        expectError(.stopDaemon, .noSuchProcess, "No daemon is running") { () throws(IPVSError) in
            try backend.apply(.stopDaemon(master))
        }
        expectError(.startDaemon, .noSuchDevice, "No such device") { () throws(IPVSError) in
            try backend.apply(.startDaemon(SyncDaemon(state: .backup, interface: "nosuchif0")))
        }
    }

    @Test func manyRequestsOnOneSocket() throws {
        // 300 services with 2 real servers each: 900 requests, then a full listing.
        for index in 0..<300 {
            let service = VirtualService(
                key: .address(protocol: .tcp, address: v4(0x0a01_0000 + UInt32(index)), port: 80), scheduler: "rr")
            try backend.apply(.addService(service))
            for server in 1...2 {
                try backend.apply(.addDestination(
                    Destination(address: v4(0x0a02_0000 + UInt32(index * 4 + server)), port: 80), to: service))
            }
        }
        let all = try backend.servicesWithDestinations()
        #expect(all.count == 300)
        #expect(all.allSatisfy { $0.1.count == 2 })
        try backend.apply(.flush)
        #expect(try backend.services().isEmpty)
    }

    @Test func dumpsRecoverFromReadsSmallerThanTheKernelsDatagrams() throws {
        // 200 services of 3 real servers: the dumps span several datagrams of ~4 KiB; with
        // 512-byte reads the first one is cut, the shim enlarges its reads and asks again.
        var expected: [VirtualService] = []
        for index in 0..<200 {
            let service = VirtualService(
                key: .address(protocol: .udp, address: v4(0x0a04_0000 + UInt32(index)), port: 53), scheduler: "wrr")
            try backend.apply(.addService(service))
            for server in 1...3 {
                try backend.apply(.addDestination(
                    Destination(address: v4(0x0a05_0000 + UInt32(index * 4 + server)), port: 53), to: service))
            }
            expected.append(service)
        }
        backend.setReadSize(512)
        let services = try backend.services()
        #expect(Set(services.map(\.key)) == Set(expected.map(\.key)))
        backend.setReadSize(512)
        let destinations = try backend.destinations(of: expected[7])
        #expect(destinations.count == 3)
        let all = try backend.servicesWithDestinations()
        #expect(all.count == 200 && all.allSatisfy { $0.1.count == 3 })
        try backend.apply(.flush)
    }

    @Test func pipelinedModificationsKeepOrderAndErrnos() throws {
        let missing = VirtualService(
            key: .address(protocol: .udp, address: v4(0x0a00_0009), port: 53), scheduler: "rr")
        let server = Destination(address: v4(0x0a00_0102), port: 80, forwarding: .masquerading)
        var batch: [Modification] = [
            .addService(web), .addService(web), .addDestination(server, to: missing),
            .addDestination(server, to: web), .deleteDestination(server, from: web),
            .deleteDestination(server, from: web),
        ]
        // Enough requests to need several sendmsg calls.
        for index in 0..<3000 {
            let service = VirtualService(
                key: .address(protocol: .tcp, address: v4(0x0a03_0000 + UInt32(index)), port: 80), scheduler: "rr")
            batch.append(.addService(service))
        }
        let results = backend.perform(batch)
        #expect(results.count == batch.count)
        #expect(results[0] == nil)
        #expect(results[1] == IPVSError(.addService, errno: .fileExists))
        #expect(results[2] == IPVSError(.addDestination, errno: .noSuchProcess))
        #expect(results[3] == nil)
        #expect(results[4] == nil)
        #expect(results[5] == IPVSError(.deleteDestination, errno: .noSuchFileOrDirectory))
        #expect(results.dropFirst(6).allSatisfy { $0 == nil })
        #expect(try backend.services().count == 3001)
        try backend.apply(.flush)
    }

    /// Only the last request of a send asks for an acknowledgement: when the kernel refuses
    /// it, its error is the send's answer; the requests before it that were refused still get
    /// their own errors.
    @Test func aRefusedLastRequestOfASendIsItsAnswer() throws {
        let window = NetlinkClient.batchWindow
        func service(_ index: Int) -> VirtualService {
            VirtualService(key: .address(protocol: .tcp, address: v4(0x0a06_0000 + UInt32(index)), port: 80), scheduler: "rr")
        }
        var batch = (0..<(2 * window)).map { Modification.addService(service($0)) }
        for index in [5, window - 1, 2 * window - 1] { batch[index] = .addService(service(0)) }
        let results = backend.perform(batch)
        #expect(results.count == batch.count)
        for (index, result) in results.enumerated() {
            let refused = [5, window - 1, 2 * window - 1].contains(index)
            #expect(result == (refused ? IPVSError(.addService, errno: .fileExists) : nil), "change \(index)")
        }
        #expect(try backend.services().count == 2 * window - 3)
        try backend.apply(.flush)
    }
}

extension NetlinkBackend {
    /// All services with their real servers, one destinations dump per service.
    func servicesWithDestinations() throws(IPVSError) -> [(VirtualService, [Destination])] {
        var result: [(VirtualService, [Destination])] = []
        for service in try services() {
            result.append((service, try destinations(of: service)))
        }
        return result
    }
}
