/// A rules file read line by line as `-R` reads it, for the commands that read one beside the
/// kernel's table (the checker's declarations, `-S --checks-from`, `--doctor --rules`).
enum RulesFileLines {
    /// Calls `body` with the number, the parsed entry and the words of each line that is
    /// neither blank nor a comment (by bytes: "\r\n" is one Character, and a CR is a blank to
    /// `-R`). A line the parser refuses ends the walk with `refused(number, message)`.
    static func forEach<Bytes: Collection<UInt8>, Failure: Error>(
        _ bytes: Bytes, parser: Parser, refused: (Int, String) -> Failure,
        _ body: (Int, CommandEntry, Words) throws(Failure) -> Void
    ) throws(Failure) {
        var number = 0
        var words = Words()
        for line in bytes.split(separator: 0x0a, omittingEmptySubsequences: false) {
            number += 1
            words.bytes = Array(line)
            RestoreLine.split(&words)
            if words.isEmpty || words.byte(0, 0) == UInt8(ascii: "#") { continue }
            let entry: CommandEntry
            do throws(Termination) {
                entry = try parser.parse(words)
            } catch {
                switch error {
                case .line(let message): throw refused(number, message)
                case .process(_, _, let err):
                    throw refused(number, err.isEmpty ? "not a line of a rules file" : String(err.dropLast()))
                }
            }
            try body(number, entry, words)
        }
    }
}
