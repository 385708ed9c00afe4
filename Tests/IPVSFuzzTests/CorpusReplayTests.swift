import IPVSFuzz
import IPVSTestSupport
import Testing

/// Every committed input of every fuzz target (`Fuzz/Corpus/<target>/`) through that target's
/// checks: the properties the fuzzer looks for, kept true by every `swift test`.
@Suite struct CorpusReplayTests {
    static func corpusDirectory() -> String { Repository.path("Fuzz/Corpus") }

    static func inputs(_ target: FuzzTarget) -> [String] {
        Corpus.files(at: corpusDirectory() + "/" + target.rawValue)
    }

    @Test("the committed corpus passes its target's checks", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) {
        let paths = CorpusReplayTests.inputs(target)
        #expect(paths.count >= 3, "too few seeds for \(target)")
        for path in paths {
            guard let input = Corpus.contents(of: path) else {
                Issue.record("cannot read \(path)")
                continue
            }
            let failure = target.check(input)
            #expect(failure == nil, "\(path): \(failure?.description ?? "")")
        }
    }

    /// `-R` queues up to 1024 changes before it hands them to the kernel: an input longer than
    /// that (too long for the committed corpus) crosses the boundary, with refusals on both
    /// sides of it, and ends with a listing.
    @Test func restoreAcrossABatchBoundary() {
        var lines: [String] = []
        for index in 0..<1100 {
            let service = "-t 10.\(index / 250).\(index % 250).1:80"
            lines.append("-A \(service) -s rr")
            if index % 97 == 0 { lines.append("-A \(service) -s rr") }  // refused: it exists
        }
        lines.append("-Ln")
        let input = Array(lines.joined(separator: "\n").utf8)
        let failure = FuzzTarget.restore.check(input)
        #expect(failure == nil, "\(failure?.description.prefix(2000) ?? "")")
    }
}
