import IPVS

/// Netlink attributes (`struct nlattr`): a 4-byte header `{u16 len; u16 type}` in host order,
/// then the payload, padded to a multiple of 4 bytes (`NLA_ALIGNTO`). `len` counts the header
/// and the payload but not the padding.
@_spi(Testing) public enum NetlinkAttribute {
    public static let headerLength = 4
    public static let alignment = 4
    /// Type bits; the two high bits are the NESTED and NET_BYTEORDER flags.
    public static let typeMask: UInt16 = 0x3fff
    /// `NLA_F_NESTED`.
    public static let nestedFlag: UInt16 = 0x8000

    public static func aligned(_ length: Int) -> Int { (length + alignment - 1) & ~(alignment - 1) }
}

/// Builds a sequence of attributes, as libnl's `nla_put_*` would, in memory of its own that
/// grows as needed (noncopyable: no reference counting, freed with it). Each attribute is
/// stored whole (header, value, zeroed padding) into room claimed with one bounds check
/// (hot path, every `-R` request: no per-byte uniqueness or capacity check, as a `[UInt8]`
/// would make). Also the send buffer of `NetlinkClient`,
/// which frames the requests around what the codec encodes (`NetlinkMessage`), and the
/// fake kernel's builder of replies (SPI `Testing`).
@_spi(Testing) public struct AttributeEncoder: ~Copyable {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    /// The bytes written so far.
    public private(set) var count = 0

    /// `capacity`: the bytes expected (more only costs a reallocation).
    public init(capacity: Int = 64) {
        self.capacity = max(capacity, 16)
        storage = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { storage.deallocate() }

    /// A copy of the bytes written.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: storage, count: count))
    }

    /// Forgets what was written after the first `count` bytes (keeps the memory).
    public mutating func truncate(to count: Int) {
        precondition(count >= 0 && count <= self.count)
        self.count = count
    }

    /// Appends one attribute with a raw payload, plus padding (the fake kernels of tests).
    public mutating func append<C: Collection>(_ type: UInt16, payload: C) where C.Element == UInt8 {
        let room = claimAttribute(type, payload: payload.count)
        copy(payload, to: room)
    }

    public mutating func append(_ type: UInt16, u8 value: UInt8) { appendInteger(type, value) }
    /// Host byte order.
    public mutating func append(_ type: UInt16, u16 value: UInt16) { appendInteger(type, value) }
    /// Host byte order.
    public mutating func append(_ type: UInt16, u32 value: UInt32) { appendInteger(type, value) }
    /// Host byte order: the kernel's counters (the fake kernels of tests; requests have none).
    public mutating func append(_ type: UInt16, u64 value: UInt64) { appendInteger(type, value) }
    /// Network byte order (ports).
    public mutating func append(_ type: UInt16, be16 value: UInt16) { appendInteger(type, value.bigEndian) }
    /// Network byte order (IPv4 netmask, IPv4 multicast group).
    public mutating func append(_ type: UInt16, be32 value: UInt32) { appendInteger(type, value.bigEndian) }

    /// Two host-order 32-bit words, a struct payload such as `ip_vs_flags`.
    public mutating func append(_ type: UInt16, words first: UInt32, _ second: UInt32) {
        let room = claimAttribute(type, payload: 8)
        room.storeBytes(of: first, as: UInt32.self)
        room.storeBytes(of: second, toByteOffset: 4, as: UInt32.self)
    }

    /// The 16 network-order bytes of `union nf_inet_addr`.
    public mutating func append(_ type: UInt16, address: IPAddress) {
        let room = claimAttribute(type, payload: 16)
        room.storeBytes(of: address.high.bigEndian, as: UInt64.self)
        room.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
    }

    /// A NUL-terminated string (`nla_put_string`).
    public mutating func append(_ type: UInt16, string: String) {
        let utf8 = string.utf8
        let length = utf8.count
        let room = claimAttribute(type, payload: length + 1)
        copy(utf8, to: room)
        room.storeBytes(of: 0, toByteOffset: length, as: UInt8.self)
    }

    /// A nested attribute whose payload is built by `body`. The type carries NLA_F_NESTED,
    /// as libnl 3.7's `nla_nest_start` sets it in ipvsadm's requests (the kernel accepts
    /// nests with or without it; its own replies omit it).
    public mutating func nest(_ type: UInt16, _ body: (inout AttributeEncoder) -> Void) {
        let start = count
        _ = claimAttribute(type | NetlinkAttribute.nestedFlag, payload: 0)
        body(&self)
        store(UInt16(truncatingIfNeeded: count - start), at: start)
    }

