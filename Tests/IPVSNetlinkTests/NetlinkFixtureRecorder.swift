import Glibc
import IPVS
import Testing

@_spi(Testing) @testable import IPVSNetlink

/// Where `Scripts/kernel-test --record` wants the recordings written (the fixtures folder).
private let recordInto: String? = getenv("IPVS_RECORD_NETLINK").map { String(cString: $0) }

/// Records the conversations `NetlinkClientTests` replays, from the real kernel (in the VM,
/// `Scripts/kernel-test --record`). Each scenario is its own socket and its own file.
@Suite(.serialized, .enabled(if: kernelAvailable && recordInto != nil, "set IPVS_RECORD_NETLINK=DIR, in the VM"))
struct NetlinkFixtureRecorder {
    /// An unrecorded backend, to set up and clean up.
    let helper: NetlinkBackend

    init() throws {
        helper = try NetlinkBackend.open()
        try helper.apply(.flush)
    }

    private func record(
        _ name: String, _ description: String, readSize: Int = NetlinkClient.initialReadSize,
        _ body: (NetlinkBackend) throws -> Void
    ) throws {
        let socket = try NetlinkSocket(readSize: NetlinkClient.initialReadSize)
        let recorder = RecordingTransport(socket, firstSequence: 1)
        let client = NetlinkClient(transport: recorder, family: socket.family, port: socket.port, readSize: readSize)
        let backend = try NetlinkBackend(client: client)
        try body(backend)
        var system = utsname()
        uname(&system)
        let release = withUnsafeBytes(of: &system.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let text = recorder.recording.text(comment: """
            \(description)
            Recorded from Linux \(release) in the test VM by Scripts/kernel-test --record
            (Tests/IPVSNetlinkTests/NetlinkFixtureRecorder.swift); replayed by NetlinkClientTests.
            """)
        let path = recordInto! + "/" + name
        guard let file = fopen(path, "w") else { throw Errno.current }
        fputs(text, file)
        fclose(file)
        try helper.apply(.flush)
    }

    static let web = FixtureScenario.web

    /// Many services of three real servers each: a services dump of several datagrams.
    private func fill(services count: Int) throws {
        for index in 0..<count {
            let service = VirtualService(
                key: .address(protocol: .udp, address: v4(0x0a04_0000 + UInt32(index)), port: 53), scheduler: "wrr")
            try helper.apply(.addService(service))
            for server in 1...3 {
                try helper.apply(.addDestination(
                    Destination(address: v4(0x0a05_0000 + UInt32(index * 4 + server)), port: 53), to: service))
            }
        }
    }

    @Test func infoAcknowledgementsAndErrors() throws {
        try record("info-ack-error.netlink", "GET_INFO; NEW_SERVICE acknowledged; the same again refused (EEXIST); DEL_SERVICE acknowledged.") {
            (backend) throws in
            try backend.apply(.addService(Self.web))
            #expect(throws: IPVSError.self) { try backend.apply(.addService(Self.web)) }
            try backend.apply(.deleteService(Self.web))
        }
    }

    @Test func multiPartDumps() throws {
        try fill(services: 100)
        try record("dumps.netlink", "GET_INFO; a GET_SERVICE dump of 100 services over several datagrams; the GET_DEST dump of one of them (3 real servers).") {
            (backend) throws in
            let services = try backend.services()
            #expect(services.count == 100)
            #expect(try backend.destinations(of: services[0]).count == 3)
        }
    }

    @Test func cutDatagram() throws {
        try fill(services: 20)
        try record("cut-datagram.netlink", "GET_INFO; a GET_SERVICE dump of 20 services read 512 bytes at a time: the first datagram is cut, the reply is read to its end, and the dump asked again with 64 KiB reads.", readSize: 512) {
            (backend) throws in
            #expect(try backend.services().count == 20)
        }
    }

    @Test func pipelinedChanges() throws {
        try record("pipelined.netlink", "GET_INFO; 200 changes in two sends (windows of 128): a service added twice (EEXIST), a real server for a missing service (ESRCH), then 196 services.") {
            (backend) throws in
            let results = backend.perform(FixtureScenario.pipelinedChanges)
            #expect(results.compactMap { $0 }.count == 2)
        }
    }
}
