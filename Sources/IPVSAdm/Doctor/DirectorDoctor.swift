import IPVS

/// The director's checks (Docs/Doctor.md, "On the director"), over the live table: one
/// service dump, one real-server dump per service (as `-Ln`), the host's network read once,
/// and per real server only look-ups in memory (routes are cached by address).
struct DirectorDoctor {
    let backend: any IPVSBackend
    let reader: HostReader
    let rules: DoctorRules?

    /// The smallest MTU a tunnel may leave: IPv6's minimum link MTU.
    static let minimumTunnelMTU: UInt32 = 1280

    func examine() throws(DoctorFailure) -> DoctorReport {
        var report = DoctorReport(mode: .director)
        let table: [(VirtualService, [Destination])]
        let timeouts: Timeouts
        let daemons: [SyncDaemon]
        do throws(IPVSError) {
            var read: [(VirtualService, [Destination])] = []
            for service in try backend.services() { read.append((service, try backend.destinations(of: service))) }
            table = read
            timeouts = try backend.timeouts()
            daemons = try backend.daemons()
        } catch {
            throw .kernel(error)
        }
        let facts: NetworkFacts
        do throws(Errno) {
            facts = try reader.host.networkFacts()
        } catch {
            throw .network(error)
        }

        var natFamilies: Set<AddressFamily> = []
        var persistent = false
        var quiescedPersistent = false
        var drInterfaces: [String] = []
        var marks: [UInt32: [ServiceKey]] = [:]
        var routes: [IPAddress: Route?] = [:]
        func route(_ address: IPAddress) -> Route? {
            if let known = routes[address] { return known }
            let found = facts.route(to: address)
            routes[address] = found
            return found
        }

        for (service, destinations) in table {
            let key = service.key
            // Names are made only for a finding: most services have none.
            var name: String { DoctorNames.service(key) }
            if key.fwmark != 0 {
                marks[key.fwmark, default: []].append(key)
            } else if !facts.isLocal(key.address) {
                let interface = homeInterface(for: key.address, facts)
                report.add(
                    .error, .vipNotLocal, name,
                    "The VIP \(key.address.text) is not an address of this host, so packets for it are not"
                        + " delivered locally and IPVS never sees them.",
                    fix: ["ip addr add \(DoctorNames.host(key.address)) dev \(interface)"])
            }
            if !destinations.contains(where: { $0.weight > 0 }) {
                let fix: String
                if let first = destinations.first {
                    fix = "ipvsadm -e \(DoctorNames.serviceOptions(key)) -r \(DoctorNames.endpoint(first.address, first.port))"
                        + " \(DoctorNames.forwardingOption(first.forwarding)) -w 1"
                } else {
                    fix = "ipvsadm -a \(DoctorNames.serviceOptions(key)) -r REAL-SERVER-ADDRESS -g -w 1"
                }
                report.add(
                    .error, .noLiveRealServer, name,
                    destinations.isEmpty
                        ? "The service has no real server, so every new connection to it is refused."
                        : "Every real server of the service has weight 0, so no new connection is scheduled.",
                    fix: [fix])
            }
            if service.flags.contains(.persistent) {
                persistent = true
                if destinations.contains(where: { $0.weight == 0 }) { quiescedPersistent = true }
                if key.protocolNumber == .tcp || key.fwmark != 0, timeouts.tcp > 0, service.timeout > timeouts.tcp {
                    report.add(
                        .warning, .persistenceOverTCPTimeout, name,
                        "Persistence is \(service.timeout) s but the TCP timeout is \(timeouts.tcp) s: a connection idle"
                            + " longer than \(timeouts.tcp) s is forgotten and its next packet, not a SYN, is dropped.",
                        fix: ["ipvsadm --set \(service.timeout) 0 0"])
                }
            }
            for destination in destinations {
                if facts.isLocal(destination.address) { continue }
                var server: String { DoctorNames.server(key, destination) }
                switch destination.forwarding {
                case .masquerading:
                    natFamilies.insert(destination.address.family)
                    let path = route(destination.address)
                    if path?.gateway != nil || path == nil {
                        report.add(
                            .warning, .natRealServerNotOnLink, server,
                            path == nil
                                ? "No route reaches the real server, so IPVS cannot send it the connections."
                                : "The real server is reached through the gateway \(path!.gateway!.text): its replies"
                                    + " reach clients without passing this director unless every router on the way"
                                    + " sends them back here, and then they are dropped.",
                            fix: ["ip route add \(DoctorNames.host(destination.address)) dev \(serverInterface(key, path, facts))"])
                    }
                case .directRouting:
                    let path = route(destination.address)
                    if let path, path.gateway == nil {
                        if let interface = facts.interface(index: path.interfaceIndex), !drInterfaces.contains(interface.name) {
                            drInterfaces.append(interface.name)
                        }
                    } else {
                        report.add(
                            .error, .drRealServerNotOnLink, server,
                            (path == nil ? "No route reaches the real server" : "The real server is reached through the"
                                + " gateway \(path!.gateway!.text)")
                                + ": direct routing only rewrites the destination MAC address, so the real server"
                                + " must be on a network of this director (the same L2 segment).",
                            fix: ["ip route add \(DoctorNames.host(destination.address)) dev \(serverInterface(key, path, facts))"])
                    }
                case .tunnel:
                    guard let path = route(destination.address), let interface = facts.interface(index: path.interfaceIndex)
                    else { continue }
                    let mtu = path.mtu != 0 ? path.mtu : interface.mtu
                    let overhead = DirectorDoctor.tunnelOverhead(destination)
                    if mtu > 0 && mtu < DirectorDoctor.minimumTunnelMTU + overhead {
                        let left = mtu > overhead ? mtu - overhead : 0
                        report.add(
                            .warning, .tunMTU, server,
                            "The path to the real server has MTU \(mtu) and encapsulation takes \(overhead) bytes, leaving"
                                + " \(left), below \(DirectorDoctor.minimumTunnelMTU): larger packets need fragmentation-needed"
                                + " ICMP to reach the client, and stall where ICMP is filtered.",
                            fix: ["ip link set dev \(interface.name) mtu \(DirectorDoctor.minimumTunnelMTU + overhead)"])
                    }
                default:
                    continue
                }
            }
        }

        if natFamilies.contains(.inet), reader.sysctl("net.ipv4.ip_forward") == 0 {
            report.add(
                .error, .natIPForwardOff, "net.ipv4.ip_forward",
                "NAT real servers' replies pass through this director's forwarding path, where IPVS rewrites them;"
                    + " with forwarding off the kernel drops them.",
                fix: ["sysctl -w net.ipv4.ip_forward=1"])
        }
        if natFamilies.contains(.inet6), reader.sysctl("net.ipv6.conf.all.forwarding") == 0 {
            report.add(
                .error, .natIPForwardOff, "net.ipv6.conf.all.forwarding",
                "NAT real servers' replies pass through this director's forwarding path, where IPVS rewrites them;"
                    + " with forwarding off the kernel drops them.",
                fix: ["sysctl -w net.ipv6.conf.all.forwarding=1"])
        }
        checkRedirects(drInterfaces, &report)
        checkSysctls(table, nat: !natFamilies.isEmpty, persistent: persistent, quiesced: quiescedPersistent, &report)
        for daemon in daemons {
            let interface = facts.interface(named: daemon.interface)
            guard interface?.up != true else { continue }
            report.add(
                .error, .syncInterfaceDown, "sync daemon \(daemon.state.name) (syncid \(daemon.syncID))",
                interface == nil
                    ? "The sync daemon's interface \(daemon.interface) does not exist in this namespace, so no connection"
                        + " state is exchanged and a fail-over drops every connection."
                    : "The sync daemon's interface \(daemon.interface) is down, so no connection state is exchanged"
                        + " and a fail-over drops every connection.",
                fix: interface == nil
                    ? ["ipvsadm --stop-daemon \(daemon.state.name) --syncid \(daemon.syncID)",
                       "ipvsadm --start-daemon \(daemon.state.name) --mcast-interface INTERFACE --syncid \(daemon.syncID)"]
                    : ["ip link set dev \(daemon.interface) up"])
        }
        if !marks.isEmpty { checkMarks(marks, facts, &report) }
        if let rules { checkRules(rules, running: daemons, &report) }
        return report
    }

