import IPVS

/// A real server's checks (Docs/Doctor.md, "On a real server"): this host as a real server of
/// `targets` (VIP and forwarding method), with `director` its gateway for NAT. Needs no IPVS.
struct RealServerDoctor {
    let reader: HostReader
    let targets: [(vip: IPAddress, method: ForwardingMethod)]
    let director: IPAddress?

    /// The arp_ignore values that keep an interface from answering for the VIP held elsewhere:
    /// 1 (target on the receiving interface), 2 (and sender on its subnet), 8 (never).
    static let quietARPIgnore: Set<Int> = [1, 2, 8]

    func examine() throws(DoctorFailure) -> DoctorReport {
        var report = DoctorReport(mode: .realServer)
        let facts: NetworkFacts
        do throws(Errno) {
            facts = try reader.host.networkFacts()
        } catch {
            throw .network(error)
        }
        var arpMatters = false
        var tunnelChecked = false
        var gatewayChecked: Set<AddressFamily> = []
        for (vip, method) in targets {
            let object = "VIP \(vip.text)"
            switch method {
            case .masquerading:
                guard let director, !gatewayChecked.contains(vip.family) else { continue }
                gatewayChecked.insert(vip.family)
                checkGateway(director, facts, &report)
            case .tunnel:
                if !tunnelChecked {
                    tunnelChecked = true
                    checkTunnel(facts, &report)
                }
                checkVIPHeld(vip, object, home: "tunl0", requireQuiet: false, facts, &report)
                // On the VIP's own network, neighbours ask for it by ARP: answer they must not.
                if vip.family == .inet, facts.interfaces.contains(where: { interface in
                    interface.up && interface.answersARP
                        && interface.addresses.contains { NetworkFacts.contains($0.address, $0.prefixLength, vip) && $0.address != vip }
                }) {
                    arpMatters = true
                }
            default:
                checkVIPHeld(vip, object, home: "lo", requireQuiet: true, facts, &report)
                if vip.family == .inet { arpMatters = true }
            }
        }
        if arpMatters { checkARP(facts, &report) }
        return report
    }

    /// The VIP must be an address of an interface that is up; for DR, of one that does not
    /// answer ARP (lo or a NOARP interface).
    private func checkVIPHeld(
        _ vip: IPAddress, _ object: String, home: String, requireQuiet: Bool, _ facts: NetworkFacts,
        _ report: inout DoctorReport
    ) {
        guard let (interface, held) = facts.holder(of: vip) else {
            var fix: [String] = []
            if home == "lo", facts.interface(named: "lo")?.up == false { fix.append("ip link set dev lo up") }
            fix.append("ip addr add \(DoctorNames.host(vip)) dev \(home)")
            report.add(
                .error, .rsVIPMissing, object,
                "The VIP is not an address of this host, so the packets the director sends for it are not delivered"
                    + " locally and are dropped or forwarded.",
                fix: fix)
            return
        }
        // A VIP on a tunl0 that is down is rs-tunl0-missing's to report (its fix brings both back).
        if !interface.up && !(home == "tunl0" && interface.name == "tunl0") {
            report.add(
                .error, .rsVIPMissing, object,
                "The VIP is on \(interface.name), which is down, so the kernel does not treat it as local and drops"
                    + " the packets the director sends for it.",
                fix: ["ip link set dev \(interface.name) up"])
            return
        }
        if interface.up && requireQuiet && vip.family == .inet && interface.answersARP {
            report.add(
                .error, .rsVIPOnARPInterface, object,
                "The VIP is on \(interface.name), which answers ARP for it: the real server claims the VIP on the"
                    + " segment and takes clients' traffic away from the director.",
                fix: [
                    "ip addr del \(vip.text)/\(held.prefixLength) dev \(interface.name)",
                    "ip addr add \(DoctorNames.host(vip)) dev \(home)",
                ])
        }
    }

