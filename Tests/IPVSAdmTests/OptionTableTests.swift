import Glibc
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// Every option of the table is documented where an admin meets it: the man page and the bash
/// completion. (ipvsadm's -h text is its own, byte for byte; our options are not added to it.)
@Suite struct OptionTableTests {
    static func repositoryFile(_ path: String) -> String { Repository.text(path) ?? "" }

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
