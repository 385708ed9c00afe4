import Glibc
import IPVSAdm
@testable import ProcessStreams
import Testing

/// `StandardInput` cuts lines as `Swift.readLine(strippingNewline: true)` does.
@Suite struct StandardInputTests {
    /// The lines of `bytes` read from a file through `StandardInput`.
    private func lines(_ bytes: [UInt8]) -> [[UInt8]] {
        var template = Array("/tmp/ipvsadm-stdin-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        precondition(descriptor >= 0)
        defer { close(descriptor) }
        unlink(template.withUnsafeBufferPointer { $0.baseAddress! })
        bytes.withUnsafeBytes { precondition(write(descriptor, $0.baseAddress, $0.count) == $0.count) }

        lseek(descriptor, 0, SEEK_SET)
        var byteLines: [[UInt8]] = []
        var line: [UInt8] = [1, 2, 3]
        let input = StandardInput(descriptor: descriptor)
        while input.readLine(into: &line) { byteLines.append(line) }
        #expect(!input.readLine(into: &line))
        return byteLines
    }

    @Test func newlinesAndTheLastLine() {
        #expect(lines(Array("a\r\nb\r\r\nc\n\n\r\nlast\r".utf8)) == [[97], [98, 13], [99], [], [], [108, 97, 115, 116, 13]])
    }

    @Test func emptyInputHasNoLines() {
        #expect(lines([]).isEmpty)
        #expect(lines(Array("\n".utf8)) == [[]])
    }

    @Test func invalidUTF8AndNULStayAsTheyAre() {
        #expect(lines([0xff, 0x20, 0x78, 0x0a, 0x00, 0x0a]) == [[0xff, 0x20, 0x78], [0]])
    }

    @Test func linesAcrossAndBeyondTheBlockSize() {
        // Lines that straddle the 64 KiB blocks, and one longer than a block.
        var text: [UInt8] = []
        var expected: [[UInt8]] = []
        for length in [70_000, 3, 65_535, 65_536, 1, 200_000, 10] {
            let line = (0..<length).map { UInt8(0x41 + $0 % 26) }
            expected.append(line)
            text += line + [0x0a]
        }
        #expect(lines(text) == expected)
    }
}