    /// Bytes the tunnel adds: the outer IP header, and GUE's UDP and GUE headers or GRE's.
    static func tunnelOverhead(_ destination: Destination) -> UInt32 {
        let outer: UInt32 = destination.address.family == .inet ? 20 : 40
        switch destination.tunnelType {
        case .gue: return outer + 8 + 4
        case .gre: return outer + 4 + (destination.tunnelFlags.contains(.checksum) ? 4 : 0)
        default: return outer
        }
    }

    /// Where a VIP belongs: the interface of the connected network holding it, else of the
    /// default route, else lo.
    private func homeInterface(for address: IPAddress, _ facts: NetworkFacts) -> String {
        if let route = facts.route(to: address), let interface = facts.interface(index: route.interfaceIndex) {
            return interface.name
        }
        return "lo"
    }

    /// The interface a real server should be reached on: the VIP's, else the route's.
    private func serverInterface(_ key: ServiceKey, _ path: Route?, _ facts: NetworkFacts) -> String {
        if key.fwmark == 0, let holder = facts.holder(of: key.address), !holder.interface.loopback {
            return holder.interface.name
        }
        if let path, let interface = facts.interface(index: path.interfaceIndex) { return interface.name }
        return "INTERFACE"
    }

    /// send_redirects: the kernel sends redirects when `all` OR the interface says so.
    private func checkRedirects(_ interfaces: [String], _ report: inout DoctorReport) {
        let all = reader.sysctl("net.ipv4.conf.all.send_redirects") ?? 0
        for name in interfaces {
            let key = DoctorNames.conf(.inet, name, "send_redirects")
            let own = reader.sysctl(key) ?? 0
            guard all != 0 || own != 0 else { continue }
            var fix: [String] = []
            if all != 0 { fix.append("sysctl -w net.ipv4.conf.all.send_redirects=0") }
            if own != 0 { fix.append("sysctl -w \(key)=0") }
            report.add(
                .warning, .drSendRedirectsOn, name,
                "ICMP redirects are on for \(name), where DR real servers are: the director tells hosts of the"
                    + " segment to bypass it for what it forwards back out of the same interface.",
                fix: fix)
        }
    }

