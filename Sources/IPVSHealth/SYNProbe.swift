import CHealthSocket
import Glibc
import IPVS
import IPVSAdm

/// The TCP check without a connection (`tcp`, `mode=syn`, the default for IPv4; Docs/Health.md):
/// a SYN sent on a raw socket, and the server's answer read back on it.
///
/// - a SYN-ACK acknowledging the SYN: something listens (`.listening`); this host's kernel,
///   which knows no connection on the probe's port, answers it with a RST, so the server keeps
///   no half-open connection;
/// - a RST acknowledging it: nothing listens (`.refused`, as connect's ECONNREFUSED);
/// - nothing by the deadline (`.timedOut`): the server is down or unreachable, a firewall
///   drops the SYN, or the server's accept queue is full (its kernel drops SYNs then); the SYN
///   is resent as the kernel resends a connect's (after 1 s, then 2, 4, ... s), so a lost
///   packet costs what it costs a connect.
///
/// These are a connect's verdicts, for a fraction of its cost: no socket, no connection, no
/// child socket on the server, two packets fewer, and a share of two system calls per check
/// (the SYNs of a turn leave in one sendmmsg, the replies of many checks are read in one
/// recvmmsg). What a connect sees and this does not: an ICMP error (a host or port unreachable, a REJECT rule) fails a connect at once and this at its
/// deadline; both fail. Replies pass the director's INPUT firewall before a raw socket sees
/// them, as a connect's do.
///
/// The socket (AF_INET, SOCK_RAW, IPPROTO_TCP, IP_HDRINCL) receives a copy of the TCP packets
/// delivered to this host; a kernel filter (PathProbe's) keeps SYN-ACKs and RSTs to the probe
/// ports (61000-65535, above Linux's ephemeral range) and drops the rest before any copy is
/// queued. Opening it needs CAP_NET_RAW: without it `init` throws and the check connects.
///
/// Not thread-safe: one event loop owns it. Times are on the caller's clock.
final class SYNProbe {
    enum Outcome: Equatable {
        case listening
        case refused
        case timedOut
        case failed(Int32)
    }

    /// A finished check: its token, outcome, and when it was sent.
    typealias Finished = (token: Int, outcome: Outcome, started: Double)

    struct Probe {
        var token: Int
        var started: Double
        var destination: UInt32
        var port: UInt16
        var source: UInt32
        var localPort: UInt16
        var sequence: UInt32
        var deadline: Double
        var resendAt: Double
        var backoff: Double
    }

    /// The raw socket: sends the SYNs, reads the replies. Poll it for POLLIN.
    let descriptor: Int32
    /// UDP: connected to a server, its local address is the source the kernel routes from.
    private let routeSocket: Int32
    /// In flight, by reply: server address (32 bits), server port, probe port.
    private var probes: [UInt64: Probe] = [:]
    private var keyOfToken: [Int: UInt64] = [:]
    /// The source address towards each server, looked up once; forgotten when a probe to it
    /// times out (a route may have changed).
    private var sources: [UInt32: UInt32] = [:]
    private var nextPort = PathProbe.ports.lowerBound
    /// The earliest deadline or resend time in flight: `expire` scans nothing before it.
    private var nextEvent = Double.infinity
    /// Sequence numbers: a SplitMix64 stream seeded from the system's generator (no system call
    /// per check).
    private var random = UInt64.random(in: .min ... .max)
    /// Messages a system call: replies of up to `snap` bytes (the IP and TCP headers are all
    /// that is read), SYNs of `synLength` (IPv4 and TCP headers, no options).
    private static let batch = 64
    private static let snap = 128
    private static let synLength = 40
    /// recvmmsg's replies.
    private let replies: MessageBatch
    /// The probes whose SYN waits for `flush`, by key: the checks started in one turn leave in
    /// one sendmmsg. Where the receive side runs in a kernel thread (threaded NAPI, a NIC's
    /// interrupt), the first SYN of a batch wakes it and the rest find it awake: one wake-up a
    /// turn instead of one a check. A key may be here twice (a probe forgotten and its port
    /// reused before the flush): its SYN leaves twice, and the second reply finds no probe.
    private var pending: [UInt64] = []
    /// sendmmsg's SYNs and their destinations: `batch` a call; the probes they belong to.
    private let syns: MessageBatch
    private var synKeys: [UInt64] = []
    private var packet = PathPacket.tcp(
        source: 0, destination: 0, sourcePort: 0, destinationPort: 0, sequence: 0, flags: PathPacket.syn,
        identification: 0)

