import Glibc
import IPVS

/// `/proc/net/ip_vs_conn` cut as ipvsadm's `fgets` into a 256-byte buffer reads it: a line with
/// its newline, or 255 bytes of a longer one, at a time (each then read as a line of its own).
/// Fed block by block as the file is read; only a piece cut by a block's end is copied.
struct PieceCutter {
    private var carry: [UInt8] = []

    static let pieceLimit = 255

    /// Hands `taker` every piece that `block` completes.
    mutating func feed(_ block: UnsafeRawBufferPointer, into taker: inout some PieceTaker) {
        guard let base = block.baseAddress else { return }
        var start = 0
        let total = block.count
        if !carry.isEmpty {
            while start < total && carry.count < PieceCutter.pieceLimit {
                let byte = block[start]
                carry.append(byte)
                start += 1
                if byte == 0x0a { break }
            }
            guard carry.last == 0x0a || carry.count == PieceCutter.pieceLimit else { return }
            carry.withUnsafeBytes { taker.take($0) }
            carry.removeAll(keepingCapacity: true)
        }
        while start < total {
            let limit = min(total, start + PieceCutter.pieceLimit)
            if let newline = memchr(base + start, 0x0a, limit - start) {
                let end = base.distance(to: UnsafeRawPointer(newline)) + 1
                taker.take(UnsafeRawBufferPointer(rebasing: block[start..<end]))
                start = end
            } else if limit - start == PieceCutter.pieceLimit {
                taker.take(UnsafeRawBufferPointer(rebasing: block[start..<limit]))
                start = limit
            } else {
                carry.reserveCapacity(PieceCutter.pieceLimit)
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: block[start..<total]))
                start = total
            }
        }
    }

    /// The last piece, when the file does not end with a newline.
    mutating func finish(into taker: inout some PieceTaker) {
        guard !carry.isEmpty else { return }
        carry.withUnsafeBytes { taker.take($0) }
        carry.removeAll()
    }
}

/// What takes the pieces `PieceCutter` cuts, one at a time.
protocol PieceTaker {
    mutating func take(_ piece: UnsafeRawBufferPointer)
}

/// `-Lc`'s selection (`--conn-service`, `--conn-server`, `--conn-state`, `--conn-client`):
/// a connection is listed when it matches every filter given. Read one line at a time, so a
/// filtered listing holds no more than an unfiltered one.
struct ConnectionFilter: Equatable {
    /// An address, and a port unless any port matches.
    struct Endpoint: Equatable {
        var address: IPAddress
        var port: UInt16?

        func matches(_ other: IPAddress, _ otherPort: UInt16) -> Bool {
            other == address && (port.map { $0 == otherPort } ?? true)
        }
    }

    /// An address prefix: the first `length` bits of `address`.
    struct Prefix: Equatable {
        var address: IPAddress
        var length: Int

        func contains(_ other: IPAddress) -> Bool {
            guard other.family == address.family else { return false }
            let (high, low) = Prefix.masks(length)
            return other.high & high == address.high & high && other.low & low == address.low & low
        }

        /// The masks of the first `length` of 128 bits (an IPv4 address is the top 32 of `high`).
        private static func masks(_ shown: Int) -> (UInt64, UInt64) {
            let high: UInt64 = shown >= 64 ? .max : (shown <= 0 ? 0 : ~(UInt64.max >> UInt64(shown)))
            let low: UInt64 = shown >= 128 ? .max : (shown <= 64 ? 0 : ~(UInt64.max >> UInt64(shown - 64)))
            return (high, low)
        }
    }

    var service: Endpoint?
    var server: Endpoint?
    /// Compared without regard to case (`established` is `ESTABLISHED`).
    var state: String?
    var client: Prefix?

    var isEmpty: Bool { service == nil && server == nil && state == nil && client == nil }

    func matches(_ c: ConnectionLine) -> Bool {
        if let service, !service.matches(c.virtual, c.virtualPort) { return false }
        if let server, !server.matches(c.destination, c.destinationPort) { return false }
        // The kernel names its states in capitals: compared as they are first, uppercased only
        // when there is a letter that could change.
        if let state, c.state != state && (!c.state.utf8.contains { ($0 >= 0x61 && $0 <= 0x7a) || $0 >= 0x80 } || c.state.uppercased() != state) {
            return false
        }
        if let client, !client.contains(c.client) { return false }
        return true
    }

    /// `ADDR`, `ADDR:PORT`, `[ADDR6]`, `[ADDR6]:PORT` or `ADDR6`, numeric (port 0…65535).
    static func endpoint(_ text: String) -> Endpoint? {
        var host = Substring(text)
        var port: UInt16?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = UInt16(rest.dropFirst()) else { return nil }
                port = value
            }
            guard let v6 = IPAddress.parse(String(host), with: IPAddress.parseIPv6) else { return nil }
            return Endpoint(address: v6, port: port)
        }
        if let v6 = IPAddress.parse(text, with: IPAddress.parseIPv6) { return Endpoint(address: v6, port: nil) }
        if let colon = host.firstIndex(of: ":") {
            guard let value = UInt16(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard let v4 = IPAddress.parse(String(host), with: IPAddress.parseIPv4Strict) else { return nil }
        return Endpoint(address: v4, port: port)
    }

    /// `ADDR/LENGTH` or `ADDR` (the whole address), IPv4 or IPv6, numeric.
    static func prefix(_ text: String) -> Prefix? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(parts[0])
        guard let address = IPAddress.parse(host, with: IPAddress.parseIPv4Strict)
            ?? IPAddress.parse(host, with: IPAddress.parseIPv6)
        else { return nil }
        let bits = address.family == .inet ? 32 : 128
        guard parts.count == 2 else { return Prefix(address: address, length: bits) }
        guard let length = Int(parts[1]), (0...bits).contains(length) else { return nil }
        return Prefix(address: address, length: length)
    }
}

