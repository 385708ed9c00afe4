import IPVS

/// Reads values out of fuzz bytes, little-endian; past the end everything reads as zero, so
/// every input, however short, makes values.
struct FuzzBytes {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: some Collection<UInt8>) { self.bytes = Array(bytes) }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func u8() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
    mutating func bool() -> Bool { u8() & 1 != 0 }
    /// 0 ..< `count`.
    mutating func below(_ count: Int) -> Int { Int(u8()) % count }

    /// Up to `maximum` bytes of text with no NUL (a netlink string ends at its first NUL).
    mutating func name(maximum: Int) -> String {
        let count = below(maximum + 1)
        var text: [UInt8] = []
        for _ in 0..<count {
            let byte = u8()
            text.append(byte == 0 ? 0x61 : byte)
        }
        return String(decoding: text, as: UTF8.self)
    }

    mutating func address(_ family: AddressFamily) -> IPAddress {
        switch family {
        case .inet: return IPAddress(ipv4: u32())
        case .inet6: return IPAddress(family: .inet6, high: u64(), low: u64())
        }
    }

    mutating func family() -> AddressFamily { bool() ? .inet6 : .inet }
}