    /// arp_ignore and arp_announce as the kernel applies them: the larger of `all` and the
    /// interface's, on every interface that is up, does ARP and has an IPv4 address.
    private func checkARP(_ facts: NetworkFacts, _ report: inout DoctorReport) {
        let allIgnore = reader.sysctl("net.ipv4.conf.all.arp_ignore") ?? 0
        let allAnnounce = reader.sysctl("net.ipv4.conf.all.arp_announce") ?? 0
        for interface in facts.interfaces
        where interface.up && interface.answersARP && interface.addresses.contains(where: { $0.address.family == .inet }) {
            let ignoreKey = DoctorNames.conf(.inet, interface.name, "arp_ignore")
            let ownIgnore = reader.sysctl(ignoreKey) ?? 0
            let quiet = RealServerDoctor.quietARPIgnore
            if !quiet.contains(max(allIgnore, ownIgnore)) {
                var fix: [String] = []
                var all = allIgnore
                if !quiet.contains(all) {
                    all = 1
                    fix.append("sysctl -w net.ipv4.conf.all.arp_ignore=1")
                }
                if !quiet.contains(max(all, ownIgnore)) { fix.append("sysctl -w \(ignoreKey)=1") }
                report.add(
                    .error, .rsARPIgnore, interface.name,
                    "arp_ignore is \(max(allIgnore, ownIgnore)) on \(interface.name) (the larger of all and the"
                        + " interface): the real server answers ARP for the VIP it holds elsewhere, and the segment"
                        + " sends the VIP's traffic to it instead of the director.",
                    fix: fix)
            }
            let announceKey = DoctorNames.conf(.inet, interface.name, "arp_announce")
            let ownAnnounce = reader.sysctl(announceKey) ?? 0
            if max(allAnnounce, ownAnnounce) < 2 {
                report.add(
                    .error, .rsARPAnnounce, interface.name,
                    "arp_announce is \(max(allAnnounce, ownAnnounce)) on \(interface.name) (the larger of all and the"
                        + " interface): the real server's ARP requests may carry the VIP as their source, and"
                        + " neighbours then send the VIP's traffic to it.",
                    fix: ["sysctl -w net.ipv4.conf.all.arp_announce=2"])
            }
        }
    }

    /// TUN: the ipip module, tunl0 up, and rp_filter not strict where decapsulated packets
    /// arrive (the kernel uses the larger of all and tunl0).
    private func checkTunnel(_ facts: NetworkFacts, _ report: inout DoctorReport) {
        let loaded = reader.moduleLoaded("ipip")
        if !loaded {
            report.add(
                .error, .rsIPIPMissing, "ipip",
                "The ipip module is not loaded, so the kernel cannot decapsulate the director's IPIP packets and"
                    + " drops them.",
                fix: ["modprobe ipip"])
        }
        let tunnel = facts.interface(named: "tunl0")
        if tunnel?.up != true {
            report.add(
                .error, .rsTunl0Missing, "tunl0",
                tunnel == nil
                    ? "There is no tunl0, the interface on which the kernel receives IPIP packets for any address."
                    : "tunl0 is down, so the IPIP packets from the director are not received.",
                fix: tunnel == nil && loaded ? ["ip link add name tunl0 type ipip", "ip link set dev tunl0 up"]
                    : ["ip link set dev tunl0 up"])
        }
        let all = reader.sysctl("net.ipv4.conf.all.rp_filter") ?? 0
        let own = reader.sysctl("net.ipv4.conf.tunl0.rp_filter") ?? reader.sysctl("net.ipv4.conf.default.rp_filter") ?? 0
        if max(all, own) == 1 {
            var fix: [String] = []
            if all == 1 { fix.append("sysctl -w net.ipv4.conf.all.rp_filter=0") }
            if own == 1 { fix.append("sysctl -w net.ipv4.conf.tunl0.rp_filter=0") }
            report.add(
                .error, .rsRPFilter, "tunl0",
                "rp_filter is strict on tunl0 (the larger of all and tunl0): a decapsulated packet's client source is"
                    + " routed through another interface, so the kernel drops it.",
                fix: fix)
        }
    }

    /// NAT: replies must go back through the director, the default route's gateway.
    private func checkGateway(_ director: IPAddress, _ facts: NetworkFacts, _ report: inout DoctorReport) {
        let defaults = facts.routes.filter { $0.prefixLength == 0 && $0.destination.family == director.family }
            .filter { facts.interface(index: $0.interfaceIndex)?.up ?? false }
        let current = defaults.min { $0.metric < $1.metric }
        guard current?.gateway != director else { return }
        let prefix = director.family == .inet6 ? "ip -6 route" : "ip route"
        report.add(
            .error, .rsNATGateway, "default route",
            (current == nil ? "There is no default route" : current?.gateway == nil
                ? "The default route has no gateway" : "The default route goes through \(current!.gateway!.text)")
                + " where it must go through the director \(director.text): replies to clients bypass the director,"
                + " which never rewrites their source back to the VIP, and clients drop them.",
            fix: [current == nil ? "\(prefix) add default via \(director.text)" : "\(prefix) replace default via \(director.text)"])
    }
}