    // MARK: Raw bytes (the netlink framing)

    /// Appends `bytes` as they are.
    public mutating func append(raw bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        claim(bytes.count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    /// Appends the in-memory (host-order) bytes of `value`.
    public mutating func append<T: FixedWidthInteger>(raw value: T) {
        claim(MemoryLayout<T>.size).storeBytes(of: value, as: T.self)
    }

    /// Overwrites bytes already written with those of `value`.
    public mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count)
        storage.storeBytes(of: value, toByteOffset: offset, as: T.self)
    }

    /// Zero bytes up to the next multiple of 4.
    public mutating func pad() {
        let padding = NetlinkAttribute.aligned(count) - count
        if padding > 0 { claim(padding).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
    }

    // MARK: Room

    /// Copies `bytes` to `room` (at once when they are contiguous).
    private func copy<C: Collection>(_ bytes: C, to room: UnsafeMutableRawPointer) where C.Element == UInt8 {
        let copied: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 { room.copyMemory(from: base, byteCount: buffer.count) }
        }
        if copied == nil {
            for (offset, byte) in bytes.enumerated() { room.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self) }
        }
    }

    private mutating func appendInteger<T: FixedWidthInteger>(_ type: UInt16, _ value: T) {
        claimAttribute(type, payload: MemoryLayout<T>.size).storeBytes(of: value, as: T.self)
    }

    /// Writes the header of an attribute of `payload` bytes, zeroes its padding, and returns
    /// where the payload goes.
    @inline(__always)
    private mutating func claimAttribute(_ type: UInt16, payload: Int) -> UnsafeMutableRawPointer {
        let length = NetlinkAttribute.headerLength + payload
        let padded = NetlinkAttribute.aligned(length)
        let room = claim(padded)
        if padded > length { room.storeBytes(of: 0, toByteOffset: padded - 4, as: UInt32.self) }
        room.storeBytes(of: UInt16(truncatingIfNeeded: length), as: UInt16.self)
        room.storeBytes(of: type, toByteOffset: 2, as: UInt16.self)
        return room + NetlinkAttribute.headerLength
    }

    /// `size` more bytes at the end, to be written by the caller.
    @inline(__always)
    private mutating func claim(_ size: Int) -> UnsafeMutableRawPointer {
        if size > capacity - count { grow(toAtLeast: count + size) }
        defer { count += size }
        return storage + count
    }

    @inline(never)
    private mutating func grow(toAtLeast needed: Int) {
        let capacity = max(needed, 2 * self.capacity)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        storage.copyMemory(from: self.storage, byteCount: count)
        self.storage.deallocate()
        self.storage = storage
        self.capacity = capacity
    }
}

/// A parsed sequence of attributes over a byte buffer (no copies, no allocation). Like
/// `nla_parse`, a later attribute of the same type replaces an earlier one, types are masked
/// with `NLA_TYPE_MASK`, unknown types are simply never asked for, and a truncated tail is
/// ignored. Every IPVS attribute type is below `indexedTypes`: those are found in O(1) through
/// an inline table filled by one pass over the bytes; a larger type falls back to a scan.
@_spi(Testing) public struct AttributeSet {
    private let bytes: ArraySlice<UInt8>
    /// Per type: `(payload offset from bytes.startIndex) << 16 | payload length`, 0 if absent.
    /// A payload starts after a 4-byte header, so a present entry is never 0. The length fits
    /// in 16 bits (an attribute's `len` is a u16), the offset in the 48 left: `init` refuses
    /// a buffer larger than that, so no payload can be looked up at a wrong place.
    private var slots = InlineArray<32, UInt64>(repeating: 0)
    private static let indexedTypes = 32
    private static let largestBuffer = 1 << 48

    public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    public init(_ bytes: ArraySlice<UInt8>) {
        precondition(bytes.count < AttributeSet.largestBuffer, "attribute buffer beyond 2^48 bytes")
        self.bytes = bytes
        var slots = InlineArray<32, UInt64>(repeating: 0)
        Self.walk(bytes) { type, payload in
            if Int(type) < Self.indexedTypes {
                slots[Int(type)] = UInt64(payload.lowerBound - bytes.startIndex) << 16 | UInt64(payload.count)
            }
        }
        self.slots = slots
    }

    /// Calls `body` with each well-formed attribute's masked type and payload range, in order.
    private static func walk(_ bytes: ArraySlice<UInt8>, _ body: (UInt16, Range<Int>) -> Void) {
        bytes.withUnsafeBytes { raw in
            scan(raw) { type, offset, length in
                body(type, (bytes.startIndex + offset)..<(bytes.startIndex + offset + length))
            }
        }
    }

