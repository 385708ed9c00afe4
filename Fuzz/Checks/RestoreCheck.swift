import IPVS
import IPVSAdm

/// `restore`: the input is `-R`'s standard input. `ipvsadm -R` on a fresh kernel must end with
/// the same table, stdout, stderr and status as the model below, which runs the lines one at a
/// time through `IPVSAdm.run` on another fresh kernel with ipvsadm's rules for `-R` (spec 3.2):
/// - a line is split into runs of characters other than space, TAB, CR and LF; a word that is
///   exactly `ipvsadm` is dropped; a line with no word is skipped;
/// - a line that ends the process ends the restore with its status: a usage error (2), a
///   listing that failed (1), "Try ..." (255: no command first, or `-R` inside `-R`), `-h` and
///   `-v` (0, with their text on stdout);
/// - a refused change and popt's errors (255) are printed and the next line runs;
/// - the status is the last line's;
/// - a line with a NUL byte stops the restore with `line N: NUL byte in input`, status 2 (a
///   deliberate deviation, Docs/Compatibility.md).
/// `-R` hands consecutive changes to the backend in batches and prints their errors later;
/// this is what shows that the batching changes nothing.
enum RestoreCheck {
    /// - Parameter kernel: makes the kernel `-R` runs against (tests pass a faulty one); the
    ///   model runs against `Harness.kernel()`.
    static func run(_ input: [UInt8], kernel: () -> any IPVSBackend = Harness.kernel) throws(FuzzFailure) {
        let text = String(decoding: input, as: UTF8.self)
        let restored = kernel()
        let whole = Harness.run(["-R"], on: restored, stdin: TextSource(text))
        let stepped = Harness.kernel()
        let model = lineByLine(text, on: stepped)
        try expect(whole == model, "ipvsadm -R gave \(whole)\nline by line: \(model)")
        let (after, expected) = (TableSnapshot(restored), TableSnapshot(stepped))
        try expect(
            after == expected,
            "ipvsadm -R left a different table from line by line: \(after.difference(from: expected))\n"
                + "-R:\n\(Harness.save(restored))line by line:\n\(Harness.save(stepped))")
    }

    /// The model: every line its own `IPVSAdm.run`, with ipvsadm's rules for stopping.
    static func lineByLine(_ text: String, on backend: any IPVSBackend) -> Outcome {
        var total = Outcome(status: 0, stdout: "", stderr: "")
        let source = TextSource(text)
        var number = 0
        while let line = source.readLine() {
            number += 1
            if line.utf8.contains(0) {
                total.stderr += "line \(number): NUL byte in input\n"
                total.status = 2
                return total
            }
            let arguments = words(line)
            if arguments.isEmpty { continue }
            let stdin = WatchedInput()
            let outcome = Harness.run(arguments, on: backend, stdin: stdin)
            if stdin.wasRead {
                // The line was `-R`: inside `-R` ipvsadm refuses it with "Try ...".
                total.stderr += Harness.tryHelp
                total.status = 255
                return total
            }
            total.stdout += outcome.stdout
            total.stderr += outcome.stderr
            total.status = outcome.status
            if endsTheProcess(outcome) { return total }
        }
        return total
    }

    static func endsTheProcess(_ outcome: Outcome) -> Bool {
        switch outcome.status {
        case 0: return outcome.stdout.hasPrefix("ipvsadm v")  // -h, -v (usage_exit, version)
        case 255: return outcome.stderr.hasSuffix(Harness.tryHelp)  // tryhelp_exit
        default: return true  // fail(): usage errors; a listing that failed
        }
    }

    /// ipvsadm's `config_stream_read`: maximal runs of bytes other than space, TAB, CR, LF;
    /// the word `ipvsadm` dropped wherever it stands.
    static func words(_ line: String) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        func finish() {
            if !current.isEmpty && current != Array("ipvsadm".utf8) {
                words.append(String(decoding: current, as: UTF8.self))
            }
            current = []
        }
        for byte in line.utf8 {
            if byte == 0x20 || byte == 0x09 || byte == 0x0d || byte == 0x0a { finish() } else { current.append(byte) }
        }
        finish()
        return words
    }
}

/// Standard input that is empty and remembers whether anything asked for a line.
final class WatchedInput: InputSource {
    private(set) var wasRead = false
    func readLine() -> String? {
        wasRead = true
        return nil
    }
}