    private func checkSysctls(
        _ table: [(VirtualService, [Destination])], nat: Bool, persistent: Bool, quiesced: Bool,
        _ report: inout DoctorReport
    ) {
        let conntrack = reader.sysctl("net.ipv4.vs.conntrack")
        if let mode = reader.sysctl("net.ipv4.vs.conn_reuse_mode"), mode & 1 != 0, conntrack == 1,
            let (major, minor) = reader.version, major < 5 || (major == 5 && minor < 9)
        {
            report.add(
                .warning, .sysctlConnReuseMode, "net.ipv4.vs.conn_reuse_mode",
                "With conntrack on this kernel (before 5.9), a SYN reusing the port of a finished connection is dropped"
                    + " to be scheduled anew, and the client stalls 1 second until it retransmits.",
                fix: ["sysctl -w net.ipv4.vs.conn_reuse_mode=0"])
        }
        // Only where it bites now: a persistent service with a real server at weight 0.
        if persistent, quiesced, reader.sysctl("net.ipv4.vs.expire_quiescent_template") == 0 {
            report.add(
                .warning, .sysctlExpireQuiescentTemplate, "net.ipv4.vs.expire_quiescent_template",
                "A persistent service has a real server of weight 0 (quiesced by hand or by a health checker), and its"
                    + " persistence templates outlive that: their clients keep being sent to it for as long as they keep"
                    + " coming back.",
                fix: ["sysctl -w net.ipv4.vs.expire_quiescent_template=1"])
        }
        if nat, conntrack == 0, reader.moduleLoaded("nf_nat"), netfilterNATRules() {
            report.add(
                .warning, .sysctlConntrack, "net.ipv4.vs.conntrack",
                "Netfilter NAT is loaded but IPVS does not keep conntrack entries for its connections: NAT and"
                    + " conntrack-state rules see the LVS-NAT traffic as untracked or invalid and drop or mangle it.",
                fix: ["sysctl -w net.ipv4.vs.conntrack=1"])
        }
        if reader.sysctl("net.ipv4.vs.expire_nodest_conn") == 0 {
            let orphans = orphanConnections(table)
            if orphans > 0 {
                report.add(
                    .warning, .sysctlExpireNodestConn, "net.ipv4.vs.expire_nodest_conn",
                    "\(orphans) connection\(orphans == 1 ? "" : "s") point at a real server no longer in the table:"
                        + " their packets are dropped silently until they time out, so those clients hang.",
                    fix: ["sysctl -w net.ipv4.vs.expire_nodest_conn=1"])
            }
        }
    }