    /// Calls `body` with each well-formed attribute's masked type, payload bytes and payload
    /// range (indices of `bytes`), in order, in one pass: for a nest read whole (a real
    /// server, statistics), cheaper than indexing it first.
    public static func forEach(in bytes: ArraySlice<UInt8>, _ body: (UInt16, UnsafeRawBufferPointer, Range<Int>) -> Void) {
        bytes.withUnsafeBytes { raw in
            scan(raw) { type, offset, length in
                body(
                    type, UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)]),
                    (bytes.startIndex + offset)..<(bytes.startIndex + offset + length))
            }
        }
    }

    /// The attribute walk itself: type, payload offset and payload length of each attribute
    /// until the first malformed header (a truncated tail is ignored).
    @inline(__always)
    private static func scan(_ raw: UnsafeRawBufferPointer, _ body: (UInt16, Int, Int) -> Void) {
        var offset = 0
        while raw.count - offset >= NetlinkAttribute.headerLength {
            let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = raw.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & NetlinkAttribute.typeMask
            guard length >= NetlinkAttribute.headerLength, length <= raw.count - offset else { break }
            body(type, offset + NetlinkAttribute.headerLength, length - NetlinkAttribute.headerLength)
            offset += NetlinkAttribute.aligned(length)
        }
    }

    /// The types present, in order (duplicates included).
    public var types: [UInt16] {
        var types: [UInt16] = []
        Self.walk(bytes) { type, _ in types.append(type) }
        return types
    }

    /// The payload range of the last attribute of `type`.
    private func payloadRange(_ type: UInt16) -> Range<Int>? {
        if Int(type) < Self.indexedTypes {
            let slot = slots[Int(type)]
            guard slot != 0 else { return nil }
            let start = bytes.startIndex + Int(slot >> 16)
            return start..<(start + Int(slot & 0xffff))
        }
        var found: Range<Int>?
        Self.walk(bytes) { candidate, payload in if candidate == type { found = payload } }
        return found
    }

    /// The payload of the last attribute of `type`.
    public subscript(type: UInt16) -> ArraySlice<UInt8>? {
        guard let range = payloadRange(type) else { return nil }
        return bytes[range]
    }

    public func u8(_ type: UInt16) -> UInt8? { integer(type) }
    /// Host byte order.
    public func u16(_ type: UInt16) -> UInt16? { integer(type) }
    /// Host byte order.
    public func u32(_ type: UInt16) -> UInt32? { integer(type) }
    /// Network byte order.
    public func be16(_ type: UInt16) -> UInt16? { integer(type).map { UInt16(bigEndian: $0) } }
    /// Network byte order.
    public func be32(_ type: UInt16) -> UInt32? { integer(type).map { UInt32(bigEndian: $0) } }

    /// A string payload, up to its first NUL (`nla_get_string` on a NUL-terminated value).
    public func string(_ type: UInt16) -> String? {
        guard let payload = self[type] else { return nil }
        return payload.withUnsafeBytes { raw in
            let end = raw.firstIndex(of: 0) ?? raw.count
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[..<end]), as: UTF8.self)
        }
    }

    public func nested(_ type: UInt16) -> AttributeSet? {
        guard let payload = self[type] else { return nil }
        return AttributeSet(payload)
    }

    /// An IPv4 or IPv6 address payload (`union nf_inet_addr`, up to 16 network-order bytes).
    public func address(_ type: UInt16, family: AddressFamily) -> IPAddress? {
        guard let range = payloadRange(type) else { return nil }
        return bytes[range].withUnsafeBytes { IPAddress(family: family, networkBytes: $0) }
    }

    private func integer<T: FixedWidthInteger>(_ type: UInt16) -> T? {
        guard let range = payloadRange(type) else { return nil }
        return bytes[range].withUnsafeBytes { $0.integer() }
    }
}

extension AttributeSet {
    /// The `index`th host-order u32 of a struct payload (`ip_vs_flags` is two of them).
    static func word(_ payload: ArraySlice<UInt8>, _ index: Int) -> UInt32 {
        payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self) }
    }
}

extension UnsafeRawBufferPointer {
    /// A host-order integer payload; nil when the payload is too short for it (the one rule
    /// for short payloads, for indexed and one-pass decoding alike).
    @_spi(Testing) public func integer<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        count >= MemoryLayout<T>.size ? loadUnaligned(as: T.self) : nil
    }
}
