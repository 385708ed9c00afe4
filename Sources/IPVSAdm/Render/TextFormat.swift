import IPVS

/// printf-style padding and ipvsadm's number formats, without Foundation.
enum TextFormat {
    /// `%-Ns`: left-justified in `width` bytes.
    static func left(_ text: String, _ width: Int) -> String {
        let count = text.utf8.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    /// `%Ns`: right-justified in `width` bytes.
    static func right(_ text: String, _ width: Int) -> String {
        let count = text.utf8.count
        return count >= width ? text : String(repeating: " ", count: width - count) + text
    }

    /// The first `limit` bytes of an ASCII-compatible text (C's `buf[limit] = '\0'`).
    static func truncated(_ text: String, _ limit: Int) -> String {
        text.utf8.count <= limit ? text : String(decoding: text.utf8.prefix(limit), as: UTF8.self)
    }
}

/// Output text built directly as UTF-8 bytes, with printf-style padding and decimal numbers
/// written in place: listing a large table creates no intermediate string per field.
struct TextBuffer {
    private(set) var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func append(byte: UInt8) { bytes.append(byte) }

    /// Takes back the last byte (a row's newline, to add columns).
    mutating func removeLast() { bytes.removeLast() }

    /// Writes the bytes to `sink` and empties the buffer (keeping its storage).
    mutating func writeOut(to sink: any OutputSink) {
        sink.write(utf8: bytes)
        removeAll()
    }

    /// `writeOut` once the buffer holds more than 64 KiB: a large listing goes out as it is
    /// made, never held whole.
    mutating func writeOutIfLarge(to sink: any OutputSink) {
        if bytes.count > 1 << 16 { writeOut(to: sink) }
    }

    /// A row written in place by `body` into room for `capacity` bytes (which it must not
    /// exceed), then appended in one copy: the rows of listings of hundreds of thousands.
    mutating func appendRow(capacity: Int, _ body: (inout RowWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var row = RowWriter(buffer.baseAddress!)
            body(&row)
            bytes.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: row.count))
        }
    }

    mutating func spaces(_ count: Int) {
        guard count > 0 else { return }
        if count <= TextBuffer.blanks.count {
            bytes.append(contentsOf: TextBuffer.blanks[..<count])  // one copy, not a byte at a time
        } else {
            bytes.append(contentsOf: repeatElement(0x20, count: count))
        }
    }

    private static let blanks = [UInt8](repeating: 0x20, count: 64)

    /// `%-Ns`.
    mutating func append(_ text: String, left width: Int) {
        let start = bytes.count
        append(text)
        spaces(width - (bytes.count - start))
    }

    /// `%-Nu` / `%-Nd`.
    mutating func append(decimal value: some BinaryInteger, left width: Int = 0) {
        let start = bytes.count
        append(decimal: value)
        spaces(width - (bytes.count - start))
    }

    /// `" %-Nu"`: a table column, a space then the left-justified number.
    mutating func column(_ value: some BinaryInteger, left width: Int) {
        append(byte: 0x20)
        append(decimal: value, left: width)
    }

    /// `" %-Ns"`: a table column, a space then the left-justified text.
    mutating func column(_ text: String, left width: Int) {
        append(byte: 0x20)
        append(text, left: width)
    }

    /// `%Nu` / `%Nd`.
    mutating func append(decimal value: some BinaryInteger, right width: Int) {
        spaces(width - TextBuffer.digitCount(value))
        append(decimal: value)
    }

    /// `%u` / `%d`.
    mutating func append(decimal value: some BinaryInteger) {
        // Written into a local buffer, then copied in one piece (a row of a large listing
        // writes several numbers).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in  // sign and 20 digits
            guard let base = buffer.baseAddress else { return }
            var count = 0
            if value < 0 {
                base[0] = 0x2d
                count = 1
            }
            count += DecimalDigits.write(UInt64(value.magnitude), at: base + count)
            bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        }
    }

    /// Characters of `%d` of `value` (sign included).
    static func digitCount(_ value: some BinaryInteger) -> Int {
        var count = value < 0 ? 2 : 1
        var rest = UInt64(value.magnitude)
        while rest >= 10 { rest /= 10; count += 1 }
        return count
    }

    /// `print_largenum`: 9 characters, scaled to K/M/G/T with truncation unless exact.
    mutating func append(largeNumber value: UInt64, exact: Bool) {
        if exact {
            let digits = TextBuffer.digitCount(value)
            append(decimal: value, right: digits <= 8 ? 9 : digits + 1)
            return
        }
        switch value {
        case ..<100_000_000: append(decimal: value, right: 9)
        case ..<1_000_000_000: append(decimal: value / 1000, right: 8); append(byte: 0x4b)
        case ..<100_000_000_000: append(decimal: value / 1_000_000, right: 8); append(byte: 0x4d)
        case ..<100_000_000_000_000: append(decimal: value / 1_000_000_000, right: 8); append(byte: 0x47)
        default: append(decimal: value / 1_000_000_000_000, right: 8); append(byte: 0x54)
        }
    }
}

/// Bytes written at a cursor into memory that has room for them (`TextBuffer.appendRow`):
/// printf's `%-Ns`, `%u` and IPv4 text without a call into the buffer per field.
struct RowWriter {
    private let base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0

    init(_ base: UnsafeMutablePointer<UInt8>) { self.base = base }

    mutating func byte(_ value: UInt8) {
        base[count] = value
        count += 1
    }

    mutating func text(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            guard let source = utf8.baseAddress else { return }
            (base + count).update(from: source, count: utf8.count)
            count += utf8.count
        }
    }

    /// `%-Ns`: the text, then spaces up to `width`.
    mutating func text(_ text: String, left width: Int) {
        let start = count
        self.text(text)
        pad(from: start, to: width)
    }

    /// Spaces until `width` bytes were written since `start`.
    mutating func pad(from start: Int, to width: Int) {
        while count - start < width { byte(0x20) }
    }

    /// `%u`.
    mutating func decimal(_ value: UInt32) {
        count += DecimalDigits.write(UInt64(value), at: base + count)
    }

    /// An IPv4 address (host order) as `a.b.c.d`.
    mutating func dottedQuad(_ value: UInt32) {
        count += IPAddress.writeDottedQuad(value, into: UnsafeMutableBufferPointer(start: base + count, count: 15))
    }
}

/// The decimal digits of an unsigned number, written in place: the one writer of numbers for
/// the text and JSON outputs.
enum DecimalDigits {
    /// Writes the digits of `value` at `start` (room for 20) and returns how many.
    @inline(__always) static func write(_ value: UInt64, at start: UnsafeMutablePointer<UInt8>) -> Int {
        var digits = 1
        var power: UInt64 = 10
        while digits < 20 && value >= power {
            digits += 1
            power &*= 10
        }
        var rest = value
        var index = digits
        repeat {
            index -= 1
            start[index] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
            rest /= 10
        } while index > 0
        return digits
    }
}
