import Glibc
import IPVS
import IPVSAdm

/// The check along the traffic path (`via=vip`, Docs/Health.md): a TCP SYN addressed to the
/// VIP, delivered to one real server the way IPVS delivers a client's packet, so that a real
/// server that would drop the clients' packets fails it while it still answers on its own
/// address.
///
/// - Direct routing (`-g`): an Ethernet frame to the MAC of the real server (the next hop of the
///   kernel's route to it), sent with an AF_PACKET socket on the route's interface; inside, the
///   SYN from the director's own address (the route's source) to VIP:port. A real server
///   without the VIP on `lo` (or elsewhere) does not take it.
/// - Tunnelling (`-i`): the same SYN inside an IP-in-IP packet to the real server, sent on a
///   raw IP socket. A real server whose `rp_filter` drops the decapsulated packets (or without
///   `tunl0`, or without the VIP on it) does not answer.
///
/// The real server answers the director directly, from the VIP, as it answers clients:
/// a SYN-ACK is `.passed`, a RST `.refused` (the path works, nothing listens on the port).
/// Those replies come from an address the director holds itself (the VIP), so the director's
/// routing drops them as martians before any IP socket sees them: they are read from an
/// AF_PACKET socket, filtered in the kernel (a BPF program) down to TCP SYN-ACKs and RSTs to
/// the probes' ports (61000-65535, above Linux's ephemeral range). After a SYN-ACK the probe
/// sends a RST the same way, so the real server does not keep a half-open connection.
/// The same martian rule stops a false pass through a real server that forwards packets: the
/// SYN it would route on to the VIP carries the director's address as its source.
///
/// IPv4 only: an IPv6 probe finishes at once with `.failed("IPv4 only")`.
///
/// Not thread-safe: one event loop owns it. `deadline` and `now` are on the caller's clock;
/// the retransmissions (one SYN a second, and one ARP trigger a second while the real
/// server's MAC is unknown) run on the monotonic clock, in `expire` and `receive`.
public final class PathProbe {
    public enum Method: Sendable { case directRouting, tunnel }

    public enum Outcome: Sendable, Equatable {
        case passed
        /// A RST from the VIP: the path works, the port is closed.
        case refused
        case timedOut
        case failed(String)
    }

    /// The source ports of probes: above Linux's default ephemeral range (32768-60999), so
    /// that the kernel filter passes few packets of the director's own connections.
    static let ports: ClosedRange<UInt16> = 61000...65535

    private let replySocket: Int32      // AF_PACKET, IPv4, filtered: SYN-ACKs and RSTs to our ports
    private let linkSocket: Int32       // AF_PACKET, send only: DR frames
    private let rawSocket: Int32        // IPPROTO_RAW, send only: IPIP packets
    private let routeSocket: Int32      // rtnetlink requests (RTM_GETROUTE)
    private let neighbourSocket: Int32  // rtnetlink neighbour events
    private let triggerSocket: Int32    // UDP: a datagram to a real server makes the kernel ARP for it

    private typealias Probe = PathProbeBook.Probe
    private var book = PathProbeBook()
    /// Monotonic time of the last retransmission scan: at most 4 a second (a scan visits every
    /// probe in flight; replies to a thousand probes must not cost a thousand scans).
    private var scannedAt = -Double.infinity
    private var neighbours: [NeighbourKey: UInt64] = [:]
    private var arpReadAt = -Double.infinity
    private var ethernet: [Int32: Bool] = [:]
    private var routeSequence: UInt32 = 0
    private let clock = SystemClock()
    private var buffer = [UInt8](repeating: 0, count: 8192)

