import Glibc
import IPVS
import Testing

@_spi(Testing) @testable import IPVSNetlink
@_spi(Benchmark) import IPVSTestSupport

/// The netlink protocol (framing, multi-part dumps, acknowledgements matched by sequence
/// number, errors, a cut datagram) on bytes recorded from the kernel (`Fixtures/*.netlink`,
/// `Scripts/kernel-test --record`), and on replies built by hand for what the kernel never
/// sends.
@Suite struct NetlinkClientTests {
    /// A backend talking to a recording; `readSize` as when it was recorded.
    private func replay(_ name: String, readSize: Int = NetlinkClient.initialReadSize) throws
        -> (NetlinkBackend, ScriptedTransport, NetlinkRecording)
    {
        let recording = try NetlinkRecording(fixture: name)
        let transport = ScriptedTransport(replaying: recording.events)
        let client = NetlinkClient(
            transport: transport, family: recording.family, port: recording.port,
            firstSequence: recording.firstSequence, readSize: readSize)
        return (try NetlinkBackend(client: client), transport, recording)
    }

    private func received(_ recording: NetlinkRecording) -> [(bytes: [UInt8], length: Int)] {
        recording.events.compactMap { if case .received(let bytes, let length) = $0 { (bytes, length) } else { nil } }
    }

    static let web = FixtureScenario.web

    @Test func acknowledgementsAndErrors() throws {
        let (backend, transport, _) = try replay("info-ack-error.netlink")
        #expect(try backend.info().version == 0x01_02_01)
        try backend.apply(.addService(Self.web))
        #expect(throws: IPVSError(.addService, errno: .fileExists)) { try backend.apply(.addService(Self.web)) }
        try backend.apply(.deleteService(Self.web))
        #expect(transport.problems == [])
        #expect(transport.finished)
    }

    @Test func multiPartDumps() throws {
        let (backend, transport, recording) = try replay("dumps.netlink")
        let services = try backend.services()
        #expect(services.count == 100)
        #expect(Set(services.map(\.key)).count == 100)
        #expect(services.allSatisfy { $0.scheduler == "wrr" && $0.key.port == 53 })
        let destinations = try backend.destinations(of: services[0])
        #expect(destinations.count == 3)
        // The services dump really came in several datagrams (the last one only NLMSG_DONE).
        #expect(received(recording).count >= 5)
        #expect(transport.problems == [])
        #expect(transport.finished)
    }

    @Test func cutDatagramIsReadToItsEndAndAskedAgain() throws {
        let (backend, transport, recording) = try replay("cut-datagram.netlink", readSize: 512)
        let datagrams = received(recording)
        // Recorded as it happened: one datagram longer than the 512 bytes read of it.
        #expect(datagrams.contains { $0.length > 512 && $0.bytes.count == 512 })
        #expect(try backend.services().count == 20)
        #expect(transport.problems == [])
        #expect(transport.finished)
    }

    @Test func pipelinedAcknowledgementsMatchTheirRequests() throws {
        let (backend, transport, recording) = try replay("pipelined.netlink")
        let results = backend.perform(FixtureScenario.pipelinedChanges)
        #expect(results[0] == nil)
        #expect(results[1] == IPVSError(.addService, errno: .fileExists))
        #expect(results[2] == IPVSError(.addDestination, errno: .noSuchProcess))
        #expect(results.dropFirst(3).allSatisfy { $0 == nil })
        // Two sends: a window of 128 requests, then the other 72.
        let sends = recording.events.filter { if case .sent = $0 { true } else { false } }
        #expect(sends.count == 1 + 2)
        #expect(transport.problems == [])
        #expect(transport.finished)
    }

    // MARK: Replies built by hand

    private static let family: UInt16 = 0x20
    private static let port: UInt32 = 4242

    /// The bytes of one request as the client frames it.
    private func request(_ command: IPVSCommand, sequence: UInt32, dump: Bool = false) -> [UInt8] {
        var message = AttributeEncoder()
        let start = NetlinkMessage.beginRequest(
            in: &message, family: Self.family, flags: dump ? [.request, .acknowledge, .dump] : [.request, .acknowledge],
            sequence: sequence, port: Self.port)
        NetlinkMessage.endRequest(in: &message, from: start, command: command.rawValue)
        return message.bytes
    }

