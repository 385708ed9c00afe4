import Foundation
import IPVSTestSupport

/// The differential suite's golden transcripts (`Tests/Differential/golden/*.golden`),
/// recorded from the real ipvsadm on the real kernel in the VM, read back for unit tests.
struct GoldenTranscript {
    struct Invocation {
        var arguments: [String]
        var stdin: String?
        var stdout = ""
        var stderr = ""
        var status = ""
    }

    struct Case: CustomStringConvertible {
        let name: String
        var invocations: [Invocation] = []
        /// Has `%` lines: depends on the namespace's network set-up.
        var needsEnvironment = false
        var description: String { name }
    }

    static var differentialDirectory: URL {
        URL(fileURLWithPath: Repository.path("Tests/Differential"))
    }

    /// Every case of every golden file, with the overrides of deliberate deviations applied.
    static func allCases() -> [Case] {
        let directory = differentialDirectory.appendingPathComponent("golden")
        let overrides = differentialDirectory.appendingPathComponent("golden-overrides")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var cases: [Case] = []
        for file in files.sorted() where file.hasSuffix(".golden") {
            guard let text = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
                continue
            }
            for parsed in parse(text) {
                let override = overrides.appendingPathComponent(parsed.name + ".golden")
                if let overrideText = try? String(contentsOf: override, encoding: .utf8),
                   let replacement = parse(overrideText).first {
                    cases.append(replacement)
                } else {
                    cases.append(parsed)
                }
            }
        }
        return cases
    }

    static func parse(_ text: String) -> [Case] {
        var cases: [Case] = []
        var lastStream = 0  // 1 stdout, 2 stderr
        func appendToLast(_ body: (inout Invocation) -> Void) {
            guard !cases.isEmpty, !cases[cases.count - 1].invocations.isEmpty else { return }
            body(&cases[cases.count - 1].invocations[cases[cases.count - 1].invocations.count - 1])
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("=== ") {
                cases.append(Case(name: String(line.dropFirst(4))))
            } else if line.hasPrefix("$") {
                let words = shellWords(String(line.dropFirst(line.hasPrefix("$ ") ? 2 : 1)))
                if !cases.isEmpty { cases[cases.count - 1].invocations.append(Invocation(arguments: words)) }
            } else if line.hasPrefix("%") {
                if !cases.isEmpty { cases[cases.count - 1].needsEnvironment = true }
            } else if line == "<" || line.hasPrefix("< ") {
                appendToLast { $0.stdin = ($0.stdin ?? "") + String(line.dropFirst(2)) + "\n" }
            } else if line.hasPrefix("<~ ") {
                appendToLast { $0.stdin = ($0.stdin ?? "") + decodeEscapes(String(line.dropFirst(3))) }
            } else if line.hasPrefix("> ") {
                lastStream = 1
                appendToLast { $0.stdout += String(line.dropFirst(2)) + "\n" }
            } else if line.hasPrefix("! ") {
                lastStream = 2
                appendToLast { $0.stderr += String(line.dropFirst(2)) + "\n" }
            } else if line.hasPrefix("\\ no newline") {
                let stream = lastStream
                appendToLast {
                    if stream == 1 { $0.stdout.removeLast() } else if stream == 2 { $0.stderr.removeLast() }
                }
            } else if line.hasPrefix("? ") {
                appendToLast { $0.status = String(line.dropFirst(2)) }
            }
        }
        return cases
    }

    /// POSIX shell word splitting for the argument lines (quotes and backslashes).
    static func shellWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = Array(text)[...]
        while let c = iterator.popFirst() {
            switch c {
            case " ", "\t":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                while let d = iterator.popFirst(), d != "'" { current.append(d) }
            case "\"":
                inWord = true
                while let d = iterator.popFirst(), d != "\"" {
                    if d == "\\", let e = iterator.first, "\"\\$`".contains(e) {
                        current.append(iterator.removeFirst())
                    } else {
                        current.append(d)
                    }
                }
            case "\\":
                inWord = true
                if let d = iterator.popFirst() { current.append(d) }
            default:
                inWord = true
                current.append(c)
            }
        }
        if inWord { words.append(current) }
        return words
    }

    static func decodeEscapes(_ text: String) -> String {
        var out = ""
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            guard c == "\\", let n = chars.popFirst() else { out.append(c); continue }
            switch n {
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "\\": out.append("\\")
            case "0": out.append("\0")
            case "x":
                let hex = String(chars.prefix(2))
                chars = chars.dropFirst(2)
                out.append(Character(Unicode.Scalar(UInt8(hex, radix: 16) ?? 0)))
            default: out.append("\\"); out.append(n)
            }
        }
        return out
    }
}
