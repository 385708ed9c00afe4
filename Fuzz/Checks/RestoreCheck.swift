import IPVS
import IPVSTestSupport
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
///   deliberate deviation, Docs/Compatibility.md);
/// - ours only: a line that names a network namespace (`--netns`) stops the restore with
///   status 2 once it has parsed; `--apply` inside `-R` is refused like `-R` ("Try ...").
/// `-R` hands consecutive changes to the backend in batches and prints their errors later;
/// this is what shows that the batching changes nothing. An input with `--check` (a rules
/// file's health check: `-R` reads it, a command line refuses it) is outside the model and not
/// judged (HealthDeclarationTests cover it).
enum RestoreCheck {
    /// - Parameter kernel: makes the kernel `-R` runs against (tests pass a faulty one); the
    ///   model runs against `Harness.kernel()`.
    static func run(_ input: [UInt8], kernel: () -> any IPVSBackend = Harness.kernel) throws(FuzzFailure) {
        let text = String(decoding: input, as: UTF8.self)
        if declaresChecks(text) { return }
        let restored = kernel()
        let whole = CLI.run(["-R"], on: restored, stdin: TextSource(text))
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
        var bytes: [UInt8] = []
        while source.readLine(into: &bytes) {
            let line = String(decoding: bytes, as: UTF8.self)
            number += 1
            if line.utf8.contains(0) {
                total.stderr += "line \(number): NUL byte in input\n"
                total.status = 2
                return total
            }
            let arguments = words(line)
            if arguments.isEmpty { continue }
            if let first = arguments.first, first == "--netns" || first.hasPrefix("--netns=") {
                // A line's first word must be its command; `ipvsadm --netns N -L` is for the
                // command line only.
                total.stderr += Harness.tryHelp
                total.status = 255
                return total
            }
            let stdin = WatchedInput()
            let probe = Probe(backend, stdin: stdin)
            let outcome = CLI.run(arguments, on: probe, stdin: stdin, opened: { probe.namesNamespace = $0 != nil })
            if probe.namesNamespace && (probe.reached || stdin.wasRead) {
                // A line that parsed and names a namespace: no line may move the process.
                total.stderr += "--netns is not allowed in -R or --apply input\n"
                total.status = 2
                return total
            }
            if stdin.wasRead {
                // The line was `-R` or `--apply`: inside `-R` ipvsadm refuses it with "Try ...".
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

    /// Whether a line has the word `--check` or `--check=...` (long options are never
    /// abbreviated).
    static func declaresChecks(_ text: String) -> Bool {
        text.utf8.split(separator: 0x0a).contains { line in
            words(String(decoding: line, as: UTF8.self)).contains { $0 == "--check" || $0.hasPrefix("--check=") }
        }
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

/// The kernel as one line of the model sees it. Lines that `-R` would not carry out get
/// their changes refused and left undone: a line that names a network namespace, and one
/// that reads standard input (`-R`, `--apply`). `reached` tells whether the line got past
/// its parsing to the kernel.
final class Probe: IPVSBackend {
    private let kernel: any IPVSBackend
    private let stdin: WatchedInput
    var namesNamespace = false
    private(set) var reached = false

    init(_ kernel: any IPVSBackend, stdin: WatchedInput) {
        self.kernel = kernel
        self.stdin = stdin
    }

    private var refusing: Bool { namesNamespace || stdin.wasRead }

    func info() throws(IPVSError) -> IPVSInfo { try kernel.info() }

    func apply(_ modification: Modification) throws(IPVSError) {
        reached = true
        if refusing { throw IPVSError(modification.operation, errno: .notPermitted) }
        try kernel.apply(modification)
    }

    func perform(_ modifications: [Modification]) -> [IPVSError?] {
        reached = true
        if refusing { return modifications.map { IPVSError($0.operation, errno: .notPermitted) } }
        return kernel.perform(modifications)
    }

    func services() throws(IPVSError) -> [VirtualService] {
        reached = true
        return try kernel.services()
    }

    func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService {
        reached = true
        return try kernel.service(key)
    }

    func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
        reached = true
        return try kernel.destinations(of: service)
    }

    func timeouts() throws(IPVSError) -> Timeouts {
        reached = true
        return try kernel.timeouts()
    }

    func daemons() throws(IPVSError) -> [SyncDaemon] {
        reached = true
        return try kernel.daemons()
    }

    func connectionTable() throws(Errno) -> String {
        reached = true
        return try kernel.connectionTable()
    }
}

/// Standard input that remembers whether anything asked for a line.
final class WatchedInput: InputSource {
    private let source: TextSource
    private(set) var wasRead = false

    init(_ text: String = "") { source = TextSource(text) }

    func readLine(into line: inout [UInt8]) -> Bool {
        wasRead = true
        return source.readLine(into: &line)
    }
}
