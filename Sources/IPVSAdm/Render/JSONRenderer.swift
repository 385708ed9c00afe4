import IPVS

/// `--json`: the same decoded table the text listings print, as one JSON document whose keys
/// `Docs/JSON.md` documents and `Docs/ipvsadm.schema.json` describes. Exact: counters are whole
/// numbers (no K/M, 64 bits), addresses numeric strings without brackets, ports and marks
/// numbers, flags named. Every field is there whatever the listing form (`--stats`, `--rate`,
/// `--thresholds`, `--persistent-conn`, `--tun-info` select nothing).
enum JSONRenderer {
    static func begin(_ json: inout JSONWriter, info: IPVSInfo) {
        json.beginObject()
        json.member("version", "\(info.version >> 16 & 0xff).\(info.version >> 8 & 0xff).\(info.version & 0xff)")
        json.member("connection_table_size", info.connectionTableSize)
    }

    static func service(_ service: VirtualService, _ destinations: [Destination], sorted: Bool, into json: inout JSONWriter) {
        json.beginObject()
        json.member("family", familyName(service.key.family))
        switch service.key {
        case .firewallMark(let mark, _):
            json.member("fwmark", mark)
        case .address(let proto, let address, let port):
            json.member("protocol", protocolName(proto))
            json.member("address", address.text)
            json.member("port", port)
        }
        json.member("scheduler", service.scheduler)
        json.member("flags", strings: flagNames(service))
        if service.flags.contains(.persistent) {
            json.key("persistent")
            json.beginObject()
            json.member("timeout", service.timeout)
            switch service.key.family {
            case .inet: json.member("netmask", IPAddress(ipv4: service.netmask).text)
            case .inet6: json.member("prefix_length", service.netmask)
            }
            json.endObject()
        }
        if !service.persistenceEngine.isEmpty { json.member("persistence_engine", service.persistenceEngine) }
        counters(service.stats, into: &json)
        json.key("real_servers")
        json.beginArray()
        Sorting.forEach(destinations, sorted: sorted) { destination($0, of: service, into: &json) }
        json.endArray()
        json.endObject()
    }

    static func destination(_ d: Destination, of service: VirtualService, into json: inout JSONWriter) {
        json.beginObject()
        json.member("family", familyName(d.address.family))
        json.member("address", d.address.text)
        json.member("port", d.port)
        json.member("forwarding", forwardingName(d.forwarding))
        json.member("weight", d.weight)
        json.member("upper_threshold", d.upperThreshold)
        json.member("lower_threshold", d.lowerThreshold)
        json.member("active_connections", d.activeConnections)
        json.member("inactive_connections", d.inactiveConnections)
        json.member("persistent_connections", d.persistentConnections)
        if d.forwarding == .tunnel {
            json.key("tunnel")
            json.beginObject()
            switch d.tunnelType {
            case .ipip: json.member("type", "ipip")
            case .gue: json.member("type", "gue")
            case .gre: json.member("type", "gre")
            default: json.member("type", String(d.tunnelType.rawValue))
            }
            if d.tunnelType == .gue { json.member("port", d.tunnelPort) }
            if d.tunnelType != .ipip {
                var checksum: [String] = []
                if d.tunnelFlags.contains(.checksum) { checksum.append("checksum") }
                if d.tunnelFlags.contains(.remoteChecksum) { checksum.append("remote-checksum") }
                json.member("flags", strings: checksum)
            }
            json.endObject()
        }
        counters(d.stats, into: &json)
        json.endObject()
    }

    /// `stats` (totals) and `rates` (per second, the kernel's estimator) of a service or a
    /// real server.
    private static func counters(_ s: Statistics, into json: inout JSONWriter) {
        counterObject("stats", [s.connections, s.inPackets, s.outPackets, s.inBytes, s.outBytes], into: &json)
        counterObject(
            "rates", [s.connectionRate, s.inPacketRate, s.outPacketRate, s.inByteRate, s.outByteRate], into: &json)
    }

    /// `"name": {"connections": ..., "packets_in": ..., ...}`, the values in that order.
    private static func counterObject(_ name: String, _ values: [UInt64], into json: inout JSONWriter) {
        json.key(name)
        json.beginObject()
        for (key, value) in zip(["connections", "packets_in", "packets_out", "bytes_in", "bytes_out"], values) {
            json.member(key, value)
        }
        json.endObject()
    }

    static func timeouts(_ t: Timeouts, into json: inout JSONWriter) {
        json.key("timeouts")
        json.beginObject()
        json.member("tcp", t.tcp)
        json.member("tcp_fin", t.tcpFin)
        json.member("udp", t.udp)
        json.endObject()
    }

    static func daemon(_ d: SyncDaemon, into json: inout JSONWriter) {
        json.beginObject()
        json.member("state", d.state == .master ? "master" : "backup")
        json.member("interface", d.interface)
        json.member("sync_id", d.syncID)
        if d.maxLength != 0 { json.member("sync_maxlen", d.maxLength) }
        if let group = d.group { json.member("group", group.text) }
        if d.port != 0 { json.member("port", d.port) }
        if d.ttl != 0 { json.member("ttl", d.ttl) }
        json.endObject()
    }

    static func connection(_ c: ConnectionLine, into json: inout JSONWriter) {
        json.beginObject()
        json.member("protocol", c.proto == IPProtocolNumber(rawValue: 0) ? c.protocolText.lowercased() : protocolName(c.proto))
        for (name, address, port) in [("client", c.client, c.clientPort), ("virtual", c.virtual, c.virtualPort),
                                      ("destination", c.destination, c.destinationPort)] {
            json.key(name)
            json.beginObject()
            json.member("address", address.text)
            json.member("port", port)
            json.endObject()
        }
        json.member("state", c.state)
        json.member("expires", c.expires)
        if !c.engine.isEmpty { json.member("persistence_engine", c.engine) }
        if !c.engineData.isEmpty { json.member("persistence_data", c.engineData) }
        json.endObject()
    }

    static func familyName(_ family: AddressFamily) -> String { family == .inet ? "inet" : "inet6" }

    static func protocolName(_ proto: IPProtocolNumber) -> String {
        switch proto {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .sctp: return "sctp"
        default: return String(proto.rawValue)
        }
    }

    static func forwardingName(_ method: ForwardingMethod) -> String {
        switch method {
        case .masquerading: return "masq"
        case .local: return "local"
        case .tunnel: return "tunnel"
        case .directRouting: return "route"
        case .bypass: return "bypass"
        default: return String(method.rawValue)
        }
    }

    /// Named as `-b` takes them (`sh-fallback`, `flag-3`), and `persistent`, `ops`.
    static func flagNames(_ service: VirtualService) -> [String] {
        var names: [String] = []
        if service.flags.contains(.persistent) { names.append("persistent") }
        if service.flags.contains(.onePacket) { names.append("ops") }
        if !service.flags.isDisjoint(with: .schedulerFlags) {
            names += RuleRenderer.schedulerFlags(service).split(separator: ",").map(String.init)
        }
        return names
    }
}