    init() throws(Errno) {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        descriptor = socket(AF_INET, Int32(SOCK_RAW.rawValue) | flags, Int32(IPPROTO_TCP))
        guard descriptor >= 0 else { throw Errno.current }
        routeSocket = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | flags, 0)
        guard routeSocket >= 0 else {
            let error = Errno.current
            close(descriptor)
            throw error
        }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        do throws(Errno) {
            guard setsockopt(descriptor, Int32(IPPROTO_IP), IP_HDRINCL, &one, size) == 0 else { throw Errno.current }
            try PathProbe.attachReplyFilter(descriptor)
        } catch {
            close(descriptor)
            close(routeSocket)
            throw error
        }
        // A second's replies of a thousand checks, queued while the loop starts the next ones:
        // beyond net.core.rmem_max when root may (SO_RCVBUFFORCE), else as much as allowed.
        var bytes: Int32 = 4 << 20
        if setsockopt(descriptor, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, size) != 0 {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &bytes, size)
        }
        // Made after the last throw: a failed init runs no deinit to free them.
        replies = MessageBatch(count: SYNProbe.batch, size: SYNProbe.snap, addressed: false)
        syns = MessageBatch(count: SYNProbe.batch, size: SYNProbe.synLength, addressed: true)
        synKeys.reserveCapacity(SYNProbe.batch)
        pending.reserveCapacity(SYNProbe.batch)
        // What arrived before the filter was attached.
        while recv(descriptor, replies.buffer(0), SYNProbe.snap, 0) > 0 {}
    }

    deinit {
        close(descriptor)
        close(routeSocket)
        replies.deallocate()
        syns.deallocate()
    }

    var inFlight: Bool { !probes.isEmpty }

    /// SYNs wait for `flush`.
    var hasPending: Bool { !pending.isEmpty }

    /// Starts check `token`: its SYN leaves at the next `flush`. Nil while it is in flight (its
    /// outcome comes from `flush`, `receive` or `expire`), an outcome when it failed at once
    /// (no route).
    func send(token: Int, to destination: UInt32, port: UInt16, now: Double, deadline: Double) -> Outcome? {
        forget(token)
        guard let source = source(towards: destination) else { return .failed(errno) }
        var key = SYNProbe.key(destination, port, nextPort)
        var tries = 0
        // A port whose earlier probe to the same server is still in flight is skipped.
        while probes[key] != nil {
            advancePort()
            key = SYNProbe.key(destination, port, nextPort)
            tries += 1
            if tries > PathProbe.ports.count { return .failed(EADDRINUSE) }
        }
        let probe = Probe(
            token: token, started: now, destination: destination, port: port, source: source, localPort: nextPort,
            sequence: nextSequence(), deadline: deadline, resendAt: now + 1, backoff: 1)
        advancePort()
        probes[key] = probe
        keyOfToken[token] = key
        pending.append(key)
        nextEvent = min(nextEvent, probe.resendAt, deadline)
        return nil
    }

    /// Sends the SYNs waiting since the last flush, `batch` a system call; a probe whose send
    /// is refused (no route, a firewall's EPERM) is finished with that error. A full queue
    /// (EAGAIN, ENOBUFS) is a lost packet, as on a wire: the resend, or the deadline, follows.
    func flush(into finished: inout [Finished]) {
        var index = 0
        while index < pending.count {
            synKeys.removeAll(keepingCapacity: true)
            while synKeys.count < SYNProbe.batch && index < pending.count {
                let key = pending[index]
                index += 1
                // Forgotten, or finished by a failed send, before it left.
                guard let probe = probes[key] else { continue }
                let slot = synKeys.count
                SYNProbe.fill(&packet, probe)
                packet.withUnsafeBufferPointer { syns.buffer(slot).update(from: $0.baseAddress!, count: SYNProbe.synLength) }
                syns.addresses![slot].sin_addr.s_addr = probe.destination.bigEndian
                synKeys.append(key)
            }
            var first = 0
            while first < synKeys.count {
                let sent = Int(ipvs_sendmmsg(descriptor, syns.headers + first, UInt32(synKeys.count - first)))
                if sent > 0 {
                    first += sent
                    continue
                }
                let error = sent < 0 ? errno : EAGAIN
                if error == EINTR { continue }
                if error == EAGAIN || error == ENOBUFS { break }
                if let probe = probes.removeValue(forKey: synKeys[first]) {
                    keyOfToken[probe.token] = nil
                    finished.append((probe.token, .failed(error), probe.started))
                }
                first += 1
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    func forget(_ token: Int) {
        if let key = keyOfToken.removeValue(forKey: token) { probes[key] = nil }
    }

    /// The probes the replies queued on the socket finished; call when it is readable.
    func receive(into finished: inout [Finished]) {
        while true {
            for index in 0..<SYNProbe.batch { replies.headers[index].msg_len = 0 }
            let count = Int(ipvs_recvmmsg(descriptor, replies.headers, UInt32(SYNProbe.batch)))
            guard count > 0 else { return }
            for index in 0..<count {
                let packet = UnsafeRawBufferPointer(
                    start: replies.buffer(index), count: min(Int(replies.headers[index].msg_len), SYNProbe.snap))
                guard let reply = PathPacket.segment(in: packet) else { continue }
                let key = SYNProbe.key(reply.source, reply.sourcePort, reply.destinationPort)
                guard let probe = probes[key], probe.source == reply.destination,
                      let verdict = PathPacket.verdict(of: reply, sequence: probe.sequence)
                else { continue }
                probes[key] = nil
                keyOfToken[probe.token] = nil
                finished.append((probe.token, verdict == .passed ? .listening : .refused, probe.started))
            }
            if count < SYNProbe.batch { return }
        }
    }

    /// The probes whose deadline is at or before `now` (`.timedOut`); queues the SYN of those
    /// whose resend time has come (sent by the next `flush`). The time of the next such event,
    /// for the caller's wait.
    @discardableResult
    func expire(now: Double, into finished: inout [Finished]) -> Double {
        guard now >= nextEvent else { return nextEvent }
        var next = Double.infinity
        for (key, var probe) in probes {
            if probe.deadline <= now {
                probes[key] = nil
                keyOfToken[probe.token] = nil
                sources[probe.destination] = nil
                finished.append((probe.token, .timedOut, probe.started))
                continue
            }
            if probe.resendAt <= now {
                probe.backoff *= 2
                probe.resendAt = now + probe.backoff
                probes[key] = probe
                pending.append(key)
            }
            next = min(next, probe.deadline, probe.resendAt)
        }
        nextEvent = next
        return next
    }

    /// The time `expire` has something to do.
    var nextEventTime: Double { nextEvent }

    // MARK: - Helpers

    static func key(_ address: UInt32, _ port: UInt16, _ localPort: UInt16) -> UInt64 {
        UInt64(address) << 32 | UInt64(port) << 16 | UInt64(localPort)
    }

    private func advancePort() {
        nextPort = nextPort == PathProbe.ports.upperBound ? PathProbe.ports.lowerBound : nextPort + 1
    }

    private func nextSequence() -> UInt32 {
        random &+= 0x9e37_79b9_7f4a_7c15
        var mixed = random
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return UInt32(truncatingIfNeeded: mixed ^ (mixed >> 31))
    }

    /// The source address the kernel routes from towards `destination` (errno set when none).
    private func source(towards destination: UInt32) -> UInt32? {
        if let known = sources[destination] { return known }
        guard let source = PathProbe.sourceAddress(routeSocket, towards: destination) else { return nil }
        sources[destination] = source
        return source
    }

    /// The probe's SYN written over `packet` (a 40-byte IPv4 + TCP template made by
    /// PathPacket.tcp): addresses, ports, sequence number and TCP checksum; the kernel fills
    /// the IP identification (left 0), length and checksum. Hot path: no allocation per check.
    static func fill(_ packet: inout [UInt8], _ probe: Probe) {
        PathPacket.put32(probe.source, &packet, at: 12)
        PathPacket.put32(probe.destination, &packet, at: 16)
        PathPacket.put16(probe.localPort, &packet, at: 20)
        PathPacket.put16(probe.port, &packet, at: 22)
        PathPacket.put32(probe.sequence, &packet, at: 24)
        PathPacket.put16(0, &packet, at: 36)
        var sum = (probe.source >> 16) &+ (probe.source & 0xffff) &+ (probe.destination >> 16)
        sum &+= (probe.destination & 0xffff) &+ UInt32(PathPacket.protocolTCP) &+ 20
        PathPacket.put16(PathPacket.checksum(folding: PathPacket.sum(packet[20..<40], into: sum)), &packet, at: 36)
    }
}

/// `count` buffers of `size` bytes with their iovecs and mmsghdrs, made once: recvmmsg's and
/// sendmmsg's vectors. `addressed` adds a sockaddr_in (AF_INET) per message, its name: where
/// sendmmsg sends it. Freed by `deallocate`, by its owner.
struct MessageBatch {
    let headers: UnsafeMutablePointer<ipvs_mmsghdr>
    let addresses: UnsafeMutablePointer<sockaddr_in>?
    private let buffers: UnsafeMutablePointer<UInt8>
    private let vectors: UnsafeMutablePointer<iovec>
    private let size: Int

    init(count: Int, size: Int, addressed: Bool) {
        self.size = size
        buffers = .allocate(capacity: count * size)
        vectors = .allocate(capacity: count)
        headers = .allocate(capacity: count)
        addresses = addressed ? .allocate(capacity: count) : nil
        for index in 0..<count {
            vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(buffers + index * size), iov_len: size)
            headers[index] = ipvs_mmsghdr()
            headers[index].msg_hdr.msg_iov = vectors + index
            headers[index].msg_hdr.msg_iovlen = 1
            if let addresses {
                addresses[index] = sockaddr_in()
                addresses[index].sin_family = sa_family_t(AF_INET)
                headers[index].msg_hdr.msg_name = UnsafeMutableRawPointer(addresses + index)
                headers[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        }
    }

    func buffer(_ index: Int) -> UnsafeMutablePointer<UInt8> { buffers + index * size }

    func deallocate() {
        buffers.deallocate()
        vectors.deallocate()
        headers.deallocate()
        addresses?.deallocate()
    }
}
