import IPVS
import Testing

@_spi(Testing) @testable import IPVSNetlink
@_spi(Benchmark) @_spi(Testing) import IPVSTestSupport

/// The test support's fake kernel answers as the kernel does: what the profile harness and the
/// `codec` fuzz target measure and check against it holds only if it does.
@Suite struct FakeKernelTests {
    static func services(_ count: Int) -> [VirtualService] {
        (0..<count).map { index in
            VirtualService(
                key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a03_0000 + UInt32(index)), port: 80),
                scheduler: "rr")
        }
    }

    /// The profile's world: GET_INFO answered, every change of a pipelined batch taken.
    @Test func acknowledgingWorldTakesEveryChange() throws {
        let (backend, sent) = try FakeKernel.backend(.acknowledging)
        #expect(try backend.info() == IPVSInfo(version: 0x01_02_01, connectionTableSize: 4096))
        let changes = Self.services(300).map { Modification.addService($0) }
        #expect(backend.perform(changes) == [IPVSError?](repeating: nil, count: 300))
        #expect(sent().requests == 301)
        // An empty table dumps as NLMSG_DONE alone.
        #expect(try backend.services() == [])
    }

    /// Within a batch only the last request asks for an acknowledgement; the kernel reports
    /// every refusal all the same, and the client matches each to its change.
    @Test func refusalsReachTheirChange() throws {
        var world = FakeKernel.World.acknowledging
        world.answers = [0, -Errno.fileExists.rawValue, 0]
        let (backend, _) = try FakeKernel.backend(world)
        let changes = Self.services(6).map { Modification.addService($0) }
        let refused = IPVSError(.addService, errno: .fileExists)
        #expect(backend.perform(changes) == [nil, refused, nil, nil, refused, nil])
    }

    @Test func dumpsReadBackWhateverTheGrouping() throws {
        for grouping in [[1], [3], [1, 4]] {
            var world = FakeKernel.World.acknowledging
            world.services = Self.services(10)
            world.grouping = grouping
            let (backend, _) = try FakeKernel.backend(world)
            #expect(try backend.services() == world.services)
        }
    }

    /// The profile's checksum of the requests leaves out their sequence numbers.
    @Test func checksumIgnoresSequenceNumbers() throws {
        var checksums: [UInt64] = []
        for first: UInt32 in [1, 1000] {
            let kernel = FakeKernel(.acknowledging)
            let client = NetlinkClient(transport: kernel, family: FakeKernel.family, port: FakeKernel.port, firstSequence: first)
            let backend = try NetlinkBackend(client: client)
            _ = backend.perform(Self.services(3).map { Modification.addService($0) })
            #expect(kernel.problems == [])
            checksums.append(kernel.checksum)
        }
        #expect(checksums[0] == checksums[1])
    }
}
