import IPVS

/// The one-line listings: the table's first line, `--timeout` and `--daemon`.
enum InfoText {
    /// The first line of a table listing: `IP Virtual Server version 1.2.1 (size=4096)`.
    static func versionLine(_ info: IPVSInfo) -> String {
        "IP Virtual Server version \(info.versionText) (size=\(Int32(bitPattern: info.connectionTableSize)))\n"
    }

    /// `--timeout`: the three values as ipvsadm prints them (`%d`).
    static func timeoutLine(_ timeouts: Timeouts) -> String {
        "Timeout (tcp tcpfin udp): \(Int32(bitPattern: timeouts.tcp)) "
            + "\(Int32(bitPattern: timeouts.tcpFin)) \(Int32(bitPattern: timeouts.udp))\n"
    }

    /// `--daemon`: one line per running daemon, master first.
    static func daemonLines(_ daemons: [SyncDaemon]) -> String {
        var out = ""
        for daemon in daemons {
            out += daemon.state.name + " sync daemon (mcast=\(daemon.interface), syncid=\(Int32(bitPattern: daemon.syncID))"
            if daemon.maxLength != 0 { out += ", maxlen=\(daemon.maxLength)" }
            if let group = daemon.group { out += ", group=\(group.text)" }
            if daemon.port != 0 { out += ", port=\(daemon.port)" }
            if daemon.ttl != 0 { out += ", ttl=\(daemon.ttl)" }
            out += ")\n"
        }
        return out
    }
}
