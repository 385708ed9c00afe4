import Glibc
import Testing

@testable import IPVSAdm

/// Every option of the table is documented where an admin meets it: the man page and the bash
/// completion. (ipvsadm's -h text is its own, byte for byte; our options are not added to it.)
@Suite struct OptionTableTests {
    static func repositoryFile(_ path: String, filePath: String = #filePath) -> String {
        let root = filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
        guard let file = fopen(root + "/" + path, "r") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        while true {
            let c = fgetc(file)
            if c == EOF { break }
            bytes.append(UInt8(c))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static let longNames = Set(optionTable.compactMap(\.long))

    @Test(arguments: longNames.sorted())
    func documented(_ name: String) {
        // roff escapes the hyphens.
        let manual = Self.repositoryFile("Distribution/man/ipvsadm.8").replacingAll("\\-", with: "-")
        let completion = Self.repositoryFile("Distribution/completion/ipvsadm")
        #expect(manual.contains("--" + name), "man page")
        #expect(completion.contains("--" + name), "bash completion")
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
