import Glibc

/// Where the kernel would send a packet for a real server, asked of the kernel itself
/// (rtnetlink `RTM_GETROUTE`, what `ip route get` does), and the link-layer addresses of
/// neighbours (`/proc/net/arp`, kept fresh by rtnetlink's neighbour events). Swift's Glibc
/// module has no <linux/netlink.h>: the few structures are laid out here by hand, in host byte
/// order as the kernel reads them.
enum RouteNetlink {
    static let family: Int32 = 16           // AF_NETLINK
    static let routeProtocol: Int32 = 0     // NETLINK_ROUTE
    static let neighbourGroup: UInt32 = 4   // RTMGRP_NEIGH
    static let headerLength = 16            // struct nlmsghdr
    static let messageError: UInt16 = 2     // NLMSG_ERROR
    static let newRoute: UInt16 = 24        // RTM_NEWROUTE
    static let getRoute: UInt16 = 26        // RTM_GETROUTE
    static let newNeighbour: UInt16 = 28    // RTM_NEWNEIGH
    static let deleteNeighbour: UInt16 = 29 // RTM_DELNEIGH
    static let request: UInt16 = 1          // NLM_F_REQUEST

    /// A route's kernel type (`rtm_type`): only unicast routes lead to a real server.
    static let unicast: UInt8 = 1           // RTN_UNICAST
    static let local: UInt8 = 2             // RTN_LOCAL

