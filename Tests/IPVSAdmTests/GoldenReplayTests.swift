import IPVS
import IPVSAdm
import IPVSTestSupport
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
        let resolver = HostsResolver(services: .system)
        for invocation in golden.invocations {
            let outcome = CLI.run(invocation.arguments, on: backend, stdin: invocation.stdin ?? "", resolver: resolver)
            let context = Comment(rawValue: "ipvsadm " + invocation.arguments.joined(separator: " "))
            #expect(outcome.stdout == invocation.stdout, context)
            #expect(outcome.stderr == invocation.stderr, context)
            #expect(String(outcome.status) == invocation.status, context)
        }
    }

    @Test func transcriptsAreThere() {
        #expect(GoldenReplayTests.cases.count > 0)
    }
}
