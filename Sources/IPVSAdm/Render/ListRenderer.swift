import IPVS

/// Renders services and real servers as ipvsadm's `-L` tables print them, in all their
/// formats.
struct ListRenderer {
    let format: ListFormat
    let resolver: any NameResolver

    var names: EndpointNames { EndpointNames(numeric: format.numeric, resolver: resolver) }

    static func protocolName(_ proto: IPProtocolNumber) -> String {
        switch proto {
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .sctp: return "SCTP"
        default: return "?"
        }
    }

    /// The service column of a table (`TCP  10.0.0.1:80`, `FWM  1 IPv6`).
    func serviceLabel(_ service: VirtualService) -> String {
        switch service.key {
        case .firewallMark(let mark, let family):
            // ipvsadm 1.31 prints marks with %d (negative above 2^31); we print them unsigned,
            // as upstream does since. A deliberate deviation (Docs/Compatibility.md).
            return family == .inet6 ? "FWM  \(mark) IPv6" : "FWM  \(mark)"
        case .address(let proto, let address, let port):
            let name = names.endpoint(address, port: port, protocol: proto)
            let label = TextFormat.left(ListRenderer.protocolName(proto), 4) + " " + name
            return address.family == .inet6 ? label : TextFormat.truncated(label, 33)
        }
    }

    /// `serviceLabel` of a table, appended to `out`: written in place when numeric (an IPv4
    /// label is then at most 26 bytes, under the 33 it is cut to).
    func appendServiceLabel(_ service: VirtualService, into out: inout TextBuffer) {
        guard format.numeric, case .address(let proto, let address, let port) = service.key else {
            return out.append(serviceLabel(service))
        }
        let start = out.count
        out.append(ListRenderer.protocolName(proto))
        out.spaces(4 - (out.count - start))
        out.append(byte: 0x20)
        names.append(address, port: port, protocol: proto, into: &out)
    }

    // MARK: - Tables

    /// The two title lines for the current format.
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
        return "Prot LocalAddress:Port Scheduler Flags\n"
            + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    }

    /// `print_sched_flags`: names depend on the scheduler (`sh` and `mh` name two, and drop
    /// flag-3).
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
    static func maskText(_ service: VirtualService) -> String? {
        switch service.key.family {
        case .inet: return service.netmask == 0xffff_ffff ? nil : IPAddress(ipv4: service.netmask).text
        case .inet6: return service.netmask == 128 ? nil : String(Int32(bitPattern: service.netmask))
        }
    }

    /// One service and its real servers, appended to `out`.
    func render(_ service: VirtualService, _ destinations: [Destination], into out: inout TextBuffer) {
        let hasSchedFlags = !service.flags.isDisjoint(with: .schedulerFlags)
        if format.stats || format.rate {
            let start = out.count
            appendServiceLabel(service, into: &out)
            out.spaces(33 - (out.count - start))
            let s = service.stats
            if format.stats {
                for value in [s.connections, s.inPackets, s.outPackets, s.inBytes, s.outBytes] {
                    out.append(largeNumber: value, exact: format.exact)
                }
            } else {
                for value in [s.connectionRate, s.inPacketRate, s.outPacketRate, s.inByteRate, s.outByteRate] {
                    out.append(largeNumber: value, exact: format.exact)
                }
            }
        } else {
            appendServiceLabel(service, into: &out)
            out.append(byte: 0x20)
            out.append(service.scheduler)
            if hasSchedFlags { out.append(" ("); out.append(ListRenderer.schedulerFlagText(service)); out.append(")") }
            if service.flags.contains(.persistent) {
                out.append(" persistent ")
                out.append(decimal: service.timeout)
                if let mask = ListRenderer.maskText(service) { out.append(" mask "); out.append(mask) }
                if !service.persistenceEngine.isEmpty { out.append(" pe "); out.append(service.persistenceEngine) }
            }
            if service.flags.contains(.onePacket) { out.append(" ops") }
        }
        out.append(byte: 0x0a)
        Sorting.forEach(destinations, sorted: !format.noSort) { render($0, of: service, into: &out) }
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

    private static let tunnelFlagNames = ["-c", "+c", "r+c"]

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

    private func render(_ d: Destination, of service: VirtualService, into out: inout TextBuffer) {
        let proto = service.key.protocolNumber
        // "  -> %-28s": the name, cut to 28 bytes unless IPv6.
        out.append("  -> ")
        let start = out.count
        if format.numeric && d.address.family == .inet {
            names.append(d.address, port: d.port, protocol: proto, into: &out)  // at most 21 bytes
        } else {
            var name = names.endpoint(d.address, port: d.port, protocol: proto)
            if d.address.family != .inet6 { name = TextFormat.truncated(name, 28) }
            out.append(name)
        }
        out.spaces(28 - (out.count - start))
        if format.stats {
            let s = d.stats
            for value in [s.connections, s.inPackets, s.outPackets, s.inBytes, s.outBytes] {
                out.append(largeNumber: value, exact: format.exact)
            }
        } else if format.rate {
            let s = d.stats
            for value in [s.connectionRate, s.inPacketRate, s.outPacketRate] {
                out.append(byte: 0x20)
                out.append(decimal: value, right: 8)
            }
            out.append(largeNumber: s.inByteRate, exact: format.exact)
            out.append(largeNumber: s.outByteRate, exact: format.exact)
        } else if format.thresholds {
            out.column(d.upperThreshold, left: 10)
            out.column(d.lowerThreshold, left: 10)
            out.column(d.activeConnections, left: 10)
            out.column(d.inactiveConnections, left: 10)
        } else if format.persistentConn {
            out.column(UInt32(bitPattern: d.weight), left: 9)
            out.column(d.persistentConnections, left: 11)
            out.column(d.activeConnections, left: 10)
            out.column(d.inactiveConnections, left: 10)
        } else {
            out.column(ListRenderer.forwardingName(d.forwarding), left: 7)
            if format.tunnelInfo { out.column(ListRenderer.tunnelInfo(d) ?? "n/a", left: 13) }
            out.column(d.weight, left: 6)
            out.column(d.activeConnections, left: 10)
            out.column(d.inactiveConnections, left: 10)
        }
        out.append(byte: 0x0a)
    }
}