    /// The `RTM_GETROUTE` request for an IPv4 destination (sequence number `sequence`):
    /// nlmsghdr, rtmsg (family AF_INET, dst_len 32), and one RTA_DST attribute.
    static func routeRequest(to destination: UInt32, sequence: UInt32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerLength + 12 + 8)
        store32(UInt32(bytes.count), &bytes, 0)
        store16(getRoute, &bytes, 4)
        store16(request, &bytes, 6)
        store32(sequence, &bytes, 8)
        bytes[16] = UInt8(AF_INET)                  // rtm_family
        bytes[17] = 32                              // rtm_dst_len
        store16(8, &bytes, 28)                      // rta_len
        store16(1, &bytes, 30)                      // RTA_DST
        PathPacket.put32(destination, &bytes, at: 32)   // the address, network order
        return bytes
    }

    /// The answer to a route request: the route, or the kernel's errno (ENETUNREACH...).
    struct Route: Equatable {
        var type: UInt8
        var interface: Int32
        var gateway: UInt32?
        var source: UInt32?
    }

    enum Answer: Equatable {
        case route(Route)
        case error(Int32)
    }

    /// Reads the kernel's answer (the first RTM_NEWROUTE or NLMSG_ERROR with `sequence`) from
    /// one received datagram; nil if it holds neither.
    static func routeAnswer(_ datagram: UnsafeRawBufferPointer, sequence: UInt32) -> Answer? {
        var answer: Answer?
        forEachMessage(datagram) { type, messageSequence, body in
            guard answer == nil, messageSequence == sequence else { return }
            if type == messageError, body.count >= 4 {
                let code = body.loadUnaligned(as: Int32.self)
                answer = .error(code < 0 ? -code : EPROTO)
            } else if type == newRoute, body.count >= 12 {
                var route = Route(type: body[7], interface: 0)
                forEachAttribute(UnsafeRawBufferPointer(rebasing: body[12...])) { attribute, value in
                    switch attribute {
                    case 4 where value.count >= 4: route.interface = value.loadUnaligned(as: Int32.self)   // RTA_OIF
                    case 5 where value.count >= 4: route.gateway = PathPacket.get32(value, 0)              // RTA_GATEWAY
                    case 7 where value.count >= 4: route.source = PathPacket.get32(value, 0)               // RTA_PREFSRC
                    default: break
                    }
                }
                answer = .route(route)
            }
        }
        return answer
    }

    /// A neighbour event: `address` on `interface` now has `link` (nil: gone or unresolved).
    struct Neighbour: Equatable {
        var interface: Int32
        var address: UInt32
        var link: UInt64?
    }

    /// The IPv4 neighbour events (RTM_NEWNEIGH, RTM_DELNEIGH) in one datagram.
    static func neighbourEvents(_ datagram: UnsafeRawBufferPointer) -> [Neighbour] {
        var events: [Neighbour] = []
        forEachMessage(datagram) { type, _, body in
            // struct ndmsg: family u8, pad u8, pad u16, ifindex s32, state u16, flags u8, type u8.
            guard type == newNeighbour || type == deleteNeighbour, body.count >= 12,
                  body[0] == UInt8(AF_INET) else { return }
            let interface = body.loadUnaligned(fromByteOffset: 4, as: Int32.self)
            let state = body.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
            var address: UInt32?
            var link: UInt64?
            forEachAttribute(UnsafeRawBufferPointer(rebasing: body[12...])) { attribute, value in
                if attribute == 1, value.count == 4 { address = PathPacket.get32(value, 0) }     // NDA_DST
                if attribute == 2, value.count == 6 { link = mac(value) }                        // NDA_LLADDR
            }
            guard let address else { return }
            // NUD_VALID: permanent, noarp, reachable, probe, stale, delay (the kernel sends to
            // all of these); incomplete and failed entries have no usable address.
            let valid: UInt16 = 0x80 | 0x40 | 0x02 | 0x10 | 0x04 | 0x08
            let usable = type == newNeighbour && state & valid != 0
            events.append(Neighbour(interface: interface, address: address, link: usable ? link : nil))
        }
        return events
    }

    /// Six bytes of a link-layer address in the low 48 bits of a word, first byte highest.
    static func mac(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        bytes.prefix(6).reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func forEachMessage(
        _ datagram: UnsafeRawBufferPointer, _ body: (UInt16, UInt32, UnsafeRawBufferPointer) -> Void
    ) {
        var offset = 0
        while offset + headerLength <= datagram.count {
            let length = Int(datagram.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= headerLength, offset + length <= datagram.count else { return }
            let type = datagram.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            let sequence = datagram.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            body(type, sequence, UnsafeRawBufferPointer(rebasing: datagram[(offset + headerLength)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
    }

    static func forEachAttribute(_ attributes: UnsafeRawBufferPointer, _ body: (UInt16, UnsafeRawBufferPointer) -> Void) {
        var offset = 0
        while offset + 4 <= attributes.count {
            let length = Int(attributes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard length >= 4, offset + length <= attributes.count else { return }
            let type = attributes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
            body(type, UnsafeRawBufferPointer(rebasing: attributes[(offset + 4)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
    }

    static func store16(_ value: UInt16, _ bytes: inout [UInt8], _ offset: Int) {
        withUnsafeBytes(of: value) { for i in 0..<2 { bytes[offset + i] = $0[i] } }
    }

    static func store32(_ value: UInt32, _ bytes: inout [UInt8], _ offset: Int) {
        withUnsafeBytes(of: value) { for i in 0..<4 { bytes[offset + i] = $0[i] } }
    }

    /// The complete entries of `/proc/net/arp` (the current network namespace's ARP table),
    /// keyed by interface and address. Its lines: `IP  HW-type  Flags  HW-address  Mask  Device`;
    /// flag 0x2 (ATF_COM) marks a resolved entry.
    static func arpTable(_ text: String) -> [NeighbourKey: UInt64] {
        var table: [NeighbourKey: UInt64] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6,
                  let address = IPv4Text.parse(fields[0]),
                  let flags = UInt32(fields[2].dropFirst(2), radix: 16), flags & 0x2 != 0
            else { continue }
            let octets = fields[3].split(separator: ":").compactMap { UInt8($0, radix: 16) }
            guard octets.count == 6 else { continue }
            let link = octets.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let interface = Int32(bitPattern: String(fields[5]).withCString { if_nametoindex($0) })
            guard interface > 0 else { continue }
            table[NeighbourKey(interface: interface, address: address)] = link
        }
        return table
    }
}

/// A neighbour: its address on one interface.
struct NeighbourKey: Hashable {
    var interface: Int32
    var address: UInt32
}

/// Dotted-quad text of an IPv4 address, in host order (`/proc/net/arp`'s first column).
enum IPv4Text {
    static func parse(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        return value
    }
}