/// `-Lc --conn-summary`: the connections counted by service, real server and state, with the
/// soonest and latest expiry of each group. The table is read once and only the groups are
/// held (as many as services × real servers × states, whatever the number of connections).
struct ConnectionSummary {
    struct Group: Hashable {
        var protocolText: String
        var proto: IPProtocolNumber
        var virtual: IPAddress
        var virtualPort: UInt16
        var destination: IPAddress
        var destinationPort: UInt16
        var state: String
    }

    struct Counts {
        var connections: Int
        /// Seconds left, soonest and latest, as the kernel printed them.
        var soonest: Int32
        var latest: Int32

        mutating func count(_ expires: Int32) {
            connections += 1
            soonest = min(soonest, expires)
            latest = max(latest, expires)
        }
    }

    /// A group as a key without strings (hot path: looked up once per connection): the state
    /// by its index in `states`, the protocol by its number.
    private struct Key: Equatable {
        var proto: IPProtocolNumber
        var virtual: IPAddress
        var virtualPort: UInt16
        var destination: IPAddress
        var destinationPort: UInt16
        var state: Int

        /// A multiplicative mix of the fields: the table below is this summary's own, so the
        /// hash needs to spread groups, not to resist chosen input (a few thousand groups at most).
        var hash: UInt64 {
            var h = virtual.high ^ (virtual.low &* 0x9e37_79b9_7f4a_7c15)
            h = (h ^ destination.high) &* 0x9e37_79b9_7f4a_7c15
            h = (h ^ destination.low) &* 0xc2b2_ae3d_27d4_eb4f
            h ^= UInt64(virtualPort) << 48 | UInt64(destinationPort) << 32 | UInt64(proto.rawValue) << 16
                | UInt64(truncatingIfNeeded: state)
            h ^= UInt64(virtual.family.rawValue) << 40 ^ UInt64(destination.family.rawValue) << 56
            return (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9
        }
    }

    /// Open addressing over `found`: each slot the index of a group plus one, 0 when empty;
    /// kept at most half full.
    private var slots = [Int](repeating: 0, count: 64)
    private var keys: [Key] = []
    private var states: [String] = []
    private var found: [(Group, Counts)] = []
    private(set) var total = 0

    /// The groups found, in the order they were first met.
    var groups: [(Group, Counts)] { found }

    mutating func add(_ c: ConnectionLine) {
        total += 1
        // A dozen states at most: a linear search of small strings.
        let state: Int
        if let known = states.firstIndex(of: c.state) {
            state = known
        } else {
            state = states.count
            states.append(c.state)
        }
        let key = Key(
            proto: c.proto, virtual: c.virtual, virtualPort: c.virtualPort, destination: c.destination,
            destinationPort: c.destinationPort, state: state)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: key.hash >> 7) & mask
        while slots[slot] != 0 {
            let at = slots[slot] - 1
            if keys[at] == key {
                found[at].1.count(c.expires)
                return
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = found.count + 1
        keys.append(key)
        let group = Group(
            protocolText: c.protocolText, proto: c.proto, virtual: c.virtual, virtualPort: c.virtualPort,
            destination: c.destination, destinationPort: c.destinationPort, state: c.state)
        found.append((group, Counts(connections: 1, soonest: c.expires, latest: c.expires)))
        if found.count * 2 > slots.count { grow() }
    }

    /// Twice the slots, every group placed again.
    private mutating func grow() {
        slots = [Int](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (at, key) in keys.enumerated() {
            var slot = Int(truncatingIfNeeded: key.hash >> 7) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = at + 1
        }
    }

    /// The groups by protocol, virtual address and port, real server, then state.
    var sorted: [(Group, Counts)] {
        found.sorted { a, b in
            let (x, y) = (a.0, b.0)
            if x.protocolText != y.protocolText { return x.protocolText < y.protocolText }
            if x.virtual != y.virtual { return ConnectionSummary.before(x.virtual, y.virtual) }
            if x.virtualPort != y.virtualPort { return x.virtualPort < y.virtualPort }
            if x.destination != y.destination { return ConnectionSummary.before(x.destination, y.destination) }
            if x.destinationPort != y.destinationPort { return x.destinationPort < y.destinationPort }
            return x.state < y.state
        }
    }

    private static func before(_ a: IPAddress, _ b: IPAddress) -> Bool {
        (a.family.rawValue, a.high, a.low) < (b.family.rawValue, b.high, b.low)
    }
}
