import Glibc
import IPVS
import Testing

@Suite struct WholeFileTests {
    @Test func aFileLargerThanOneReadComesWhole() throws {
        var template = Array("/tmp/wholefile.XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        try #require(descriptor >= 0)
        let path = String(cString: template)
        defer { unlink(path) }
        let contents = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        #expect(written == contents.count)
        #expect(try WholeFile.read(path) == contents)
    }

    @Test func aMissingFileIsItsErrno() {
        #expect(throws: Errno.noSuchFileOrDirectory) { try WholeFile.read("/nonexistent/wholefile") }
    }
}
