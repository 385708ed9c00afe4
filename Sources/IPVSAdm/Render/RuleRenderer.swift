import IPVS

/// `-S`: the table as `-A` and `-a` lines that `-R` reads back, as ipvsadm writes them, but
/// without its losses (deliberate deviations, Docs/Compatibility.md): real-server thresholds
/// are written when set (`-x`, `-y`), and `flag-3` of an `sh` or `mh` service is not dropped.
/// With `--complete`, the timeouts and the running sync daemons come first, as `--set` and
/// `--start-daemon` lines, so that `-R` restores the whole state.
struct RuleRenderer {
    let names: EndpointNames

    /// One service and its real servers, appended to `out`.
    func render(_ service: VirtualService, _ destinations: [Destination], into out: inout TextBuffer) {
        // The service's options are repeated on every real server's line.
        let label = serviceOptions(service.key)
        append(service, command: "-A", label: label, into: &out)
        Sorting.forEach(destinations, sorted: true) { append($0, of: service.key, command: "-a", label: label, into: &out) }
    }

    /// `-A` (or `-E`) and every option of a service, and a newline.
    func append(_ service: VirtualService, command: String, label: String, into out: inout TextBuffer) {
        out.append(command)
        out.append(byte: 0x20)
        out.append(label)
        out.append(" -s ")
        out.append(service.scheduler)
        if service.flags.contains(.persistent) {
            out.append(" -p ")
            out.append(decimal: service.timeout)
            if let mask = service.persistenceMaskText {
                out.append(" -M ")
                out.append(mask)
            }
        }
        if !service.persistenceEngine.isEmpty {
            out.append(" --pe ")
            out.append(service.persistenceEngine)
        }
        if service.flags.contains(.onePacket) { out.append(" -o") }
        if !service.flags.isDisjoint(with: .schedulerFlags) {
            out.append(" -b ")
            out.append(service.schedulerFlagOptions)
        }
        out.append(byte: 0x0a)
    }

    /// `-t 10.0.0.1:80`, `-f 1 -6`: what names a service on a command line.
    func serviceOptions(_ key: ServiceKey) -> String {
        switch key {
        case .firewallMark(let mark, let family):
            return family == .inet6 ? "-f \(mark) -6" : "-f \(mark)"
        case .address(let proto, let address, let port):
            let option: String
            switch proto {
            case .tcp: option = "-t"
            case .udp: option = "-u"
            case .sctp: option = "--sctp-service"
            default: option = "--xxx-service"
            }
            return option + " " + names.endpoint(address, port: port, protocol: proto)
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

    private static let tunnelFlagOptions = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]

    /// `-a` (or `-e`), the service, and every option of a real server, and a newline.
    func append(_ d: Destination, of key: ServiceKey, command: String, label: String, into out: inout TextBuffer) {
        appendTarget(d, of: key, command: command, label: label, into: &out)
        out.append(byte: 0x20)
        out.append(RuleRenderer.forwardingSwitch(d.forwarding))
        out.append(" -w ")
        out.append(decimal: d.weight)
        if d.upperThreshold != 0 {
            out.append(" -x ")
            out.append(decimal: d.upperThreshold)
        }
        if d.lowerThreshold != 0 {
            out.append(" -y ")
            out.append(decimal: d.lowerThreshold)
        }
        if d.forwarding == .tunnel {
            let flags = Int(d.tunnelFlags.rawValue)
            let flagOption = flags < RuleRenderer.tunnelFlagOptions.count ? RuleRenderer.tunnelFlagOptions[flags] : "(null)"
            if let type = d.tunnelType.name {
                out.append(" --tun-type ")
                out.append(type)
                if d.tunnelType == .gue {
                    out.append(" --tun-port ")
                    out.append(decimal: d.tunnelPort)
                }
                if d.tunnelType != .ipip {
                    out.append(byte: 0x20)
                    out.append(flagOption)
                }
            }
        }
        out.append(byte: 0x0a)
    }

    /// `-d` and what names a real server, and a newline.
    func appendDelete(_ d: Destination, of key: ServiceKey, label: String, into out: inout TextBuffer) {
        appendTarget(d, of: key, command: "-d", label: label, into: &out)
        out.append(byte: 0x0a)
    }

    /// `COMMAND SERVICE -r SERVER`.
    private func appendTarget(
        _ d: Destination, of key: ServiceKey, command: String, label: String, into out: inout TextBuffer
    ) {
        out.append(command)
        out.append(byte: 0x20)
        out.append(label)
        out.append(" -r ")
        names.append(d.address, port: d.port, protocol: key.protocolNumber, into: &out)
    }

    // MARK: - The rest of the state (`--complete`)

    /// `--set tcp tcpfin udp`.
    static func timeoutsLine(_ timeouts: Timeouts) -> String {
        "--set \(timeouts.tcp) \(timeouts.tcpFin) \(timeouts.udp)\n"
    }

    /// `--start-daemon STATE` with every parameter the kernel reports.
    static func daemonLine(_ daemon: SyncDaemon) -> String {
        var line = "--start-daemon " + daemon.state.name
        line += " --mcast-interface \(daemon.interface) --syncid \(daemon.syncID)"
        if daemon.maxLength != 0 { line += " --sync-maxlen \(daemon.maxLength)" }
        if let group = daemon.group { line += " --mcast-group \(group.text)" }
        if daemon.port != 0 { line += " --mcast-port \(daemon.port)" }
        if daemon.ttl != 0 { line += " --mcast-ttl \(daemon.ttl)" }
        return line + "\n"
    }

    /// `--stop-daemon STATE`.
    static func stopDaemonLine(_ daemon: SyncDaemon) -> String {
        "--stop-daemon " + daemon.state.name + "\n"
    }
}
