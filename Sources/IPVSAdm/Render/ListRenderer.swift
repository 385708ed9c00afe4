import IPVS

/// Renders services and real servers as ipvsadm prints them: the `-L` tables in all their
/// formats, and the `-S` rules.
struct ListRenderer {
    let format: ListFormat
    let resolver: any NameResolver

    // MARK: - Names

    /// `addrport_to_anyname`: `addr:port`, brackets for IPv6, names unless numeric; at
    /// most 59 bytes (ipvsadm formats into a 60-byte buffer).
    func endpoint(_ address: IPAddress, port: UInt16, protocol proto: IPProtocolNumber) -> String {
        let open = address.family == .inet ? "" : "["
        let close = address.family == .inet ? "" : "]"
        if format.numeric {
            return open + address.text + close + ":" + String(port)
        }
        let host = resolver.hostName(of: address) ?? address.text
        let service = resolver.serviceName(ofPort: port, protocol: proto) ?? String(port)
        return TextFormat.truncated(open + host + close + ":" + service, 59)
    }

    static func protocolName(_ proto: IPProtocolNumber) -> String {
        switch proto {
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .sctp: return "SCTP"
        default: return "?"
        }
    }

    /// The service column of a table (`TCP  10.0.0.1:80`, `FWM  1 IPv6`), or the service
    /// options of a rule (`-t 10.0.0.1:80`, `-f 1 -6`).
    func serviceLabel(_ service: VirtualService) -> String {
        switch service.key {
        case .firewallMark(let mark, let family):
            // ipvsadm 1.31 prints marks with %d (negative above 2^31); we print them unsigned,
            // as upstream does since. A deliberate deviation (Docs/Compatibility.md).
            if format.rule { return family == .inet6 ? "-f \(mark) -6" : "-f \(mark)" }
            return family == .inet6 ? "FWM  \(mark) IPv6" : "FWM  \(mark)"
        case .address(let proto, let address, let port):
            let name = endpoint(address, port: port, protocol: proto)
            if format.rule {
                let option: String
                switch proto {
                case .tcp: option = "-t"
                case .udp: option = "-u"
                case .sctp: option = "--sctp-service"
                default: option = "--xxx-service"
                }
                return option + " " + name
            }
            let label = TextFormat.left(ListRenderer.protocolName(proto), 4) + " " + name
            return address.family == .inet6 ? label : TextFormat.truncated(label, 33)
        }
    }

    // MARK: - Tables

