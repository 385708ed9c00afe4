import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// Output that cannot be written is a failure with a message (a truncated save must not look
/// like a good one), except a reader that stopped early, which ends quietly as with ipvsadm.
@Suite struct OutputFailureTests {
    private func run(_ arguments: [String], stdout: BufferSink) -> (Int32, String) {
        let backend = InMemoryBackend()
        try? backend.apply(.addService(VirtualService(
            key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80), scheduler: "rr")))
        let outcome = CLI.run(arguments, on: backend, stdout: stdout)
        return (outcome.status, outcome.stderr)
    }

    @Test(arguments: [["-Sn"], ["-Ln"], ["-h"]])
    func aFullDiskIsAFailure(_ arguments: [String]) {
        let (status, message) = run(arguments, stdout: BufferSink(failingWith: .noSpace))
        #expect(status == 1)
        #expect(message == "Can't write standard output: No space left on device\n")
    }

    @Test func aReaderThatStoppedEarlyIsNot() {
        #expect(run(["-Sn"], stdout: BufferSink(failingWith: .brokenPipe)) == (0, ""))
    }

    @Test func aFailedCommandKeepsItsStatus() {
        let (status, message) = run(["-L", "-t", "10.9.9.9:80"], stdout: BufferSink(failingWith: .noSpace))
        #expect(status == 1)
        #expect(message.hasSuffix("Can't write standard output: No space left on device\n"))
    }
}

/// Input that is not a rules file is refused at the line that shows it.
@Suite struct CorruptInputTests {
    @Test func aNulByteStopsTheRestoreAtItsLine() {
        let backend = InMemoryBackend()
        let input = "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2\u{0}junk:90 -s rr\n-A -t 10.0.0.3:80 -s rr\n"
        let outcome = CLI.run(["-R"], on: backend, stdin: input)
        #expect(outcome.status == 2)
        #expect(outcome.stderr == "line 2: NUL byte in input\n")
        // The line before it was loaded, as -R loads line by line; nothing of it or after it.
        #expect((try? backend.services())?.map(\.key.port) == [80])
    }
}
