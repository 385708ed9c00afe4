@testable import IPVSAdm
import Testing

/// popt's rules as ipvsadm's table sees them.
@Suite struct TokenizerTests {
    /// Reads every option as "long-name=argument" (or the failure), then the leftovers.
    static func read(_ words: [String]) -> [String] {
        var tokenizer = Tokenizer(words)
        var out: [String] = []
        while true {
            do {
                guard let option = try tokenizer.nextOption() else { break }
                out.append((option.spec.long ?? "?") + (option.argument.map { "=" + $0 } ?? ""))
            } catch {
                out.append("error(\(error.text)) at \(tokenizer.lastWord)")
                break
            }
        }
        return out + tokenizer.leftovers.map { "leftover:" + $0 }
    }

    @Test(arguments: [
        (["-Ln"], ["list", "numeric"]),
        (["-t10.0.0.1:80"], ["tcp-service=10.0.0.1:80"]),
        (["-A", "-t", "-1"], ["add-service", "tcp-service=-1"]),
        (["--tcp-service=1.2.3.4:80"], ["tcp-service=1.2.3.4:80"]),
        (["-p", "600"], ["persistent=600"]),
        (["-p600"], ["persistent=600"]),
        (["-p", "-n"], ["persistent", "numeric"]),
        (["--persistent"], ["persistent"]),
        (["-L", "foo", "-n"], ["list", "numeric", "leftover:foo"]),
        (["-L", "--", "-n"], ["list", "leftover:-n"]),
        (["-L", "-"], ["list", "leftover:-"]),
        (["-L", "--foo"], ["list", "error(unknown option) at --foo"]),
        (["-Lq"], ["list", "error(unknown option) at -Lq"]),
        (["-A", "-t"], ["add-service", "error(missing argument) at -t"]),
        (["--lis"], ["error(unknown option) at --lis"]),
        (["--numeric=1"], ["error(option does not take an argument) at --numeric=1"]),
    ])
    func popt(_ words: [String], _ expected: [String]) {
        #expect(TokenizerTests.read(words) == expected)
    }

    @Test(arguments: [
        ("-A -t 10.0.0.1:80", ["-A", "-t", "10.0.0.1:80"]),
        ("ipvsadm -A\t-t 10.0.0.1:80\r", ["-A", "-t", "10.0.0.1:80"]),
        ("   ", []),
        ("ipvsadmx -A ipvsadm\tipvsad", ["ipvsadmx", "-A", "ipvsad"]),
        ("-s \u{e9}\u{301}  x", ["-s", "\u{e9}\u{301}", "x"]),
    ])
    func restoreWords(_ line: String, _ expected: [String]) {
        #expect(RestoreLine.words(line) == expected)
    }
}
