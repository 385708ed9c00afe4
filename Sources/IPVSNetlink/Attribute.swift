/// Netlink attributes (`struct nlattr`): a 4-byte header `{u16 len; u16 type}` in host order,
/// then the payload, padded to a multiple of 4 bytes (`NLA_ALIGNTO`). `len` counts the header
/// and the payload but not the padding.
enum NetlinkAttribute {
    static let headerLength = 4
    static let alignment = 4
    /// Type bits; the two high bits are the NESTED and NET_BYTEORDER flags.
    static let typeMask: UInt16 = 0x3fff
    /// `NLA_F_NESTED`.
    static let nestedFlag: UInt16 = 0x8000

    static func aligned(_ length: Int) -> Int { (length + alignment - 1) & ~(alignment - 1) }
}

/// Builds a sequence of attributes, as libnl's `nla_put_*` would.
struct AttributeEncoder {
    private(set) var bytes: [UInt8] = []

    init() {}

    /// Appends one attribute with a raw payload, plus padding.
    mutating func append<C: Collection>(_ type: UInt16, payload: C) where C.Element == UInt8 {
        let length = NetlinkAttribute.headerLength + payload.count
        appendHeader(type, length: length)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func append(_ type: UInt16, u8 value: UInt8) { append(type, payload: CollectionOfOne(value)) }
    /// Host byte order.
    mutating func append(_ type: UInt16, u16 value: UInt16) { appendInteger(type, value) }
    /// Host byte order.
    mutating func append(_ type: UInt16, u32 value: UInt32) { appendInteger(type, value) }
    /// Host byte order.
    mutating func append(_ type: UInt16, u64 value: UInt64) { appendInteger(type, value) }
    /// Network byte order (ports).
    mutating func append(_ type: UInt16, be16 value: UInt16) { appendInteger(type, value.bigEndian) }
    /// Network byte order (IPv4 netmask, IPv4 multicast group).
    mutating func append(_ type: UInt16, be32 value: UInt32) { appendInteger(type, value.bigEndian) }

    /// A NUL-terminated string (`nla_put_string`).
    mutating func append(_ type: UInt16, string: String) {
        var payload = Array(string.utf8)
        payload.append(0)
        append(type, payload: payload)
    }

    /// A nested attribute whose payload is built by `body`. The type carries NLA_F_NESTED,
    /// as libnl 3.7's `nla_nest_start` sets it in ipvsadm's requests (the kernel accepts
    /// nests with or without it; its own replies omit it).
    mutating func nest(_ type: UInt16, _ body: (inout AttributeEncoder) -> Void) {
        let start = bytes.count
        appendHeader(type | NetlinkAttribute.nestedFlag, length: 0)
        body(&self)
        let length = UInt16(truncatingIfNeeded: bytes.count - start)
        withUnsafeBytes(of: length) { raw in
            bytes[start] = raw[0]
            bytes[start + 1] = raw[1]
        }
    }

    private mutating func appendInteger<T: FixedWidthInteger>(_ type: UInt16, _ value: T) {
        appendHeader(type, length: NetlinkAttribute.headerLength + MemoryLayout<T>.size)
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
        pad()
    }

    private mutating func appendHeader(_ type: UInt16, length: Int) {
        withUnsafeBytes(of: UInt16(truncatingIfNeeded: length)) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: type) { bytes.append(contentsOf: $0) }
    }

    private mutating func pad() {
        let padding = NetlinkAttribute.aligned(bytes.count) - bytes.count
        if padding > 0 { bytes.append(contentsOf: repeatElement(0, count: padding)) }
    }
}

/// A parsed sequence of attributes over a byte buffer (no copies). Like `nla_parse`, a
/// later attribute of the same type replaces an earlier one, types are masked with
/// `NLA_TYPE_MASK`, unknown types are simply never asked for, and a truncated tail is ignored.
struct AttributeSet {
    private let bytes: ArraySlice<UInt8>
    private var entries: [(type: UInt16, payload: Range<Int>)] = []

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= NetlinkAttribute.headerLength {
            let length = Int(Self.load(UInt16.self, bytes, at: offset))
            let type = Self.load(UInt16.self, bytes, at: offset + 2) & NetlinkAttribute.typeMask
            guard length >= NetlinkAttribute.headerLength, length <= bytes.endIndex - offset else { break }
            entries.append((type, (offset + NetlinkAttribute.headerLength)..<(offset + length)))
            offset += NetlinkAttribute.aligned(length)
        }
    }

    /// The types present, in order (duplicates included).
    var types: [UInt16] { entries.map(\.type) }

    /// The payload of the last attribute of `type`.
    subscript(type: UInt16) -> ArraySlice<UInt8>? {
        guard let entry = entries.last(where: { $0.type == type }) else { return nil }
        return bytes[entry.payload]
    }

    func contains(_ type: UInt16) -> Bool { entries.contains { $0.type == type } }

    func u8(_ type: UInt16) -> UInt8? { integer(type) }
    /// Host byte order.
    func u16(_ type: UInt16) -> UInt16? { integer(type) }
    /// Host byte order.
    func u32(_ type: UInt16) -> UInt32? { integer(type) }
    /// Host byte order.
    func u64(_ type: UInt16) -> UInt64? { integer(type) }
    /// Network byte order.
    func be16(_ type: UInt16) -> UInt16? { integer(type).map { UInt16(bigEndian: $0) } }
    /// Network byte order.
    func be32(_ type: UInt16) -> UInt32? { integer(type).map { UInt32(bigEndian: $0) } }

    /// A string payload, up to its first NUL (`nla_get_string` on a NUL-terminated value).
    func string(_ type: UInt16) -> String? {
        guard let payload = self[type] else { return nil }
        let text = payload.prefix { $0 != 0 }
        return String(decoding: text, as: UTF8.self)
    }

    func nested(_ type: UInt16) -> AttributeSet? {
        guard let payload = self[type] else { return nil }
        return AttributeSet(payload)
    }

    private func integer<T: FixedWidthInteger>(_ type: UInt16) -> T? {
        guard let payload = self[type], payload.count >= MemoryLayout<T>.size else { return nil }
        return Self.load(T.self, payload, at: payload.startIndex)
    }

    private static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: ArraySlice<UInt8>, at offset: Int) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for i in 0..<MemoryLayout<T>.size { raw[i] = bytes[offset + i] }
        }
        return value
    }
}
