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

    /// Builds an address from up to 16 network-order bytes (shorter input is zero-padded).
    public init<C: Collection>(family: AddressFamily, bytes: C) where C.Element == UInt8 {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var index = 0
        for byte in bytes.prefix(16) {
            if index < 8 {
                high |= UInt64(byte) << (56 - 8 * UInt64(index))
            } else {
                low |= UInt64(byte) << (56 - 8 * UInt64(index - 8))
            }
            index += 1
        }
        if family == .inet { high &= 0xffff_ffff_0000_0000; low = 0 }
        self.init(family: family, high: high, low: low)
    }

    /// The four 32-bit words in host order, as ipvsadm's comparator reads them.
    public var words: (UInt32, UInt32, UInt32, UInt32) {
        (UInt32(truncatingIfNeeded: high >> 32), UInt32(truncatingIfNeeded: high),
         UInt32(truncatingIfNeeded: low >> 32), UInt32(truncatingIfNeeded: low))
    }

    /// Parses an IPv6 literal with `inet_pton`.
    public static func parseIPv6(_ text: String) -> IPAddress? {
        var raw = in6_addr()
        let ok = text.withCString { inet_pton(AF_INET6, $0, &raw) } == 1
        guard ok else { return nil }
        return withUnsafeBytes(of: &raw) { IPAddress(family: .inet6, bytes: $0) }
    }

    /// Parses an IPv4 address with `inet_aton`, which also takes the legacy forms
    /// (`10.1`, `0x0a000001`) that ipvsadm accepts.
    public static func parseIPv4Legacy(_ text: String) -> IPAddress? {
        var raw = in_addr()
        let ok = text.withCString { inet_aton($0, &raw) } != 0
        guard ok else { return nil }
        return IPAddress(ipv4: UInt32(bigEndian: raw.s_addr))
    }

    /// Parses a dotted-quad IPv4 address strictly (`inet_pton`).
    public static func parseIPv4Strict(_ text: String) -> IPAddress? {
        var raw = in_addr()
        let ok = text.withCString { inet_pton(AF_INET, $0, &raw) } == 1
        guard ok else { return nil }
        return IPAddress(ipv4: UInt32(bigEndian: raw.s_addr))
    }

    /// Text form as `inet_ntop` writes it (IPv6 compressed, no brackets).
    public var text: String {
        var raw = bytes
        // INET6_ADDRSTRLEN is 46.
        var buffer = [CChar](repeating: 0, count: 64)
        let af: Int32 = family == .inet ? AF_INET : AF_INET6
        let ok = raw.withUnsafeMutableBytes { src in
            buffer.withUnsafeMutableBufferPointer { dst in
                inet_ntop(af, src.baseAddress, dst.baseAddress, socklen_t(dst.count)) != nil
            }
        }
        guard ok else { return "" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

extension IPAddress: CustomStringConvertible {
    public var description: String { text }
}
