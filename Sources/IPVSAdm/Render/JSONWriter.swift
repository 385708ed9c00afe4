import IPVS

/// Writes one JSON document into a `TextBuffer`, without Foundation: objects and arrays opened
/// and closed in order, commas placed by the writer, strings escaped (RFC 8259), integers
/// written whole (a 64-bit counter is never rounded).
struct JSONWriter {
    private(set) var out = TextBuffer()
    /// Per open container: whether it has a member yet (a comma is due before the next).
    private var filled: [Bool] = []

    mutating func beginObject() { open(0x7b) }
    mutating func endObject() { close(0x7d) }
    mutating func beginArray() { open(0x5b) }
    mutating func endArray() { close(0x5d) }

    /// `"key":` inside an object; the value follows.
    mutating func key(_ name: String) {
        separate()
        string(name)
        out.append(byte: 0x3a)
        // The value written next is this member's, not a new one.
        filled[filled.count - 1] = false
    }

    mutating func value(_ text: String) {
        separate()
        string(text)
    }

    mutating func value(_ number: some BinaryInteger) {
        separate()
        out.append(decimal: number)
    }

    mutating func value(_ flag: Bool) {
        separate()
        out.append(flag ? "true" : "false")
    }

    /// A member with a string value.
    mutating func member(_ name: String, _ text: String) {
        key(name)
        value(text)
    }

    /// A member with an integer value.
    mutating func member(_ name: String, _ number: some BinaryInteger) {
        key(name)
        value(number)
    }

    /// A member whose value is an array of strings.
    mutating func member(_ name: String, strings: [String]) {
        key(name)
        beginArray()
        for text in strings { value(text) }
        endArray()
    }

    /// The document and a newline, as ipvsadm's listings end.
    var bytes: [UInt8] {
        var copy = out
        copy.append(byte: 0x0a)
        return copy.bytes
    }

    private mutating func open(_ bracket: UInt8) {
        separate()
        out.append(byte: bracket)
        filled.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        filled.removeLast()
        out.append(byte: bracket)
        if !filled.isEmpty { filled[filled.count - 1] = true }
    }

    /// A comma before every member but the first of its container.
    private mutating func separate() {
        guard let last = filled.last else { return }
        if last { out.append(byte: 0x2c) }
        filled[filled.count - 1] = true
    }

    private mutating func string(_ text: String) {
        out.append(byte: 0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22: out.append("\\\"")
            case 0x5c: out.append("\\\\")
            case 0x0a: out.append("\\n")
            case 0x0d: out.append("\\r")
            case 0x09: out.append("\\t")
            case 0..<0x20:
                out.append("\\u00")
                out.append(byte: JSONWriter.hex[Int(byte >> 4)])
                out.append(byte: JSONWriter.hex[Int(byte & 0xf)])
            default: out.append(byte: byte)
            }
        }
        out.append(byte: 0x22)
    }

    private static let hex = Array("0123456789abcdef".utf8)
}
