import Glibc

/// Address family of a service, destination or sync group, with the kernel's `AF_*` numbers.
public enum AddressFamily: UInt16, Sendable, Hashable {
    case inet = 2
    case inet6 = 10
}

/// An IPv4 or IPv6 address, kept as the 16 bytes of the kernel's `union nf_inet_addr`
/// (network byte order; an IPv4 address uses the first four bytes).
public struct IPAddress: Hashable, Sendable {
    public let family: AddressFamily
    /// Network-order bytes 0–7 and 8–15, packed big-endian into two words so that
    /// comparison and hashing need no allocation.
    public let high: UInt64
    public let low: UInt64

    public init(family: AddressFamily, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its value in host order (`10.0.0.1` is `0x0a00_0001`).
    public init(ipv4 value: UInt32) {
        self.init(family: .inet, high: UInt64(value) << 32, low: 0)
    }

    /// The IPv4 address in host order; meaningful only for `.inet`.
    public var ipv4: UInt32 { UInt32(truncatingIfNeeded: high >> 32) }

    /// The 16 bytes of `union nf_inet_addr`, network order.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    /// Builds an address from up to 16 network-order bytes in memory (the kernel's
    /// `union nf_inet_addr`; shorter input is zero-padded).
    public init(family: AddressFamily, networkBytes raw: UnsafeRawBufferPointer) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        if raw.count >= 16 {
            high = UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self))
            low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        } else {
            for (index, byte) in raw.enumerated() {
                if index < 8 {
                    high |= UInt64(byte) << (56 - 8 * UInt64(index))
                } else {
                    low |= UInt64(byte) << (56 - 8 * UInt64(index - 8))
                }
            }
        }
        if family == .inet { high &= 0xffff_ffff_0000_0000; low = 0 }
        self.init(family: family, high: high, low: low)
    }

    /// The four 32-bit words in host order, as ipvsadm's comparator reads them.
    public var words: (UInt32, UInt32, UInt32, UInt32) {
        (UInt32(truncatingIfNeeded: high >> 32), UInt32(truncatingIfNeeded: high),
         UInt32(truncatingIfNeeded: low >> 32), UInt32(truncatingIfNeeded: low))
    }

    // Parsing: one form per syntax, over bytes (hot path, `-R`: no `String` per word).

    /// An IPv6 literal, as `inet_pton(AF_INET6)` reads it.
    public static func parseIPv6(_ text: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        var raw = in6_addr()
        guard text.withCString({ inet_pton(AF_INET6, $0, &raw) }) == 1 else { return nil }
        return withUnsafeBytes(of: &raw) { IPAddress(family: .inet6, networkBytes: $0) }
    }

    /// An IPv4 address as `inet_aton` reads it, with the legacy forms (`10.1`, `0x0a000001`)
    /// that ipvsadm accepts. The plain form is read here first, without a C string and
    /// `inet_aton`'s four `strtoul` calls (hot path: the address of every `-R` line).
    public static func parseIPv4Legacy(_ text: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if let plain = parsePlainIPv4(text) { return plain }
        var raw = in_addr()
        guard text.withCString({ inet_aton($0, &raw) }) != 0 else { return nil }
        return IPAddress(ipv4: UInt32(bigEndian: raw.s_addr))
    }

    /// A dotted-quad IPv4 address, strictly (`inet_pton(AF_INET)`).
    public static func parseIPv4Strict(_ text: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        var raw = in_addr()
        guard text.withCString({ inet_pton(AF_INET, $0, &raw) }) == 1 else { return nil }
        return IPAddress(ipv4: UInt32(bigEndian: raw.s_addr))
    }

    /// `parse` (one of the three above) of a `String`'s UTF-8, in place: for text that is a
    /// `String` already (option values, connection listings, tests).
    public static func parse(_ text: String, with parse: (UnsafeBufferPointer<UInt8>) -> IPAddress?) -> IPAddress? {
        var text = text
        return text.withUTF8(parse)
    }

    /// An IPv4 address in its plain form only: four decimal numbers up to 255 without leading
    /// zeros, separated by dots, nothing else; nil otherwise. What it takes, `inet_aton` reads
    /// the same way; what it refuses may still be an address to `inet_aton` (`10.1`, `010.0.0.1`,
    /// `1.2.3.4 x`), so it can only go first.
    private static func parsePlainIPv4(_ text: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text {
            if byte == 0x2e {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | part
                part = 0
                digits = 0
                dots += 1
            } else {
                guard byte >= 0x30, byte <= 0x39, digits < 3, digits == 0 || part != 0 else { return nil }
                part = part * 10 + UInt32(byte - 0x30)
                guard part <= 255 else { return nil }
                digits += 1
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return IPAddress(ipv4: value << 8 | part)
    }

    /// Text form as `inet_ntop` writes it (IPv6 compressed, no brackets).
    public var text: String {
        if family == .inet { return IPAddress.dottedQuad(ipv4) }
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { out in
            out.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            out.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        // INET6_ADDRSTRLEN is 46.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 48) { buffer in
            guard inet_ntop(AF_INET6, &raw, buffer.baseAddress, socklen_t(buffer.count)) != nil else { return "" }
            return String(cString: buffer.baseAddress!)
        }
    }

    /// `a.b.c.d`, at most 15 bytes: a small string, no allocation.
    private static func dottedQuad(_ value: UInt32) -> String {
        String(unsafeUninitializedCapacity: 15) { writeDottedQuad(value, into: $0) }
    }

    /// Writes `a.b.c.d` of an IPv4 address in host order into `buffer` (room for 15 bytes)
    /// and returns the byte count: the one implementation of the IPv4 text, for `text` and
    /// for output written straight into byte buffers.
    public static func writeDottedQuad(_ value: UInt32, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var count = 0
        for shift in stride(from: 24, through: 0, by: -8) {
            let octet = Int((value >> UInt32(shift)) & 0xff)
            if octet >= 100 { buffer[count] = UInt8(48 + octet / 100); count += 1 }
            if octet >= 10 { buffer[count] = UInt8(48 + octet / 10 % 10); count += 1 }
            buffer[count] = UInt8(48 + octet % 10); count += 1
            if shift > 0 { buffer[count] = 0x2e; count += 1 }
        }
        return count
    }
}

extension IPAddress: CustomStringConvertible {
    public var description: String { text }
}

extension UnsafeBufferPointer<UInt8> {
    /// Calls `body` with a NUL-terminated copy of the bytes (on the stack), for the C
    /// library's parsers (a NUL among the bytes ends the C string there, as it would in C).
    @inlinable
    public func withCString<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
            buffer.withMemoryRebound(to: UInt8.self) { copy in
                _ = copy.initialize(fromContentsOf: self)
                copy[count] = 0
            }
            return body(UnsafePointer(buffer.baseAddress!))
        }
    }
}