    /// Whether netfilter NAT rules exist (iptables' nat table or an nft nat chain with a
    /// masquerade, snat or dnat rule): what sees IPVS's untracked packets. The tools are asked
    /// only when a NAT table or chain type is registered at all (its module loaded).
    private func netfilterNATRules() -> Bool {
        var commands: [String] = []
        if reader.moduleLoaded("iptable_nat") || reader.moduleLoaded("ip6table_nat") { commands.append("iptables-save -t nat") }
        if reader.moduleLoaded("nft_chain_nat") { commands.append("nft list ruleset") }
        for command in commands {
            guard let output = reader.host.commandOutput(command)?.lowercased() else { continue }
            for line in output.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix(":") {
                if line.contains("masquerade") || line.contains("snat") || line.contains("dnat") { return true }
            }
        }
        return false
    }

    /// Connections (/proc/net/ip_vs_conn) whose real server is not in the table and whose
    /// client may still send: not persistence templates (NONE), TIME_WAIT or CLOSE, which only
    /// wait to expire (every `-d` leaves some, and they harm no one).
    private func orphanConnections(_ table: [(VirtualService, [Destination])]) -> Int {
        guard let text = try? backend.connectionTable(), text.utf8.count(where: { $0 == 0x0a }) > 1 else { return 0 }
        var servers: Set<String> = []
        for (_, destinations) in table {
            for destination in destinations { servers.insert(DoctorNames.endpoint(destination.address, destination.port)) }
        }
        var count = 0
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count >= 8, let port = UInt16(fields[6], radix: 16) else { continue }
            if fields[7] == "NONE" || fields[7] == "TIME_WAIT" || fields[7] == "CLOSE" { continue }
            let field = String(fields[5])
            let address: IPAddress?
            if field.count == 8, let value = UInt32(field, radix: 16) {
                address = IPAddress(ipv4: value)
            } else {
                address = IPAddress.parse(field, with: IPAddress.parseIPv6)
            }
            guard let address else { continue }
            if !servers.contains(DoctorNames.endpoint(address, port)) { count += 1 }
        }
        return count
    }

    /// Something must set the mark of a fwmark service: nft, iptables or a tc filter. Judged
    /// only when one of those tools could be run.
    private func checkMarks(_ marks: [UInt32: [ServiceKey]], _ facts: NetworkFacts, _ report: inout DoctorReport) {
        var outputs: [String] = []
        for command in ["nft list ruleset", "iptables-save", "ip6tables-save"] {
            if let output = reader.host.commandOutput(command) { outputs.append(output) }
        }
        for interface in facts.interfaces where interface.up && !interface.loopback {
            if let output = reader.host.commandOutput("tc filter show dev \(interface.name) ingress") { outputs.append(output) }
        }
        guard !outputs.isEmpty else { return }
        var set: Set<UInt32> = []
        for output in outputs {
            for line in output.lowercased().split(separator: "\n") where line.contains("mark") {
                for token in line.split(whereSeparator: { $0 == " " || $0 == "/" || $0 == "\t" || $0 == "," }) {
                    if token.hasPrefix("0x") {
                        if let value = UInt32(token.dropFirst(2), radix: 16) { set.insert(value) }
                    } else if let value = UInt32(token) {
                        set.insert(value)
                    }
                }
            }
        }
        for (mark, keys) in marks.sorted(by: { $0.key < $1.key }) where !set.contains(mark) {
            for key in keys {
                report.add(
                    .warning, .fwmarkUnmarked, DoctorNames.service(key),
                    "No nft, iptables or tc ingress rule sets mark \(mark), so no packet matches this firewall-mark"
                        + " service and its traffic is never balanced.",
                    fix: ["iptables -t mangle -A PREROUTING -d VIP -p tcp --dport PORT -j MARK --set-mark \(mark)"])
            }
        }
    }

    /// What only the rules file says: schedulers the kernel lacks, `-g`/`-i` ports it ignores.
    private func checkRules(_ rules: DoctorRules, running: [SyncDaemon], _ report: inout DoctorReport) {
        // The daemons the file starts, by state (the kernel runs one master and one backup).
        for daemon in rules.daemons where !running.contains(where: { $0.state == daemon.state }) {
            report.add(
                .error, .syncDaemonNotRunning, "sync daemon \(daemon.state.name) (syncid \(daemon.syncID))",
                "\(rules.path) starts a \(daemon.state.name) sync daemon on \(daemon.interface), but none runs: no"
                    + " connection state is exchanged, and a fail-over drops every connection.",
                fix: ["ipvsadm --start-daemon \(daemon.state.name) --mcast-interface \(daemon.interface) --syncid \(daemon.syncID)"])
        }
        var schedulers: [String] = []
        for service in rules.services where service.scheduler != "none" && !schedulers.contains(service.scheduler) {
            schedulers.append(service.scheduler)
        }
        for scheduler in schedulers where !reader.moduleAvailable("ip_vs_" + scheduler) {
            report.add(
                .error, .schedulerMissing, "scheduler \(scheduler)",
                "\(rules.path) uses the scheduler \(scheduler), but the kernel has no module ip_vs_\(scheduler) loaded,"
                    + " built in or installed, so its services cannot be created.",
                fix: ["modprobe ip_vs_\(scheduler)"])
        }
        for server in rules.servers {
            let key = server.service.key
            guard key.fwmark == 0, server.destination.forwarding == .directRouting || server.destination.forwarding == .tunnel,
                let written = server.portWritten, written != key.port
            else { continue }
            let method = server.destination.forwarding == .tunnel ? "tunnelling" : "direct routing"
            var fix = "sed -i '\(server.line)s/-r[ =]*[^ ]*/-r \(DoctorNames.endpoint(server.destination.address, key.port))/' \(rules.path)"
            if let word = server.word {
                fix = "sed -i '\(server.line)s/\(DoctorRules.sedPattern(word))/\(DoctorRules.sedReplacement(DoctorNames.endpoint(server.destination.address, key.port)))/' \(rules.path)"
            }
            report.add(
                .warning, .drPortIgnored, "\(rules.path) line \(server.line)",
                "The real server is written with port \(written) but \(method) cannot change the port: the kernel uses"
                    + " the service's port \(key.port), so the real server must listen on \(key.port).",
                fix: [fix])
        }
    }
}

/// Why a doctor could not examine at all.
enum DoctorFailure: Error {
    case kernel(IPVSError)
    case network(Errno)
}

extension DoctorRules {
    /// `word` as a basic regular expression of sed matching itself.
    static func sedPattern(_ word: String) -> String { escaped(word, "\\/.[]*^$&") }

    /// `word` as the replacement of sed's `s` command.
    static func sedReplacement(_ word: String) -> String { escaped(word, "\\/&") }

    private static func escaped(_ word: String, _ specials: String) -> String {
        var result = ""
        for character in word {
            if specials.contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
