import IPVS
import IPVSAdm
@_spi(Testing) import IPVSTestSupport
import Testing

@testable import IPVSFuzz

/// Each check finds the kind of fault it is there for: given a kernel or a reader with that
/// fault, the same input that passes on the real code fails the check.
@Suite struct ChecksCanFailTests {
    /// The in-memory kernel with one fault.
    final class FaultyKernel: IPVSBackend {
        enum Fault {
            /// A refused change empties the table anyway.
            case flushesOnRefusal
            /// A batch is carried out last change first (results still in order).
            case performsBackwards
            /// A real server is stored without its thresholds.
            case dropsThresholds
        }

        let fault: Fault
        let inner = Harness.kernel()

        init(_ fault: Fault) { self.fault = fault }

        func info() throws(IPVSError) -> IPVSInfo { try inner.info() }

        func apply(_ modification: Modification) throws(IPVSError) {
            var modification = modification
            if fault == .dropsThresholds, case .addDestination(var d, let service) = modification {
                d.upperThreshold = 0
                d.lowerThreshold = 0
                modification = .addDestination(d, to: service)
            }
            do {
                try inner.apply(modification)
            } catch {
                if fault == .flushesOnRefusal { try? inner.apply(.flush) }
                throw error
            }
        }

        func perform(_ modifications: [Modification]) -> [IPVSError?] {
            guard fault == .performsBackwards else {
                return modifications.map { m in Result { () throws(IPVSError) in try apply(m) }.failure }
            }
            let backwards = modifications.reversed().map { m in Result { () throws(IPVSError) in try apply(m) }.failure }
            return backwards.reversed()
        }

        func services() throws(IPVSError) -> [VirtualService] { try inner.services() }
        func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService { try inner.service(key) }
        func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
            try inner.destinations(of: service)
        }
        func timeouts() throws(IPVSError) -> Timeouts { try inner.timeouts() }
        func daemons() throws(IPVSError) -> [SyncDaemon] { try inner.daemons() }
        func connectionTable() throws(Errno) -> String { try inner.connectionTable() }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func argvFindsAFailedCommandThatChangedTheTable() {
        let input = Self.bytes("-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s rr\n")
        #expect(FuzzTarget.argv.check(input) == nil)
        let failure = Result { () throws(FuzzFailure) in try ArgvCheck.run(input) { FaultyKernel(.flushesOnRefusal) } }
        #expect(failure.failure?.description.contains("changed the table") == true)
    }

    @Test func restoreFindsABatchThatIsNotLineByLine() {
        let input = Self.bytes("-A -t 10.0.0.1:80 -s rr\n-D -t 10.0.0.1:80\n")
        #expect(FuzzTarget.restore.check(input) == nil)
        let failure = Result { () throws(FuzzFailure) in try RestoreCheck.run(input) { FaultyKernel(.performsBackwards) } }
        #expect(failure.failure != nil)
    }

    @Test func roundTripFindsALoss() {
        let input = Self.bytes("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -x 10 -y 5\n")
        #expect(FuzzTarget.roundtrip.check(input) == nil)
        let failure = Result { () throws(FuzzFailure) in try RoundTripCheck.run(input) { FaultyKernel(.dropsThresholds) } }
        #expect(failure.failure?.description.contains("saves differently") == true)
    }

    @Test func fgetsPiecesAreLinesOfAtMost255Bytes() {
        let long = [UInt8](repeating: 0x41, count: 300)
        let pieces = ConnectionsCheck.fgetsPieces(Self.bytes("a\n\nb") + long + [0x0a])
        #expect(pieces.map(\.count) == [2, 1, 255, 47])
        #expect(ConnectionsCheck.fgetsPieces(long[..<255] + [0x0a]).map(\.count) == [255, 1])
    }

    @Test func codecFindsAValueTheKernelDidNotSend() {
        var reader = FuzzBytes(Array(0..<200).map { UInt8($0 * 7 & 0xff) })
        var world = FakeKernel.World()
        world.services = [Values.service(&reader)]
        #expect(Result { () throws(FuzzFailure) in try CodecCheck.backendReads(world, owner: world.services[0]) }.failure == nil)
        var served = world
        served.services[0].timeout &+= 1
        let failure = Result { () throws(FuzzFailure) in
            try CodecCheck.backendReads(world, owner: world.services[0], served: served)
        }
        #expect(failure.failure?.description.hasPrefix("services") == true)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
