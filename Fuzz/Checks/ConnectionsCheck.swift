import IPVS
import IPVSTestSupport

/// `connections`: the first byte picks the listing (bit 0: names instead of `-n`; bit 1:
/// `--persistent-conn`), the rest is the body of `/proc/net/ip_vs_conn` (the lines after its
/// header). ipvsadm reads the file with `fgets` into a 256-byte buffer, so a line and its
/// newline, or 255 bytes of a longer line, is one piece; each piece after the header goes to
/// `sscanf`, which returns EOF for a piece without any field (nothing but `isspace` white
/// space before the end of the C string, the first NUL), and then ipvsadm stops silently
/// with status 1. So:
/// - without such a piece: status 0, the two header lines and one output line per piece;
/// - with one: status 1, the header and one output line per piece before it;
/// - nothing on stderr; and nothing traps, whatever the bytes.
enum ConnectionsCheck {
    static func run(_ input: [UInt8]) throws(FuzzFailure) {
        let flags = input.first ?? 0
        var arguments = flags & 1 == 0 ? ["-Lnc"] : ["-Lc"]
        if flags & 2 != 0 { arguments.append("--persistent-conn") }

        var lines = input.dropFirst().split(separator: 0x0a, omittingEmptySubsequences: false)
        if input.count > 1 && input.last == 0x0a { lines.removeLast() }
        let backend = Harness.kernel()
        backend.connectionLines = lines.map { String(decoding: $0, as: UTF8.self) }
        let outcome = CLI.run(arguments, on: backend)

        // The file as the CLI gets it, in fgets' pieces; the first is the header.
        let file = (try? backend.connectionTable()) ?? ""
        let pieces = fgetsPieces(Array(file.utf8)).dropFirst()
        let blank = pieces.firstIndex { piece in
            piece.prefix { $0 != 0 }.allSatisfy { $0 == 0x20 || (0x09...0x0d).contains($0) }
        }
        let rows = (blank ?? pieces.endIndex) - pieces.startIndex
        var printed = outcome.stdout.utf8.split(separator: 0x0a, omittingEmptySubsequences: false)
        if outcome.stdout.utf8.last == 0x0a { printed.removeLast() }
        let command = "ipvsadm " + arguments.joined(separator: " ")
        try expect(outcome.status == (blank == nil ? 0 : 1), "\(command): \(outcome)")
        try expect(outcome.stderr.isEmpty, "\(command): \(outcome)")
        try expect(
            printed.count == 2 + rows,
            "\(command) printed \(printed.count) lines for \(rows) connection lines: \(outcome)")
    }

    /// What successive `fgets(buffer, 256, file)` calls read: up to and including a newline,
    /// at most 255 bytes.
    static func fgetsPieces(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && end - start < 255 {
                end += 1
                if bytes[end - 1] == 0x0a { break }
            }
            pieces.append(bytes[start..<end])
            start = end
        }
        return pieces
    }
}
