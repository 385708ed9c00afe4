/// What the doctor knows about the sysctls an LVS set-up depends on: the value that works,
/// why, and when a different value breaks something (the doctor reports a value only then).
/// One place for `--doctor` and for any view of the sysctls: look a name up with `advice(for:)`.
public struct SysctlAdvice: Sendable {
    /// The sysctl key; `*` stands for an interface name.
    public let name: String
    /// The value (or values, `1|2`) that works.
    public let recommended: String
    /// What breaks otherwise, and why.
    public let reason: String
    /// The condition under which another value breaks something.
    public let appliesWhen: String
    /// The finding the doctor reports.
    public let code: DoctorCode

    public static let all: [SysctlAdvice] = [
        SysctlAdvice(
            name: "net.ipv4.vs.conn_reuse_mode", recommended: "0",
            reason: "with conntrack on a kernel before 5.9, a SYN that reuses the port of a finished connection is"
                + " dropped so that it can be scheduled anew, and the client waits for its 1-second retransmission",
            appliesWhen: "net.ipv4.vs.conntrack=1 and a kernel before 5.9", code: .sysctlConnReuseMode),
        SysctlAdvice(
            name: "net.ipv4.vs.expire_nodest_conn", recommended: "1",
            reason: "with 0, the connections of a real server removed from the table stay until they time out and"
                + " their packets are dropped silently: clients hang instead of reconnecting",
            appliesWhen: "connections point at a real server no longer in the table", code: .sysctlExpireNodestConn),
        SysctlAdvice(
            name: "net.ipv4.vs.expire_quiescent_template", recommended: "1",
            reason: "with 0, a persistence template keeps sending its client to a real server of weight 0"
                + " (quiesced by a health checker or by hand) for as long as the client keeps coming",
            appliesWhen: "a persistent service has a real server of weight 0", code: .sysctlExpireQuiescentTemplate),
        SysctlAdvice(
            name: "net.ipv4.vs.conntrack", recommended: "1",
            reason: "with 0, IPVS connections are not tracked, so netfilter NAT rules and conntrack state matches"
                + " see the LVS-NAT traffic as untracked or invalid and drop or mangle it",
            appliesWhen: "NAT services and netfilter NAT (nf_nat) loaded", code: .sysctlConntrack),
        SysctlAdvice(
            name: "net.ipv4.ip_forward", recommended: "1",
            reason: "LVS-NAT replies pass through the director's forwarding path, where IPVS rewrites them; with 0"
                + " the kernel drops them",
            appliesWhen: "NAT services (IPv4)", code: .natIPForwardOff),
        SysctlAdvice(
            name: "net.ipv6.conf.all.forwarding", recommended: "1",
            reason: "LVS-NAT replies pass through the director's forwarding path, where IPVS rewrites them; with 0"
                + " the kernel drops them",
            appliesWhen: "NAT services (IPv6)", code: .natIPForwardOff),
        SysctlAdvice(
            name: "net.ipv4.conf.*.send_redirects", recommended: "0",
            reason: "a director that forwards a packet out of the interface it came in on sends ICMP redirects,"
                + " telling hosts of the segment to bypass it (the kernel ORs all and the interface)",
            appliesWhen: "DR real servers reached through that interface", code: .drSendRedirectsOn),
        SysctlAdvice(
            name: "net.ipv4.conf.*.arp_ignore", recommended: "1|2",
            reason: "a DR real server answers ARP for the VIP it holds on lo, stealing the VIP's traffic from the"
                + " director (the kernel uses the larger of all and the interface)",
            appliesWhen: "a DR (or TUN, on the VIP's network) real server", code: .rsARPIgnore),
        SysctlAdvice(
            name: "net.ipv4.conf.*.arp_announce", recommended: "2",
            reason: "a DR real server announces the VIP as the source of its own ARP requests, and neighbours"
                + " then send the VIP's traffic to it (the kernel uses the larger of all and the interface)",
            appliesWhen: "a DR (or TUN, on the VIP's network) real server", code: .rsARPAnnounce),
        SysctlAdvice(
            name: "net.ipv4.conf.*.rp_filter", recommended: "0|2",
            reason: "strict reverse-path filtering drops decapsulated packets on tunl0, whose client source is"
                + " routed through another interface (the kernel uses the larger of all and tunl0)",
            appliesWhen: "a TUN real server", code: .rsRPFilter),
    ]

    /// The advice for a sysctl key (`net.ipv4.conf.eth0.arp_ignore` finds the `*` entry).
    public static func advice(for name: String) -> SysctlAdvice? {
        if let exact = all.first(where: { $0.name == name }) { return exact }
        let parts = name.split(separator: ".")
        guard parts.count == 5, parts[0] == "net", parts[2] == "conf" else { return nil }
        let pattern = "\(parts[0]).\(parts[1]).conf.*.\(parts[4])"
        return all.first { $0.name == pattern }
    }
}
