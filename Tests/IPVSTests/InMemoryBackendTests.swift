import Glibc
import IPVS
import Testing

/// The kernel rules the in-memory backend promises (the same ones KernelTests checks
/// against the real kernel), so CLI tests built on it mean something.
@Suite struct InMemoryBackendTests {
    let web = VirtualService(key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80), scheduler: "rr")
    let server = Destination(address: IPAddress(ipv4: 0x0a00_0102), port: 80, forwarding: .masquerading)

    private func errno(_ body: () throws(IPVSError) -> Void) -> Int32? {
        do {
            try body()
            return nil
        } catch {
            return error.errno
        }
    }

    @Test func servicesAndDestinations() throws {
        let backend = InMemoryBackend()
        try backend.addService(web)
        #expect(errno { () throws(IPVSError) in try backend.addService(web) } == EEXIST)
        try backend.addDestination(server, to: web)
        #expect(errno { () throws(IPVSError) in try backend.addDestination(server, to: web) } == EEXIST)
        var second = server
        second.address = IPAddress(ipv4: 0x0a00_0103)
        try backend.addDestination(second, to: web)
        // The kernel lists the most recently added real server first.
        #expect(try backend.destinations(of: web).map(\.address) == [second.address, server.address])
        #expect(errno { () throws(IPVSError) in try backend.deleteDestination(server, from: web) } == nil)
        #expect(errno { () throws(IPVSError) in try backend.deleteDestination(server, from: web) } == ENOENT)
        try backend.flush()
        #expect(try backend.services().isEmpty)
    }

    @Test func missingThings() {
        let backend = InMemoryBackend()
        #expect(errno { () throws(IPVSError) in try backend.deleteService(web) } == ESRCH)
        #expect(errno { () throws(IPVSError) in try backend.addDestination(server, to: web) } == ESRCH)
        #expect(errno { () throws(IPVSError) in _ = try backend.service(web.key) } == ESRCH)
        #expect((try? backend.destinations(of: web)) == [])
        var unknown = web
        unknown.scheduler = "nosuch"
        #expect(errno { () throws(IPVSError) in try backend.addService(unknown) } == ENOENT)
    }

    @Test func performKeepsGoingAfterAFailure() {
        let backend = InMemoryBackend()
        let results = backend.perform([.addService(web), .addService(web), .addDestination(server, to: web)])
        #expect(results == [nil, IPVSError(.addService, errno: EEXIST), nil])
    }

    @Test func messagesDependOnTheOperation() {
        #expect(IPVSError(.deleteService, errno: ESRCH).message == "No such service")
        #expect(IPVSError(.addDestination, errno: ESRCH).message == "Service not defined")
        #expect(IPVSError(.addService, errno: ERANGE).message == "Numerical result out of range")
    }
}
