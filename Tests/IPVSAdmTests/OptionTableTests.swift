import Glibc
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// Every option of the table is documented where an admin meets it: the man page and the bash
/// completion. (ipvsadm's -h text is its own, byte for byte; our options are not added to it.)
@Suite struct OptionTableTests {
    static func repositoryFile(_ path: String) -> String { Repository.text(path) ?? "" }

    static let longNames = Set(optionTable.compactMap(\.long))

    /// The man page as text: roff's escaped hyphens (`\-`) and font changes (`\fB`) undone.
    static let manual = ["\\fB", "\\fI", "\\fR", "\\fP"].reduce(
        repositoryFile("Distribution/man/ipvsadm.8").replacingAll("\\-", with: "-")
    ) { text, font in text.replacingAll(font, with: " ") }
    /// The bash completion of ipvsadm itself: up to its `complete` line (its companions'
    /// options follow).
    static let completion = repositoryFile("Distribution/completion/ipvsadm")
        .split(separator: "complete -F _ipvsadm ipvsadm\n").first.map(String.init) ?? ""
    /// What the man page writes as a long option but is not one: `--option=value` stands
    /// for any of them.
    static let placeholders: Set = ["option"]

    /// The long options `text` mentions, as whole words: `--` not inside a word, then the
    /// longest run of letters, digits and hyphens (`--pe` in `--persistent` is not `--pe`).
    static func longOptions(in text: String) -> Set<String> {
        func isWordByte(_ byte: UInt8) -> Bool {
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2d
        }
        let bytes = Array(text.utf8)
        var names: Set<String> = []
        var index = 0
        while index + 2 < bytes.count {
            guard bytes[index] == 0x2d, bytes[index + 1] == 0x2d, index == 0 || !isWordByte(bytes[index - 1]) else {
                index += 1
                continue
            }
            var end = index + 2
            while end < bytes.count && isWordByte(bytes[end]) { end += 1 }
            if end > index + 2 { names.insert(String(decoding: bytes[(index + 2)..<end], as: UTF8.self)) }
            index = end
        }
        return names
    }

    @Test(arguments: longNames.sorted())
    func documented(_ name: String) {
        #expect(Self.longOptions(in: Self.manual).contains(name), "man page")
        #expect(Self.longOptions(in: Self.completion).contains(name), "bash completion")
    }

    @Test func everyDocumentedOptionExists() {
        #expect(Self.longOptions(in: Self.manual).subtracting(Self.placeholders).subtracting(Self.longNames) == [])
        #expect(Self.longOptions(in: Self.completion).subtracting(Self.longNames) == [])
    }

    /// The check itself: whole words only.
    @Test func wordsAreWhole() {
        #expect(Self.longOptions(in: "-p --persistent [--pe x] a--b --metrics=servers\n--") == [
            "persistent", "pe", "metrics",
        ])
        #expect(!Self.longOptions(in: "--persistent").contains("pe"))
    }

    @Test func everyMatrixColumnHasAnOption() {
        let columns = Set(optionTable.compactMap { row -> OptionBit? in
            if case .option(let column?, _) = row.role { return column }
            return nil
        })
        #expect(columns == Set(OptionBit.allCases))
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
