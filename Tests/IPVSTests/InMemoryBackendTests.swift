import Glibc
import IPVS
import Testing

/// The kernel rules the in-memory backend promises (the same ones KernelTests checks
/// against the real kernel), so CLI tests built on it mean something.
@Suite struct InMemoryBackendTests {
    let web = VirtualService(key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80), scheduler: "rr")
    let server = Destination(address: IPAddress(ipv4: 0x0a00_0102), port: 80, forwarding: .masquerading)

    @Test func servicesAndDestinations() throws {
        let backend = InMemoryBackend()
        try backend.apply(.addService(web))
        #expect(errno { () throws(IPVSError) in try backend.apply(.addService(web)) } == .fileExists)
        try backend.apply(.addDestination(server, to: web))
        #expect(errno { () throws(IPVSError) in try backend.apply(.addDestination(server, to: web)) } == .fileExists)
        var second = server
        second.address = IPAddress(ipv4: 0x0a00_0103)
        try backend.apply(.addDestination(second, to: web))
        // The kernel lists the most recently added real server first.
        #expect(try backend.destinations(of: web).map(\.address) == [second.address, server.address])
        #expect(errno { () throws(IPVSError) in try backend.apply(.deleteDestination(server, from: web)) } == nil)
        #expect(errno { () throws(IPVSError) in try backend.apply(.deleteDestination(server, from: web)) } == .noSuchFileOrDirectory)
        try backend.apply(.flush)
        #expect(try backend.services().isEmpty)
    }

    @Test func missingThings() {
        let backend = InMemoryBackend()
        #expect(errno { () throws(IPVSError) in try backend.apply(.deleteService(web)) } == .noSuchProcess)
        #expect(errno { () throws(IPVSError) in try backend.apply(.addDestination(server, to: web)) } == .noSuchProcess)
        #expect(errno { () throws(IPVSError) in _ = try backend.service(web.key) } == .noSuchProcess)
        #expect((try? backend.destinations(of: web)) == [])
        var unknown = web
        unknown.scheduler = "nosuch"
        #expect(errno { () throws(IPVSError) in try backend.apply(.addService(unknown)) } == .noSuchFileOrDirectory)
    }

    @Test func performKeepsGoingAfterAFailure() {
        let backend = InMemoryBackend()
        let results = backend.perform([.addService(web), .addService(web), .addDestination(server, to: web)])
        #expect(results == [nil, IPVSError(.addService, errno: .fileExists), nil])
    }

    @Test func messagesDependOnTheOperation() {
        #expect(IPVSError(.deleteService, errno: .noSuchProcess).message == "No such service")
        #expect(IPVSError(.addDestination, errno: .noSuchProcess).message == "Service not defined")
        #expect(IPVSError(.addService, errno: .outOfRange).message == "Numerical result out of range")
    }
}
