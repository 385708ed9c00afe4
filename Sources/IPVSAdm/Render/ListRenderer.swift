import IPVS

/// Renders services and real servers as ipvsadm's `-L` tables print them, in all their
/// formats.
struct ListRenderer {
    let format: ListFormat
    let resolver: any NameResolver
    /// `--health`: three more columns per real server, from the checker's state (`health`,
    /// nil when it has none).
    var showsHealth = false
    var health: HealthView? = nil

    var names: EndpointNames { EndpointNames(numeric: format.numeric, resolver: resolver) }

    /// The service column of a table (`TCP  10.0.0.1:80`, `FWM  1 IPv6`).
    func serviceLabel(_ service: VirtualService) -> String {
        switch service.key {
        case .firewallMark(let mark, let family):
            // ipvsadm 1.31 prints marks with %d (negative above 2^31); we print them unsigned,
            // as upstream does since. A deliberate deviation (Docs/Compatibility.md).
            return family == .inet6 ? "FWM  \(mark) IPv6" : "FWM  \(mark)"
        case .address(let proto, let address, let port):
            let name = names.endpoint(address, port: port, protocol: proto)
            let label = TextFormat.left(proto.kernelName ?? "?", 4) + " " + name
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
        out.append(proto.kernelName ?? "?")
        out.spaces(4 - (out.count - start))
        out.append(byte: 0x20)
        names.append(address, port: port, protocol: proto, into: &out)
    }

    // MARK: - Tables

    /// The two title lines for the current format, and with `--health` its columns.
    var title: String {
        guard showsHealth else { return ipvsadmTitle }
        var title = ipvsadmTitle
        title.removeLast()  // its newline: the columns go on its second line
        let lastLine = title.utf8.split(separator: 0x0a, omittingEmptySubsequences: false).last?.count ?? 0
        title += String(repeating: " ", count: max(0, rowWidth - lastLine))
        return title + " " + TextFormat.left("State", 9) + " " + TextFormat.left("Since", 8) + " Result\n"
    }

    /// The width of a real server's row without `--exact` (where the health columns start).
    private var rowWidth: Int {
        if format.stats || format.rate { return 78 }
        if format.thresholds || format.persistentConn { return 77 }
        return format.tunnelInfo ? 84 : 70
    }

    /// ipvsadm's two title lines for the current format.
    private var ipvsadmTitle: String {
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

    /// One service and its real servers, appended to `out`.
    func render(_ service: VirtualService, _ destinations: [Destination], into out: inout TextBuffer) {
        let hasSchedFlags = !service.flags.isDisjoint(with: .schedulerFlags)
        if format.stats || format.rate {
            let start = out.count
            appendServiceLabel(service, into: &out)
            out.spaces(33 - (out.count - start))
            for value in format.stats ? service.stats.totals : service.stats.rates {
                out.append(largeNumber: value, exact: format.exact)
            }
        } else {
            appendServiceLabel(service, into: &out)
            out.append(byte: 0x20)
            out.append(service.scheduler)
            if hasSchedFlags { out.append(" ("); out.append(service.schedulerFlagText); out.append(")") }
            if service.flags.contains(.persistent) {
                out.append(" persistent ")
                out.append(decimal: service.timeout)
                if let mask = service.persistenceMaskText { out.append(" mask "); out.append(mask) }
                if !service.persistenceEngine.isEmpty { out.append(" pe "); out.append(service.persistenceEngine) }
            }
            if service.flags.contains(.onePacket) { out.append(" ops") }
        }
        out.append(byte: 0x0a)
        // Hot path: without --health, nothing is made per real server.
        if showsHealth {
            let serviceText = HealthRecord.serviceText(service.key)
            Sorting.forEach(destinations, sorted: !format.noSort) { d in
                render(d, of: service, into: &out)
                out.removeLast()
                let columns = health.map { $0.columns($0.record(service: serviceText, d)) }
                    ?? (state: "-", since: "-", result: "")
                out.column(columns.state, left: 9)
                out.column(columns.since, left: 8)
                if !columns.result.isEmpty { out.append(byte: 0x20); out.append(columns.result) }
                out.append(byte: 0x0a)
            }
            return
        }
        Sorting.forEach(destinations, sorted: !format.noSort) { render($0, of: service, into: &out) }
    }

    private static let tunnelFlagNames = ["-c", "+c", "r+c"]

    /// `fwd_tun_info`: nil unless a tunnel of a known type.
    private static func tunnelInfo(_ d: Destination) -> String? {
        guard d.forwarding == .tunnel else { return nil }
        let flags = Int(d.tunnelFlags.rawValue)
        let flagName = flags < tunnelFlagNames.count ? tunnelFlagNames[flags] : "(null)"
        guard let type = d.tunnelType.name else { return nil }
        switch d.tunnelType {
        case .ipip: return type
        case .gue: return TextFormat.truncated("\(type):\(d.tunnelPort):\(flagName)", 15)
        default: return TextFormat.truncated("\(type):\(flagName)", 15)
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
            for value in d.stats.totals { out.append(largeNumber: value, exact: format.exact) }
        } else if format.rate {
            // ipvsadm prints a real server's connection and packet rates whole, its byte rates
            // as large numbers.
            let rates = d.stats.rates
            for value in rates.prefix(3) {
                out.append(byte: 0x20)
                out.append(decimal: value, right: 8)
            }
            out.append(largeNumber: rates.inBytes, exact: format.exact)
            out.append(largeNumber: rates.outBytes, exact: format.exact)
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
            out.column(d.forwarding.tableName ?? "(null)", left: 7)
            if format.tunnelInfo { out.column(ListRenderer.tunnelInfo(d) ?? "n/a", left: 13) }
            out.column(d.weight, left: 6)
            out.column(d.activeConnections, left: 10)
            out.column(d.inactiveConnections, left: 10)
        }
        out.append(byte: 0x0a)
    }
}
