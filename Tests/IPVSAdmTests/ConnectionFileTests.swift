import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// `-c` reads `/proc/net/ip_vs_conn` as ipvsadm does: `fgets` into a 256-byte buffer (a line
/// longer than 255 bytes comes in pieces, each a line of its own), then `sscanf`, which reads
/// a C string (to its first NUL) in fields separated by `isspace`'s white space and returns
/// EOF for a piece without any field, where ipvsadm stops with status 1. Found by the
/// `connections` fuzz target (Docs/Testing.md).
@Suite struct ConnectionFileTests {
    static let line = "TCP 0A000064 9C40 0A000001 0050 0A000101 0050 ESTABLISHED     899 none"
    static let header = "IPVS connection entries\n"
        + "pro expire state       source             virtual            destination\n"
    static let row = "TCP 14:59  ESTABLISHED 10.0.0.100:40000   10.0.0.1:80        10.0.1.1:80\n"

    private func list(_ lines: [String]) -> Outcome {
        let backend = InMemoryBackend()
        backend.connectionLines = lines
        return CLI.run(["-Lnc"], on: backend)
    }

    @Test func crlfLinesAreOneLineEach() {
        // To Swift "\r\n" is one Character: split on it, two lines were one.
        let result = list([Self.line + "\r", Self.line + "\r"])
        #expect(result.stdout == Self.header + Self.row + Self.row)
        #expect(result.status == 0)
    }

    @Test func aLineStartingWithNulHasNoField() {
        let result = list([Self.line, "\0" + Self.line, Self.line])
        #expect(result.stdout == Self.header + Self.row)
        #expect(result.status == 1)
    }

    @Test func aNulEndsTheLine() {
        let result = list(["TCP 0A000064 9C40\0 0A000001 0050 0A000101 0050 ESTABLISHED 899 none"])
        #expect(result.stdout == Self.header + "TCP 00:00              10.0.0.100:40000   0.0.0.0:0          0.0.0.0:0\n")
    }

    @Test(arguments: ["\u{0B}", "\u{0C}", " \t\u{0B}\r"])
    func verticalTabAndFormFeedAreWhiteSpace(_ blank: String) {
        let result = list([Self.line, blank, Self.line])
        #expect(result.stdout == Self.header + Self.row)
        #expect(result.status == 1)
        #expect(list([Self.line.replacingSpaces(with: "\u{0B}")]).stdout == Self.header + Self.row)
    }

    @Test func aLineLongerThan255BytesIsReadInPieces() {
        let long = Self.line + " " + String(repeating: "A", count: 300)
        let result = list([long])
        // The first 255 bytes, then the rest (a field "AAA..." and nothing else).
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2 + 2)
        #expect(result.status == 0)
        // A line of exactly 255 bytes leaves its newline to a piece of its own: no field.
        let exact = Self.line + " " + String(repeating: "B", count: 255 - Self.line.utf8.count - 1)
        #expect(list([exact, Self.line]).status == 1)
    }

    @Test func aSpaceBeforeACombiningMarkSeparatesFields() {
        // To Swift " \u{301}" is one Character; to sscanf the space is white space.
        let result = list(["TCP \u{301}0A000064 9C40"])
        #expect(result.stdout.hasPrefix(Self.header + "TCP 00:00              "))
        #expect(result.status == 0)
    }
}

extension String {
    fileprivate func replacingSpaces(with separator: String) -> String {
        split(separator: " ").joined(separator: separator)
    }
}
