import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// What `IPVSAdm.run` reads before it opens the kernel: `-h`/`-v` as the first word (answered
/// without one) and `--netns` (before the command or after it).
@Suite struct BeforeKernelTests {
    /// How a command line ended: where the kernel was opened ("-": not at all, "root": the
    /// caller's namespace), the status, stderr and the second line of stdout.
    static func run(_ arguments: [String]) -> String {
        var opened = "-"
        let outcome = CLI.run(arguments, on: InMemoryBackend(), opened: { opened = $0 ?? "root" })
        let lines = outcome.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return "\(opened) \(outcome.status) \(outcome.stderr)| \(lines.count > 1 ? lines[1] : "")"
    }

    /// The second line of `-h`, `-v` and `-Ln` in an empty table.
    static let usage = "Usage:"
    static let version = ""
    static let listing = "Prot LocalAddress:Port Scheduler Flags"

    @Test(arguments: [
        // -h and -v as the first word, whole: no kernel.
        (["-h"], "- 0 | \(usage)"),
        (["--help", "--bogus"], "- 0 | \(usage)"),
        (["-v"], "- 0 | \(version)"),
        (["--version", "-L"], "- 0 | \(version)"),
        // Elsewhere, or not a whole word, they are the parser's, after the kernel.
        (["-hn"], "root 0 | \(usage)"),
        (["x", "-h"], "root 0 | \(usage)"),
        (["--netns", "blue", "-h"], "blue 0 | \(usage)"),
        (["-L", "-h"], "root 2 invalid option `-h'\n| "),
        (["--help=1"], "root 255 Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n| "),
    ])
    func helpAndVersion(_ arguments: [String], _ expected: String) {
        #expect(Self.run(arguments).hasPrefix(expected), "\(arguments)")
    }

    @Test(arguments: [
        (["--netns", "blue", "-Ln"], "blue 0 | \(listing)"),
        (["--netns=blue", "-Ln"], "blue 0 | \(listing)"),
        (["-Ln", "--netns", "blue"], "blue 0 | \(listing)"),
        (["-Ln", "--netns=blue"], "blue 0 | \(listing)"),
        (["--netns", "blue"], "blue 0 | \(listing)"),
        (["--netns", "-Ln"], "-Ln 0 | \(listing)"),
        // Leading ones: the last one counts.
        (["--netns=a", "--netns", "b", "-Ln"], "b 0 | \(listing)"),
        // One before and one after the command, or two after it.
        (["--netns", "a", "-Ln", "--netns", "b"], "- 2 multiple 'netns' options specified\n| "),
        (["-Ln", "--netns", "a", "--netns", "b"], "b 2 multiple 'netns' options specified\n| "),
        // A leading one without its name; one after the command is the parser's to report.
        (["--netns"], "- 255 --netns: missing argument\n| "),
        (["--netns=a", "--netns"], "- 255 --netns: missing argument\n| "),
        (["-L", "--netns"], "root 255 --netns: missing argument\n| "),
        // Not before the command: a word that is not an option comes first.
        (["x", "--netns", "a", "-L"], "a 255 Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n| "),
        (["--netnsx", "a", "-L"], "root 255 Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n| "),
    ])
    func networkNamespace(_ arguments: [String], _ expected: String) {
        #expect(Self.run(arguments) == expected, "\(arguments)")
    }
}
