import Glibc
import IPVS

/// The doctor's host facts on the real system: one rtnetlink socket, three dumps (links,
/// addresses, routes). Netlink answers for the network namespace the process is in (after
/// `--netns`), where /sys/class/net would still show the namespace sysfs was mounted in.
extension SystemHost {
    public func networkFacts() throws(Errno) -> NetworkFacts {
        let descriptor = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)  // NETLINK_ROUTE
        if descriptor < 0 { throw Errno.current }
        defer { close(descriptor) }
        var interfaces: [NetworkInterface] = []
        var position: [Int32: Int] = [:]
        try RouteDump.dump(descriptor, type: RouteDump.getLink, header: 16, sequence: 1) { type, message in
            guard type == RouteDump.newLink, let link = RouteDump.link(message) else { return }
            position[link.index] = interfaces.count
            interfaces.append(link)
        }
        try RouteDump.dump(descriptor, type: RouteDump.getAddress, header: 8, sequence: 2) { type, message in
            guard type == RouteDump.newAddress, let (index, address) = RouteDump.address(message),
                let at = position[index]
            else { return }
            interfaces[at].addresses.append(address)
        }
        var routes: [Route] = []
        try RouteDump.dump(descriptor, type: RouteDump.getRoute, header: 12, sequence: 3) { type, message in
            guard type == RouteDump.newRoute, let route = RouteDump.route(message) else { return }
            routes.append(route)
        }
        return NetworkFacts(interfaces: interfaces, routes: routes)
    }

    public func commandOutput(_ command: String) -> String? {
        guard let pipe = popen("PATH=/usr/sbin:/sbin:/usr/bin:/bin; " + command + " 2>/dev/null", "r") else { return nil }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, pipe) }
            if count <= 0 { break }
            output.append(contentsOf: chunk[0..<count])
        }
        let status = pclose(pipe)
        // 127: the shell did not find the command.
        if status == -1 || (status >> 8) & 0xff == 127 { return nil }
        return String(decoding: output, as: UTF8.self)
    }
}

/// rtnetlink dumps, read by hand (the kernel's `struct nlmsghdr`, `ifinfomsg`, `ifaddrmsg`,
/// `rtmsg` and `rtattr` layouts, host byte order).
enum RouteDump {
    static let getLink: UInt16 = 18, newLink: UInt16 = 16
    static let getAddress: UInt16 = 22, newAddress: UInt16 = 20
    static let getRoute: UInt16 = 26, newRoute: UInt16 = 24

