import IPVS

/// Writes one JSON document to an output sink, without Foundation: objects and arrays opened
/// and closed in order, commas placed by the writer, strings escaped (RFC 8259), integers
/// written whole (a 64-bit counter is never rounded).
///
/// A listing writes tens of members per real server (ten times the bytes of the text
/// listing), so the document goes out as it is written, through a 64 KiB buffer of the
/// writer's own that every piece is written straight into: keys are string literals with
/// nothing to escape, copied as they are; numbers and IPv4 addresses are written in place; a
/// string with nothing to escape is copied whole. Nothing is held but that buffer.
final class JSONWriter {
    private let sink: any OutputSink
    private static let capacity = 1 << 16
    private let buffer: UnsafeMutablePointer<UInt8>
    private var used = 0
    /// One bit per open container, the innermost lowest: whether it has a member yet (a comma
    /// is due before the next).
    private var filled: UInt64 = 0
    private var depth = 0

    init(to sink: any OutputSink) {
        self.sink = sink
        buffer = .allocate(capacity: JSONWriter.capacity)
    }

    deinit { buffer.deallocate() }

    func beginObject() { open(0x7b) }
    func endObject() { close(0x7d) }
    func beginArray() { open(0x5b) }
    func endArray() { close(0x5d) }

    /// `"key":` inside an object; the value follows. Keys are literals of letters, digits and
    /// `_` (nothing to escape).
    func key(_ name: StaticString) {
        separate()
        room(name.utf8CodeUnitCount + 3)
        put(0x22)
        put(name)
        put(0x22)
        put(0x3a)
        // The value written next is this member's, not a new one.
        filled &= ~1
    }

    func value(_ text: String) {
        separate()
        string(text)
    }

    func value(_ number: some BinaryInteger) {
        separate()
        room(21)  // a sign and 20 digits (UInt64.max)
        if number < 0 { put(0x2d) }
        used += DecimalDigits.write(UInt64(number.magnitude), at: buffer + used)
    }

    func value(_ flag: Bool) {
        separate()
        room(5)
        put(flag ? "true" : "false")
    }

    /// An address as a string (`inet_ntop`'s form, nothing to escape).
    func value(_ address: IPAddress) {
        separate()
        guard address.family == .inet else { return string(address.text) }
        room(17)
        put(0x22)
        used += IPAddress.writeDottedQuad(address.ipv4, into: UnsafeMutableBufferPointer(start: buffer + used, count: 15))
        put(0x22)
    }

    /// A member with a string value.
    func member(_ name: StaticString, _ text: String) {
        key(name)
        value(text)
    }

    /// A member with a string literal value (nothing to escape).
    func member(_ name: StaticString, literal text: StaticString) {
        key(name)
        separate()
        room(text.utf8CodeUnitCount + 2)
        put(0x22)
        put(text)
        put(0x22)
    }

    /// A member with an integer value.
    func member(_ name: StaticString, _ number: some BinaryInteger) {
        key(name)
        value(number)
    }

    /// A member with an address value.
    func member(_ name: StaticString, _ address: IPAddress) {
        key(name)
        value(address)
    }

    /// A member with a boolean value.
    func member(_ name: StaticString, _ flag: Bool) {
        key(name)
        value(flag)
    }

    /// A member whose value is a number already written as JSON writes one (`12.250`).
    func member(_ name: StaticString, number text: String) {
        key(name)
        separate()
        var text = text
        text.withUTF8 { bytes in
            room(bytes.count)
            put(bytes)
        }
    }

    /// A member whose value is an array of strings.
    func member(_ name: StaticString, strings: [String]) {
        key(name)
        beginArray()
        for text in strings { value(text) }
        endArray()
    }

    /// Ends the document with a newline, as ipvsadm's listings end, and writes out the rest.
    func finish() {
        precondition(depth == 0, "a JSON container left open")
        room(1)
        put(0x0a)
        drain()
    }

    private func open(_ bracket: UInt8) {
        separate()
        precondition(depth < UInt64.bitWidth, "JSON nested too deep")
        room(1)
        put(bracket)
        filled <<= 1
        depth += 1
    }

    private func close(_ bracket: UInt8) {
        filled >>= 1
        depth -= 1
        room(1)
        put(bracket)
        filled |= 1
    }

    /// A comma before every member but the first of its container.
    private func separate() {
        guard depth > 0 else { return }
        if filled & 1 != 0 {
            room(1)
            put(0x2c)
        }
        filled |= 1
    }

    private func string(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            room(2)
            put(0x22)
            // Most strings (names, states, schedulers) have nothing to escape: copied whole.
            if !utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) {
                put(utf8)
            } else {
                for byte in utf8 {
                    room(6)
                    switch byte {
                    case 0x22: put("\\\"")
                    case 0x5c: put("\\\\")
                    case 0x0a: put("\\n")
                    case 0x0d: put("\\r")
                    case 0x09: put("\\t")
                    case 0..<0x20:
                        put("\\u00")
                        put(JSONWriter.hex[Int(byte >> 4)])
                        put(JSONWriter.hex[Int(byte & 0xf)])
                    default: put(byte)
                    }
                }
            }
            room(1)
            put(0x22)
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    // MARK: The buffer

    /// Makes room for `count` more bytes (at most the capacity), writing out what is there.
    @inline(__always) private func room(_ count: Int) {
        if used + count > JSONWriter.capacity { drain() }
    }

    private func drain() {
        guard used > 0 else { return }
        sink.write(utf8: UnsafeBufferPointer(start: buffer, count: used))
        used = 0
    }

    /// The next byte; `room` made space for it.
    @inline(__always) private func put(_ byte: UInt8) {
        buffer[used] = byte
        used += 1
    }

    /// A literal's bytes; `room` made space for them.
    @inline(__always) private func put(_ text: StaticString) {
        (buffer + used).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        used += text.utf8CodeUnitCount
    }

    /// Bytes of any length: through the buffer, or straight out when longer than it.
    private func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        if used + bytes.count > JSONWriter.capacity {
            drain()
            if bytes.count > JSONWriter.capacity { return sink.write(utf8: bytes) }
        }
        guard let base = bytes.baseAddress else { return }
        (buffer + used).update(from: base, count: bytes.count)
        used += bytes.count
    }
}
