/// The path probes in flight, and how a reply finds its probe: by VIP, port, the director's
/// address and the probe's source port, then by the SYN's sequence number (a late reply to an
/// earlier probe that used the same port does not match). No sockets: unit-tested.
struct PathProbeBook {
    struct Probe: Equatable {
        var token: Int
        var vip: UInt32
        var port: UInt16
        var realServer: UInt32
        var method: PathProbe.Method
        var deadline: Double
        var source: UInt32
        var localPort: UInt16
        var sequence: UInt32
        var interface: Int32
        var nextHop: UInt32
        /// DR: the next hop's MAC, nil while it is being resolved.
        var link: UInt64?
        /// Monotonic time of the last SYN (or ARP trigger while resolving).
        var lastSent: Double

        /// A DR probe that cannot be sent before its next hop's MAC is known.
        var waitsForLink: Bool { method == .directRouting && link == nil }

        fileprivate var replyKey: ReplyKey { ReplyKey(vip: vip, port: port, source: source, localPort: localPort) }
    }

    fileprivate struct ReplyKey: Hashable {
        var vip: UInt32
        var port: UInt16
        var source: UInt32
        var localPort: UInt16
    }

    private(set) var probes: [Int: Probe] = [:]
    private var byReply: [ReplyKey: Int] = [:]
    /// The tokens of the probes that wait for a MAC.
    private(set) var waitingForLink: Set<Int> = []

    /// Adds or updates a probe (a token already in flight with another port is replaced).
    mutating func store(_ probe: Probe) {
        if let old = probes[probe.token], old.replyKey != probe.replyKey { remove(probe.token) }
        probes[probe.token] = probe
        byReply[probe.replyKey] = probe.token
        if probe.waitsForLink { waitingForLink.insert(probe.token) } else { waitingForLink.remove(probe.token) }
    }

    @discardableResult
    mutating func remove(_ token: Int) -> Probe? {
        guard let probe = probes.removeValue(forKey: token) else { return nil }
        waitingForLink.remove(token)
        byReply[probe.replyKey] = nil
        return probe
    }

    /// A source port in `ports`, drawn by `random`, that no probe to the same VIP:port from the
    /// same address uses; nil after 64 draws that were all taken.
    func freePort(vip: UInt32, port: UInt16, source: UInt32, random: () -> UInt16) -> UInt16? {
        for _ in 0..<64 {
            let candidate = random()
            if byReply[ReplyKey(vip: vip, port: port, source: source, localPort: candidate)] == nil { return candidate }
        }
        return nil
    }

    /// The probe `reply` answers, and its verdict; the probe is no longer in flight.
    mutating func match(_ reply: PathPacket.Segment) -> (probe: Probe, outcome: PathProbe.Outcome)? {
        let key = ReplyKey(vip: reply.source, port: reply.sourcePort, source: reply.destination, localPort: reply.destinationPort)
        guard let token = byReply[key], let probe = probes[token],
              let outcome = PathPacket.verdict(of: reply, sequence: probe.sequence)
        else { return nil }
        remove(token)
        return (probe, outcome)
    }

    /// The probes whose deadline is at or before `now`, no longer in flight.
    mutating func expire(now: Double) -> [Probe] {
        let expired = probes.values.filter { $0.deadline <= now }
        for probe in expired { remove(probe.token) }
        return expired
    }
}