    /// One reply message: header, then `payload`.
    private func message(type: UInt16, sequence: UInt32, payload: [UInt8], claimedLength: Int? = nil) -> [UInt8] {
        var message = AttributeEncoder()
        NetlinkMessage.appendHeader(
            to: &message, length: UInt32(claimedLength ?? NetlinkMessage.headerLength + payload.count), type: type,
            flags: 0, sequence: sequence, port: Self.port)
        payload.withUnsafeBytes { message.append(raw: $0) }
        message.pad()
        return message.bytes
    }

    private func errorMessage(_ value: Int32, sequence: UInt32) -> [UInt8] {
        withUnsafeBytes(of: value) { message(type: NetlinkMessage.typeError, sequence: sequence, payload: Array($0)) }
    }

    /// Runs one `flush` request against hand-made reply datagrams.
    private func flush(replies: [[UInt8]]) -> (Errno?, ScriptedTransport) {
        var recording = NetlinkRecording(family: Self.family, port: Self.port, firstSequence: 7)
        recording.events = [.sent(request(.flush, sequence: 7))] + replies.map { .received($0, length: $0.count) }
        let transport = ScriptedTransport(replaying: recording.events)
        let client = NetlinkClient(transport: transport, family: Self.family, port: Self.port, firstSequence: 7)
        do throws(Errno) {
            try client.request(.flush) { _ in }
            return (nil, transport)
        } catch {
            return (error, transport)
        }
    }

    @Test(arguments: zip([Int32(-17), -1, -4095], [Errno.fileExists, .notPermitted, Errno(rawValue: 4095)]))
    func errnosAreTheKernels(value: Int32, expected: Errno) {
        #expect(flush(replies: [errorMessage(value, sequence: 7)]).0 == expected)
    }

    @Test(arguments: [Int32.min, -4096, 1, 17, Int32.max])
    func numbersThatAreNoErrnoAreProtocolErrors(value: Int32) {
        #expect(flush(replies: [errorMessage(value, sequence: 7)]).0 == .protocolError)
    }

    @Test func anErrorTooShortToHoldItsNumberIsAProtocolError() {
        #expect(flush(replies: [message(type: NetlinkMessage.typeError, sequence: 7, payload: [0, 0])]).0 == .protocolError)
    }

    @Test func repliesToOtherRequestsAreSkipped() {
        // A late error for an earlier request, then this one's acknowledgement, in one datagram.
        let (error, transport) = flush(replies: [errorMessage(-2, sequence: 6) + errorMessage(0, sequence: 7)])
        #expect(error == nil)
        #expect(transport.finished)
    }

    @Test func aMessageLongerThanItsDatagramIsAProtocolError() {
        let cut = message(type: NetlinkMessage.typeError, sequence: 7, payload: [0, 0, 0, 0], claimedLength: 64)
        #expect(flush(replies: [cut]).0 == .protocolError)
    }

    @Test func aTransportFailureIsItsErrno() {
        // No reply at all: the replay answers a read as a receive timeout does.
        #expect(flush(replies: []).0 == .resourceTemporarilyUnavailable)
    }

    @Test func aDumpsFailureIsInItsDone() {
        var done: [UInt8] = []
        withUnsafeBytes(of: Int32(-EINVAL)) { done = message(type: NetlinkMessage.typeDone, sequence: 3, payload: Array($0)) }
        var recording = NetlinkRecording(family: Self.family, port: Self.port, firstSequence: 3)
        recording.events = [.sent(request(.getService, sequence: 3, dump: true)), .received(done, length: done.count)]
        let client = NetlinkClient(
            transport: ScriptedTransport(replaying: recording.events), family: Self.family, port: Self.port, firstSequence: 3)
        #expect(throws: Errno.invalidArgument) { try client.request(.getService, dump: true) { _ in } }
    }
}