    /// Sends a dump request of `type` (family AF_UNSPEC, a zeroed family header of `header`
    /// bytes) and hands each reply message (type, bytes after the netlink header) to `body`.
    static func dump(
        _ descriptor: Int32, type: UInt16, header: Int, sequence: UInt32, _ body: (UInt16, ArraySlice<UInt8>) -> Void
    ) throws(Errno) {
        var request = [UInt8](repeating: 0, count: 16 + header)
        put32(&request, 0, UInt32(request.count))
        put16(&request, 4, type)
        put16(&request, 6, 0x0301)  // NLM_F_REQUEST | NLM_F_DUMP
        put32(&request, 8, sequence)
        let sent = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
        if sent < 0 { throw Errno.current }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if Errno.current == .interrupted { continue }
                throw Errno.current
            }
            var offset = 0
            while offset + 16 <= count {
                let length = Int(get32(buffer, offset))
                let kind = get16(buffer, offset + 4)
                guard length >= 16, offset + length <= count else { break }
                if get32(buffer, offset + 8) == sequence {
                    switch kind {
                    case 3: return  // NLMSG_DONE
                    case 2:  // NLMSG_ERROR: a negative errno
                        let code = Int32(bitPattern: get32(buffer, offset + 16))
                        if code != 0 { throw Errno(rawValue: -code) }
                        return
                    default:
                        body(kind, buffer[(offset + 16)..<(offset + length)])
                    }
                }
                offset += (length + 3) & ~3
            }
            if count == 0 { return }
        }
    }

    /// RTM_NEWLINK: `ifinfomsg` (16 bytes), then IFLA_IFNAME (3) and IFLA_MTU (4).
    static func link(_ message: ArraySlice<UInt8>) -> NetworkInterface? {
        let base = message.startIndex
        guard message.count >= 16 else { return nil }
        let index = Int32(bitPattern: get32(message, base + 4))
        let flags = get32(message, base + 8)
        var name = ""
        var mtu: UInt32 = 0
        attributes(message, from: base + 16) { type, value in
            switch type {
            case 3: name = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
            case 4 where value.count >= 4: mtu = get32(value, value.startIndex)
            default: break
            }
        }
        return NetworkInterface(
            name: name, index: index, up: flags & 0x1 != 0, noARP: flags & 0x80 != 0, loopback: flags & 0x8 != 0,
            mtu: mtu)
    }

    /// AF_INET (2) and AF_INET6 (10), the families read; nil for any other.
    private static func family(_ byte: UInt8) -> AddressFamily? {
        switch byte {
        case 2: .inet
        case 10: .inet6
        default: nil
        }
    }

    /// RTM_NEWADDR: `ifaddrmsg` (8 bytes), then IFA_ADDRESS (1) and IFA_LOCAL (2): an IPv4
    /// address is IFA_LOCAL (IFA_ADDRESS is the peer's on point-to-point links).
    static func address(_ message: ArraySlice<UInt8>) -> (Int32, InterfaceAddress)? {
        let base = message.startIndex
        guard message.count >= 8 else { return nil }
        guard let family = family(message[base]) else { return nil }
        let prefix = Int(message[base + 1])
        let index = Int32(bitPattern: get32(message, base + 4))
        var address: IPAddress?
        var local: IPAddress?
        attributes(message, from: base + 8) { type, value in
            guard type == 1 || type == 2, let parsed = ip(family, value) else { return }
            if type == 1 { address = parsed } else { local = parsed }
        }
        guard let chosen = local ?? address else { return nil }
        return (index, InterfaceAddress(chosen, prefixLength: prefix))
    }

    /// RTM_NEWROUTE: `rtmsg` (12 bytes), then RTA_DST (1), RTA_OIF (4), RTA_GATEWAY (5),
    /// RTA_PRIORITY (6), RTA_METRICS (8, its RTAX_MTU 2), RTA_TABLE (15). Only unicast routes
    /// of the main table.
    static func route(_ message: ArraySlice<UInt8>) -> Route? {
        let base = message.startIndex
        guard message.count >= 12 else { return nil }
        guard let family = family(message[base]) else { return nil }
        let prefix = Int(message[base + 1])
        var table = UInt32(message[base + 4])
        guard message[base + 7] == 1 else { return nil }  // RTN_UNICAST
        var destination = IPAddress(family: family, high: 0, low: 0)
        var gateway: IPAddress?
        var interface: Int32 = 0
        var metric: UInt32 = 0
        var mtu: UInt32 = 0
        attributes(message, from: base + 12) { type, value in
            switch type {
            case 1: if let parsed = ip(family, value) { destination = parsed }
            case 4 where value.count >= 4: interface = Int32(bitPattern: get32(value, value.startIndex))
            case 5: gateway = ip(family, value)
            case 6 where value.count >= 4: metric = get32(value, value.startIndex)
            case 15 where value.count >= 4: table = get32(value, value.startIndex)
            case 8:
                attributes(value, from: value.startIndex) { metricType, metricValue in
                    if metricType == 2 && metricValue.count >= 4 { mtu = get32(metricValue, metricValue.startIndex) }
                }
            default: break
            }
        }
        guard table == 254 else { return nil }  // RT_TABLE_MAIN
        return Route(
            destination: destination, prefixLength: prefix, gateway: gateway, interfaceIndex: interface, metric: metric,
            mtu: mtu)
    }

    private static func ip(_ family: AddressFamily, _ value: ArraySlice<UInt8>) -> IPAddress? {
        let size = family == .inet ? 4 : 16
        guard value.count >= size else { return nil }
        return value.withUnsafeBytes { IPAddress(family: family, networkBytes: UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
    }

    /// Each `rtattr` from `start` to the end of `bytes`: its type (without the nested and
    /// byte-order bits) and its value.
    private static func attributes(_ bytes: ArraySlice<UInt8>, from start: Int, _ body: (UInt16, ArraySlice<UInt8>) -> Void) {
        var offset = start
        while offset + 4 <= bytes.endIndex {
            let length = Int(get16(bytes, offset))
            guard length >= 4, offset + length <= bytes.endIndex else { return }
            body(get16(bytes, offset + 2) & 0x3fff, bytes[(offset + 4)..<(offset + length)])
            offset += (length + 3) & ~3
        }
    }

    private static func get16<C: RandomAccessCollection>(_ bytes: C, _ at: Int) -> UInt16 where C.Index == Int, C.Element == UInt8 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private static func get32<C: RandomAccessCollection>(_ bytes: C, _ at: Int) -> UInt32 where C.Index == Int, C.Element == UInt8 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    private static func put16(_ bytes: inout [UInt8], _ at: Int, _ value: UInt16) {
        bytes[at] = UInt8(truncatingIfNeeded: value)
        bytes[at + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    private static func put32(_ bytes: inout [UInt8], _ at: Int, _ value: UInt32) {
        for shift in 0..<4 { bytes[at + shift] = UInt8(truncatingIfNeeded: value >> UInt32(8 * shift)) }
    }
}