    /// The two title lines for the current format (none for rules).
    var title: String {
        let first = TextFormat.left("Prot LocalAddress:Port", 33)
        if format.stats {
            return first + " " + ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"].map { TextFormat.right($0, 8) }
                .joined(separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.rate {
            return first + " " + ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"].map { TextFormat.right($0, 8) }
                .joined(separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.thresholds {
            return first + " " + ["Uthreshold", "Lthreshold", "ActiveConn", "InActConn"].map { TextFormat.left($0, 10) }
                .joined(separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.persistentConn {
            return first + " " + TextFormat.left("Weight", 9) + " " + TextFormat.left("PersistConn", 11) + " "
                + TextFormat.left("ActiveConn", 10) + " " + TextFormat.left("InActConn", 10)
                + "\n  -> RemoteAddress:Port\n"
        }
        if format.tunnelInfo {
            return "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        }
        if format.rule { return "" }
        return "Prot LocalAddress:Port Scheduler Flags\n"
            + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    }

    /// `print_sched_flags`: names depend on the scheduler.
    static func schedulerFlagText(_ service: VirtualService) -> String {
        var names: [String] = []
        let flags = service.flags
        switch service.scheduler {
        case "sh", "mh":
            let prefix = service.scheduler
            if flags.contains(.sched1) { names.append(prefix + "-fallback") }
            if flags.contains(.sched2) { names.append(prefix + "-port") }
        default:
            if flags.contains(.sched1) { names.append("flag-1") }
            if flags.contains(.sched2) { names.append("flag-2") }
            if flags.contains(.sched3) { names.append("flag-3") }
        }
        return names.joined(separator: ",")
    }

    /// IPv4 mask text (`inet_ntoa`) or IPv6 prefix, nil when it is the default.
    private static func maskText(_ service: VirtualService) -> String? {
        switch service.key.family {
        case .inet: return service.netmask == 0xffff_ffff ? nil : IPAddress(ipv4: service.netmask).text
        case .inet6: return service.netmask == 128 ? nil : String(Int32(bitPattern: service.netmask))
        }
    }

    /// One service and its real servers, appended to `out`.
    func render(_ service: VirtualService, _ destinations: [Destination], into out: inout String) {
        let label = serviceLabel(service)
        let hasSchedFlags = !service.flags.isDisjoint(with: .schedulerFlags)
        if format.rule {
            out += "-A " + label + " -s " + service.scheduler
            if service.flags.contains(.persistent) {
                out += " -p " + String(service.timeout)
                if let mask = ListRenderer.maskText(service) { out += " -M " + mask }
            }
            if !service.persistenceEngine.isEmpty { out += " --pe " + service.persistenceEngine }
            if service.flags.contains(.onePacket) { out += " -o" }
            if hasSchedFlags { out += " -b " + ListRenderer.schedulerFlagText(service) }
        } else if format.stats || format.rate {
            out += TextFormat.left(label, 33)
            let s = service.stats
            let values = format.stats
                ? [s.connections, s.inPackets, s.outPackets, s.inBytes, s.outBytes]
                : [s.connectionRate, s.inPacketRate, s.outPacketRate, s.inByteRate, s.outByteRate]
            for value in values { out += TextFormat.largeNumber(value, exact: format.exact) }
        } else {
            out += label + " " + service.scheduler
            if hasSchedFlags { out += " (" + ListRenderer.schedulerFlagText(service) + ")" }
            if service.flags.contains(.persistent) {
                out += " persistent " + String(service.timeout)
                if let mask = ListRenderer.maskText(service) { out += " mask " + mask }
                if !service.persistenceEngine.isEmpty { out += " pe " + service.persistenceEngine }
            }
            if service.flags.contains(.onePacket) { out += " ops" }
        }
        out += "\n"

        var sorted = destinations
        if !format.noSort { Sorting.mergeSort(&sorted, by: Sorting.compareDestinations) }
        for destination in sorted {
            render(destination, of: service, label: label, into: &out)
        }
    }

    private static func forwardingName(_ method: ForwardingMethod) -> String {
        switch method {
        case .masquerading: return "Masq"
        case .local: return "Local"
        case .tunnel: return "Tunnel"
        case .directRouting: return "Route"
        default: return "(null)"
        }
    }

    private static func forwardingSwitch(_ method: ForwardingMethod) -> String {
        switch method {
        case .masquerading: return "-m"
        case .tunnel: return "-i"
        case .local, .directRouting: return "-g"
        default: return "(null)"
        }
    }

    private static let tunnelFlagNames = ["-c", "+c", "r+c"]
    private static let tunnelFlagOptions = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]

    /// `fwd_tun_info`: nil unless a tunnel of a known type.
    private static func tunnelInfo(_ d: Destination) -> String? {
        guard d.forwarding == .tunnel else { return nil }
        let flags = Int(d.tunnelFlags.rawValue)
        let flagName = flags < tunnelFlagNames.count ? tunnelFlagNames[flags] : "(null)"
        switch d.tunnelType {
        case .ipip: return "ipip"
        case .gue: return TextFormat.truncated("gue:\(d.tunnelPort):\(flagName)", 15)
        case .gre: return TextFormat.truncated("gre:\(flagName)", 15)
        default: return nil
        }
    }

    private func render(_ d: Destination, of service: VirtualService, label: String, into out: inout String) {
        var name = endpoint(d.address, port: d.port, protocol: service.key.protocolNumber)
        if format.rule {
            out += "-a " + label + " -r " + name + " " + ListRenderer.forwardingSwitch(d.forwarding)
                + " -w " + String(d.weight)
            if d.forwarding == .tunnel {
                let flags = Int(d.tunnelFlags.rawValue)
                let flagOption = flags < ListRenderer.tunnelFlagOptions.count
                    ? ListRenderer.tunnelFlagOptions[flags] : "(null)"
                switch d.tunnelType {
                case .gre: out += " --tun-type gre " + flagOption
                case .gue: out += " --tun-type gue --tun-port " + String(d.tunnelPort) + " " + flagOption
                case .ipip: out += " --tun-type ipip"
                default: break
                }
            }
            out += "\n"
            return
        }
        if d.address.family != .inet6 { name = TextFormat.truncated(name, 28) }
        let arrow = "  -> " + TextFormat.left(name, 28)
        if format.stats {
            let s = d.stats
            out += arrow
            for value in [s.connections, s.inPackets, s.outPackets, s.inBytes, s.outBytes] {
                out += TextFormat.largeNumber(value, exact: format.exact)
            }
            out += "\n"
        } else if format.rate {
            let s = d.stats
            out += arrow + " " + TextFormat.right(String(s.connectionRate), 8) + " "
                + TextFormat.right(String(s.inPacketRate), 8) + " " + TextFormat.right(String(s.outPacketRate), 8)
                + TextFormat.largeNumber(s.inByteRate, exact: format.exact)
                + TextFormat.largeNumber(s.outByteRate, exact: format.exact) + "\n"
        } else if format.thresholds {
            out += arrow + " " + TextFormat.left(String(d.upperThreshold), 10) + " "
                + TextFormat.left(String(d.lowerThreshold), 10) + " " + TextFormat.left(String(d.activeConnections), 10)
                + " " + TextFormat.left(String(d.inactiveConnections), 10) + "\n"
        } else if format.persistentConn {
            out += arrow + " " + TextFormat.left(String(UInt32(bitPattern: d.weight)), 9) + " "
                + TextFormat.left(String(d.persistentConnections), 11) + " "
                + TextFormat.left(String(d.activeConnections), 10) + " "
                + TextFormat.left(String(d.inactiveConnections), 10) + "\n"
        } else if format.tunnelInfo {
            out += arrow + " " + TextFormat.left(ListRenderer.forwardingName(d.forwarding), 7) + " "
                + TextFormat.left(ListRenderer.tunnelInfo(d) ?? "n/a", 13) + " " + TextFormat.left(String(d.weight), 6)
                + " " + TextFormat.left(String(d.activeConnections), 10) + " "
                + TextFormat.left(String(d.inactiveConnections), 10) + "\n"
        } else {
            out += arrow + " " + TextFormat.left(ListRenderer.forwardingName(d.forwarding), 7) + " "
                + TextFormat.left(String(d.weight), 6) + " " + TextFormat.left(String(d.activeConnections), 10) + " "
                + TextFormat.left(String(d.inactiveConnections), 10) + "\n"
        }
    }
}