    public init() throws {
        var opened: [Int32] = []
        func open(_ family: Int32, _ type: Int32, _ proto: Int32) throws(Errno) -> Int32 {
            let descriptor = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), proto)
            guard descriptor >= 0 else { throw Errno.current }
            opened.append(descriptor)
            return descriptor
        }
        let nonBlocking = Int32(SOCK_NONBLOCK.rawValue)
        let ipv4 = Int32(UInt16(0x0800).bigEndian)     // ETH_P_IP, network order
        do {
            replySocket = try open(AF_PACKET, Int32(SOCK_DGRAM.rawValue) | nonBlocking, ipv4)
            linkSocket = try open(AF_PACKET, Int32(SOCK_DGRAM.rawValue) | nonBlocking, 0)
            rawSocket = try open(AF_INET, Int32(SOCK_RAW.rawValue) | nonBlocking, Int32(IPPROTO_RAW))
            routeSocket = try open(RouteNetlink.family, Int32(SOCK_RAW.rawValue), RouteNetlink.routeProtocol)
            neighbourSocket = try open(RouteNetlink.family, Int32(SOCK_RAW.rawValue) | nonBlocking, RouteNetlink.routeProtocol)
            triggerSocket = try open(AF_INET, Int32(SOCK_DGRAM.rawValue) | nonBlocking, 0)
            try PathProbe.attachReplyFilter(replySocket)
            try PathProbe.subscribeToNeighbours(neighbourSocket)
            // A route request is answered at once; the timeout only guards against a kernel
            // that never answers.
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(routeSocket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        } catch {
            opened.forEach { close($0) }
            throw error
        }
        // What arrived before the filter was attached.
        while recv(replySocket, &buffer, buffer.count, 0) > 0 {}
    }

    deinit {
        for descriptor in [replySocket, linkSocket, rawSocket, routeSocket, neighbourSocket, triggerSocket] {
            close(descriptor)
        }
    }

    /// Poll these for POLLIN; call `receive()` when one is readable.
    public var descriptors: [Int32] { [replySocket, neighbourSocket] }

    /// Starts the probe `token`: nil while it is in flight (its outcome comes from `receive` or
    /// `expire`), an outcome when it finished at once (no route, IPv6, a send refused).
    public func send(
        token: Int, vip: IPAddress, port: UInt16, realServer: IPAddress, method: Method, deadline: Double
    ) -> Outcome? {
        book.remove(token)
        guard vip.family == .inet, realServer.family == .inet else { return .failed("IPv4 only") }
        let route: RouteNetlink.Route
        switch lookUpRoute(to: realServer.ipv4) {
        case .error(let errno): return .failed("no route to \(realServer): \(Errno(rawValue: errno).text)")
        case .route(let found): route = found
        }
        guard route.type == RouteNetlink.unicast else {
            return .failed(route.type == RouteNetlink.local
                ? "\(realServer) is an address of this host" : "no unicast route to \(realServer)")
        }
        guard let source = route.source ?? sourceAddress(towards: realServer.ipv4) else {
            return .failed("no source address towards \(realServer)")
        }
        var probe = Probe(
            token: token, vip: vip.ipv4, port: port, realServer: realServer.ipv4, method: method,
            deadline: deadline, source: source, localPort: 0, sequence: UInt32.random(in: .min ... .max),
            interface: route.interface, nextHop: route.gateway ?? realServer.ipv4, link: nil,
            lastSent: clock.now)
        guard let localPort = book.freePort(
            vip: probe.vip, port: port, source: source, random: { UInt16.random(in: PathProbe.ports) })
        else {
            return .failed("no free probe port")
        }
        probe.localPort = localPort
        if method == .directRouting {
            guard isEthernet(route.interface) else {
                return .failed("DR needs an Ethernet interface towards \(realServer), \(interfaceName(route.interface)) is not one")
            }
            probe.link = neighbour(NeighbourKey(interface: route.interface, address: probe.nextHop))
            if probe.link == nil { triggerResolution(of: probe) }
        }
        if method == .tunnel || probe.link != nil, let error = transmit(probe, flags: PathPacket.syn) {
            return .failed("send: \(error.text)")
        }
        book.store(probe)
        return nil
    }

    /// The probes a reply or a neighbour event finished; call when a descriptor is readable.
    public func receive() -> [(token: Int, outcome: Outcome)] {
        var finished: [(token: Int, outcome: Outcome)] = []
        readNeighbourEvents(&finished)
        readReplies(&finished)
        retransmit(&finished)
        return finished
    }

    /// The probes whose deadline is at or before `now`: `.timedOut`, or `.failed` when a DR
    /// real server's MAC never resolved. Also resends the SYN of probes still waiting.
    public func expire(now: Double) -> [(token: Int, outcome: Outcome)] {
        var finished: [(token: Int, outcome: Outcome)] = []
        for probe in book.expire(now: now) {
            let outcome: Outcome = probe.waitsForLink
                ? .failed("no ARP reply from \(IPAddress(ipv4: probe.nextHop)) on \(interfaceName(probe.interface))")
                : .timedOut
            finished.append((probe.token, outcome))
        }
        retransmit(&finished)
        return finished
    }

    // MARK: - Sending

    /// Sends a TCP segment of `probe` (its SYN, or the RST after a SYN-ACK) along its path; the
    /// error that ends the probe, if any. A full queue (EAGAIN, ENOBUFS) is a lost packet, not an
    /// error: the next second's SYN goes out again.
    private func transmit(_ probe: Probe, flags: UInt8) -> Errno? {
        let error = sendSegment(probe, flags: flags)
        guard let error, error.rawValue != EAGAIN, error.rawValue != ENOBUFS, error.rawValue != EINTR else { return nil }
        return error
    }

    private func sendSegment(_ probe: Probe, flags: UInt8) -> Errno? {
        let sequence = flags & PathPacket.rst != 0 ? probe.sequence &+ 1 : probe.sequence
        let segment = PathPacket.tcp(
            source: probe.source, destination: probe.vip, sourcePort: probe.localPort, destinationPort: probe.port,
            sequence: sequence, flags: flags, identification: UInt16.random(in: .min ... .max))
        switch probe.method {
        case .directRouting:
            guard let link = probe.link else { return nil }
            return sendFrame(segment, interface: probe.interface, to: link)
        case .tunnel:
            let packet = PathPacket.ipip(
                source: probe.source, destination: probe.realServer, inner: segment,
                identification: UInt16.random(in: .min ... .max))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = probe.realServer.bigEndian
            let sent = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(rawSocket, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            return sent < 0 ? Errno.current : nil
        }
    }

    /// An IPv4 packet in an Ethernet frame to `link` on `interface` (the kernel writes the
    /// link header: the interface's MAC as source, type IPv4).
    private func sendFrame(_ packet: [UInt8], interface: Int32, to link: UInt64) -> Errno? {
        // struct sockaddr_ll: family u16, protocol u16 (network order), ifindex s32,
        // hatype u16, pkttype u8, halen u8, addr[8].
        var address = sockaddr_storage()
        let sent = withUnsafeMutableBytes(of: &address) { raw in
            raw.storeBytes(of: UInt16(AF_PACKET), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: UInt16(0x0800).bigEndian, toByteOffset: 2, as: UInt16.self)
            raw.storeBytes(of: interface, toByteOffset: 4, as: Int32.self)
            raw[11] = 6
            for i in 0..<6 { raw[12 + i] = UInt8(truncatingIfNeeded: link >> (40 - 8 * UInt64(i))) }
            return sendto(linkSocket, packet, packet.count, 0, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), 20)
        }
        return sent < 0 ? Errno.current : nil
    }

    /// Makes the kernel resolve the probe's next hop: a UDP datagram to the real server's
    /// discard port (the kernel sends ARP requests, and sends the datagram once answered).
    private func triggerResolution(of probe: Probe) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(9).bigEndian
        address.sin_addr.s_addr = probe.realServer.bigEndian
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(triggerSocket, nil, 0, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// One SYN a second for each probe still waiting (a SYN or its answer can be lost); one ARP
    /// trigger a second for each DR probe whose MAC is unknown.
    private func retransmit(_ finished: inout [(token: Int, outcome: Outcome)]) {
        let now = clock.now
        guard now - scannedAt >= 0.25 else { return }
        scannedAt = now
        for var probe in book.probes.values where now - probe.lastSent >= 1 {
            probe.lastSent = now
            if probe.method == .directRouting {
                // A MAC that changed since the last SYN (the neighbour events update the cache).
                let link = neighbour(NeighbourKey(interface: probe.interface, address: probe.nextHop))
                if link == nil, probe.link == nil { triggerResolution(of: probe) }
                probe.link = link ?? probe.link
            }
            book.store(probe)
            if !probe.waitsForLink, let error = transmit(probe, flags: PathPacket.syn) {
                book.remove(probe.token)
                finished.append((probe.token, .failed("send: \(error.text)")))
            }
        }
    }

    // MARK: - Receiving

    private func readReplies(_ finished: inout [(token: Int, outcome: Outcome)]) {
        while true {
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &from) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(replySocket, raw.baseAddress, raw.count, 0, $0, &fromLength)
                    }
                }
            }
            guard count > 0 else { return }
            // sll_pkttype 4 (PACKET_OUTGOING): a copy of what this host sent.
            let outgoing = withUnsafeBytes(of: &from) { $0[10] } == 4
            guard !outgoing else { continue }
            let reply = buffer.withUnsafeBytes { PathPacket.segment(in: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            guard let reply, let (probe, outcome) = book.match(reply) else { continue }
            // The real server holds a half-open connection until it hears from us.
            if outcome == .passed { _ = transmit(probe, flags: PathPacket.rst) }
            finished.append((probe.token, outcome))
        }
    }

    /// Neighbour events keep the MAC cache true; a DR probe waiting for its MAC is sent as soon
    /// as the kernel has resolved it.
    private func readNeighbourEvents(_ finished: inout [(token: Int, outcome: Outcome)]) {
        var changed = false
        while true {
            let count = recv(neighbourSocket, &buffer, buffer.count, 0)
            if count < 0 {
                // ENOBUFS: events were lost; the cache is re-read from /proc/net/arp on demand.
                if errno == ENOBUFS { neighbours = [:]; arpReadAt = -.infinity; changed = true; continue }
                break
            }
            guard count > 0 else { break }
            let events = buffer.withUnsafeBytes { RouteNetlink.neighbourEvents(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            for event in events {
                neighbours[NeighbourKey(interface: event.interface, address: event.address)] = event.link
                changed = changed || event.link != nil
            }
        }
        guard changed, !book.waitingForLink.isEmpty else { return }
        for token in book.waitingForLink {
            guard var probe = book.probes[token],
                  let link = neighbour(NeighbourKey(interface: probe.interface, address: probe.nextHop))
            else { continue }
            probe.link = link
            probe.lastSent = clock.now
            book.store(probe)
            if let error = transmit(probe, flags: PathPacket.syn) {
                book.remove(probe.token)
                finished.append((probe.token, .failed("send: \(error.text)")))
            }
        }
    }

    // MARK: - Routes and neighbours

    private func lookUpRoute(to destination: UInt32) -> RouteNetlink.Answer {
        routeSequence &+= 1
        let request = RouteNetlink.routeRequest(to: destination, sequence: routeSequence)
        // A signal is not an answer: interrupted calls are repeated.
        var sent: Int
        repeat { sent = Glibc.send(routeSocket, request, request.count, 0) } while sent < 0 && errno == EINTR
        guard sent == request.count else { return .error(sent < 0 ? errno : EPROTO) }
        while true {
            let count = recv(routeSocket, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return .error(count < 0 ? errno : EPROTO) }
            let answer = buffer.withUnsafeBytes {
                RouteNetlink.routeAnswer(UnsafeRawBufferPointer(rebasing: $0[0..<count]), sequence: routeSequence)
            }
            if let answer { return answer }
        }
    }

    /// The source address the kernel would use towards `destination`, for a route that names none.
    private func sourceAddress(towards destination: UInt32) -> UInt32? {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return PathProbe.sourceAddress(descriptor, towards: destination)
    }

    /// The source address the kernel routes from towards `destination`: the UDP socket
    /// `descriptor` connected there (no packet is sent), then its own address; nil with errno set.
    static func sourceAddress(_ descriptor: Int32, towards destination: UInt32) -> UInt32? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(9).bigEndian
        address.sin_addr.s_addr = destination.bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        return ok ? UInt32(bigEndian: address.sin_addr.s_addr) : nil
    }

    /// The MAC of a neighbour: from the cache (kept by the events), else from /proc/net/arp
    /// (read at most 20 times a second).
    private func neighbour(_ key: NeighbourKey) -> UInt64? {
        if let link = neighbours[key] { return link }
        let now = clock.now
        guard now - arpReadAt >= 0.05 else { return nil }
        arpReadAt = now
        guard let bytes = try? WholeFile.read("/proc/net/arp") else { return nil }
        neighbours = RouteNetlink.arpTable(String(decoding: bytes, as: UTF8.self))
        return neighbours[key]
    }

    /// Whether an interface is Ethernet (ARPHRD_ETHER in /sys/class/net/NAME/type).
    private func isEthernet(_ interface: Int32) -> Bool {
        if let known = ethernet[interface] { return known }
        let path = "/sys/class/net/\(interfaceName(interface))/type"
        let type = (try? WholeFile.read(path)).map { String(decoding: $0, as: UTF8.self) }
        let answer = type?.split(separator: "\n").first == "1"
        ethernet[interface] = answer
        return answer
    }

    private func interfaceName(_ interface: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(IF_NAMESIZE)) { name in
            guard if_indextoname(UInt32(bitPattern: interface), name.baseAddress) != nil else { return "interface \(interface)" }
            return String(cString: name.baseAddress!)
        }
    }

    // MARK: - Sockets

    /// The kernel filter of the reply socket (classic BPF, on the IPv4 packet): TCP, first
    /// fragment, destination port in `ports`, and RST set or SYN and ACK both set.
    static let replyFilter: [(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32)] = [
        (0x30, 0, 0, 9),                                // ldb [9]            protocol
        (0x15, 0, 10, UInt32(PathPacket.protocolTCP)),  // jeq #6             else drop
        (0x28, 0, 0, 6),                                // ldh [6]            flags, fragment offset
        (0x45, 8, 0, 0x1fff),                           // jset #0x1fff       a later fragment: drop
        (0xb1, 0, 0, 0),                                // ldxb 4*([0]&0xf)   x = IP header length
        (0x48, 0, 0, 2),                                // ldh [x+2]          destination port
        (0x35, 0, 5, UInt32(ports.lowerBound)),         // jge #61000         else drop
        (0x50, 0, 0, 13),                               // ldb [x+13]         TCP flags
        (0x45, 2, 0, UInt32(PathPacket.rst)),           // jset #RST          accept
        (0x54, 0, 0, UInt32(PathPacket.syn | PathPacket.ack)),  // and #SYN|ACK
        (0x15, 0, 1, UInt32(PathPacket.syn | PathPacket.ack)),  // jeq #SYN|ACK   accept, else drop
        (0x06, 0, 0, 256),                              // ret #256           accept (headers are enough)
        (0x06, 0, 0, 0),                                // ret #0             drop
    ]

    static func attachReplyFilter(_ descriptor: Int32) throws(Errno) {
        // struct sock_filter: code u16, jt u8, jf u8, k u32 (host order).
        var program = [UInt8](repeating: 0, count: replyFilter.count * 8)
        for (index, instruction) in replyFilter.enumerated() {
            RouteNetlink.store16(instruction.code, &program, index * 8)
            program[index * 8 + 2] = instruction.jt
            program[index * 8 + 3] = instruction.jf
            RouteNetlink.store32(instruction.k, &program, index * 8 + 4)
        }
        let status = program.withUnsafeBytes { instructions in
            // struct sock_fprog: len u16, then the pointer at offset 8.
            withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { fprog in
                fprog.initializeMemory(as: UInt8.self, repeating: 0)
                fprog.storeBytes(of: UInt16(replyFilter.count), toByteOffset: 0, as: UInt16.self)
                fprog.storeBytes(of: instructions.baseAddress!, toByteOffset: 8, as: UnsafeRawPointer.self)
                return setsockopt(descriptor, SOL_SOCKET, 26 /* SO_ATTACH_FILTER */, fprog.baseAddress, 16)
            }
        }
        guard status == 0 else { throw Errno.current }
        // PACKET_IGNORE_OUTGOING (Linux 4.20): no copies of what this host sends. Older
        // kernels: the packet type is checked on each reply instead.
        var one: Int32 = 1
        _ = setsockopt(descriptor, 263 /* SOL_PACKET */, 23, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func subscribeToNeighbours(_ descriptor: Int32) throws(Errno) {
        // struct sockaddr_nl: family u16, pad u16, pid u32, groups u32.
        var address = sockaddr_storage()
        let status = withUnsafeMutableBytes(of: &address) { raw in
            raw.storeBytes(of: UInt16(RouteNetlink.family), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: RouteNetlink.neighbourGroup, toByteOffset: 8, as: UInt32.self)
            return bind(descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), 12)
        }
        guard status == 0 else { throw Errno.current }
    }
}
