import IPVS
import IPVSAdm
import Testing

/// Replays the oracle's recorded transcripts against the CLI library and the in-memory
/// backend: the same expectations as the kernel suite, in milliseconds, on any machine.
///
/// Cases whose output depends on the kernel itself (its hash order, routes set up with
/// `%` lines, modules) are left to the kernel suite; `replayable` says which.
@Suite struct GoldenReplayTests {
    static let cases = GoldenTranscript.allCases()

    static func replayable(_ c: GoldenTranscript.Case) -> Bool {
        if c.needsEnvironment { return false }
        for invocation in c.invocations {
            // Kernel dump order (hash buckets) and live connection tables are the kernel's own.
            if invocation.arguments.contains(where: { $0.contains("nosort") }) {
                return false
            }
            if let stdin = invocation.stdin, stdin.contains("nosort") { return false }
        }
        return true
    }

    @Test("oracle transcripts replay byte for byte", arguments: cases.filter(replayable))
    func replay(_ golden: GoldenTranscript.Case) {
        let backend = InMemoryBackend()
        backend.isRoutable = InMemoryBackend.isUnicast
        let resolver = HostsResolver()
        for invocation in golden.invocations {
            let out = BufferSink()
            let err = BufferSink()
            let status = IPVSAdm.run(
                program: "ipvsadm", arguments: invocation.arguments, stdin: TextSource(invocation.stdin ?? ""),
                stdout: out, stderr: err, resolver: resolver, openBackend: { _ throws(IPVSError) in backend })
            let context = Comment(rawValue: "ipvsadm " + invocation.arguments.joined(separator: " "))
            #expect(out.text == invocation.stdout, context)
            #expect(err.text == invocation.stderr, context)
            #expect(String(status) == invocation.status, context)
        }
    }

    @Test func transcriptsAreThere() {
        #expect(GoldenReplayTests.cases.count > 0)
    }
}
