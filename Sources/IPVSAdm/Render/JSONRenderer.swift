import IPVS

/// `--json`: the same decoded table the text listings print, as one JSON document whose keys
/// `Docs/JSON.md` documents and `Docs/ipvsadm.schema.json` describes. Exact: counters are whole
/// numbers (no K/M, 64 bits), addresses numeric strings without brackets, ports and marks
/// numbers, flags named. What the text listing shows is there; each of `--stats`, `--rate`,
/// `--thresholds`, `--persistent-conn` and `--tun-info` adds its fields, and they combine
/// (the text listing shows one form at a time).
///
/// The document goes out as it is made, 64 KiB at a time (`JSONWriter`). A listing cut short
/// (a service deleted while it is listed) writes nothing more: what went out before stays, and
/// a document under 64 KiB is not written at all.
struct JSONRenderer: ListingRenderer {
    private let json: JSONWriter
    private let info: IPVSInfo
    private let format: ListFormat
    /// The health checker's state, when it has one: `checker`, and `health` per real server.
    private let health: HealthView?

    init(to sink: any OutputSink, info: IPVSInfo, format: ListFormat, health: HealthView? = nil) {
        json = JSONWriter(to: sink)
        self.info = info
        self.format = format
        self.health = health
    }

    func begin(_ listing: Listing) {
        json.beginObject()
        switch listing {
        case .connections:
            json.key("connections")
            json.beginArray()
        case .connectionSummary:
            break
        case .timeouts:
            break
        case .daemons:
            json.key("daemons")
            json.beginArray()
        case .service, .services:
            json.member("version", info.versionText)
            json.member("connection_table_size", info.connectionTableSize)
            if let health { JSONRenderer.checker(health, into: json) }
            json.key("services")
            json.beginArray()
        }
    }

    func connection(_ connection: ConnectionLine) { JSONRenderer.connection(connection, into: json) }

    /// `"connection_summary": {"connections": ..., "groups": [...]}`.
    func connectionSummary(_ summary: ConnectionSummary) {
        json.key("connection_summary")
        json.beginObject()
        json.member("connections", summary.total)
        json.key("groups")
        json.beginArray()
        for (group, counts) in summary.sorted {
            json.beginObject()
            json.member(
                "protocol",
                group.proto == IPProtocolNumber(rawValue: 0) ? group.protocolText.lowercased() : JSONRenderer.protocolName(group.proto))
            JSONRenderer.endpoint("virtual", group.virtual, group.virtualPort, into: json)
            JSONRenderer.endpoint("destination", group.destination, group.destinationPort, into: json)
            json.member("state", group.state)
            json.member("connections", counts.connections)
            json.member("expires_soonest", counts.soonest)
            json.member("expires_latest", counts.latest)
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }

    func timeouts(_ timeouts: Timeouts) { JSONRenderer.timeouts(timeouts, into: json) }

    func daemons(_ daemons: [SyncDaemon]) {
        for daemon in daemons { JSONRenderer.daemon(daemon, into: json) }
    }

    func service(_ service: VirtualService, _ destinations: [Destination]) {
        JSONRenderer.service(service, destinations, format: format, health: health, into: json)
    }

    func end(_ listing: Listing) {
        if listing != .timeouts && listing != .connectionSummary { json.endArray() }
        json.endObject()
        json.finish()
    }

    func abandon(_ listing: Listing) {}

    // MARK: - The members

    private static func service(
        _ service: VirtualService, _ destinations: [Destination], format: ListFormat, health: HealthView?,
        into json: JSONWriter
    ) {
        json.beginObject()
        serviceKeyMembers(service.key, into: json)
        json.member("scheduler", service.scheduler)
        // Most services have no named flag (the kernel's own "hashed" is not one): no array made.
        if service.flags.isDisjoint(with: JSONRenderer.namedFlags) {
            json.key("flags")
            json.beginArray()
            json.endArray()
        } else {
            json.member("flags", strings: flagNames(service))
        }
        if service.flags.contains(.persistent) {
            json.key("persistent")
            json.beginObject()
            json.member("timeout", service.timeout)
            switch service.key.family {
            case .inet: json.member("netmask", IPAddress(ipv4: service.netmask))
            case .inet6: json.member("prefix_length", service.netmask)
            }
            json.endObject()
        }
        if !service.persistenceEngine.isEmpty { json.member("persistence_engine", service.persistenceEngine) }
        counters(service.stats, format: format, into: json)
        json.key("real_servers")
        json.beginArray()
        // Hot path: without a checker's state, nothing is made per real server.
        let serviceText = health.map { _ in HealthRecord.serviceText(service.key) }
        Sorting.forEach(destinations, sorted: !format.noSort) { d in
            destination(d, format: format, health: serviceText.flatMap { health?.record(service: $0, d) }, into: json)
        }
        json.endArray()
        json.endObject()
    }

    /// A service's `family` and `fwmark`, or `protocol`, `address` and `port` (the listing's and
    /// `--watch`'s frames).
    static func serviceKeyMembers(_ key: ServiceKey, into json: JSONWriter) {
        json.member("family", literal: key.family.name)
        switch key {
        case .firewallMark(let mark, _):
            json.member("fwmark", mark)
        case .address(let proto, let address, let port):
            json.member("protocol", protocolName(proto))
            json.member("address", address)
            json.member("port", port)
        }
    }

    /// A real server's members every listing has: address, forwarding, weight, connections.
    static func destinationMembers(_ d: Destination, into json: JSONWriter) {
        json.member("family", literal: d.address.family.name)
        json.member("address", d.address)
        json.member("port", d.port)
        json.member("forwarding", d.forwarding.name ?? String(d.forwarding.rawValue))
        json.member("weight", d.weight)
        json.member("active_connections", d.activeConnections)
        json.member("inactive_connections", d.inactiveConnections)
    }

    private static func destination(_ d: Destination, format: ListFormat, health: HealthRecord?, into json: JSONWriter) {
        json.beginObject()
        destinationMembers(d, into: json)
        if format.thresholds {
            json.member("upper_threshold", d.upperThreshold)
            json.member("lower_threshold", d.lowerThreshold)
        }
        if format.persistentConn { json.member("persistent_connections", d.persistentConnections) }
        if format.tunnelInfo && d.forwarding == .tunnel {
            json.key("tunnel")
            json.beginObject()
            json.member("type", d.tunnelType.name ?? String(d.tunnelType.rawValue))
            if d.tunnelType == .gue { json.member("port", d.tunnelPort) }
            if d.tunnelType != .ipip {
                var checksum: [String] = []
                if d.tunnelFlags.contains(.checksum) { checksum.append("checksum") }
                if d.tunnelFlags.contains(.remoteChecksum) { checksum.append("remote-checksum") }
                json.member("flags", strings: checksum)
            }
            json.endObject()
        }
        counters(d.stats, format: format, into: json)
        if let health { record(health, into: json) }
        json.endObject()
    }

    /// `"checker": {"pid": ..., "heartbeat": ..., "running": ...}`: the health checker.
    private static func checker(_ health: HealthView, into json: JSONWriter) {
        json.key("checker")
        json.beginObject()
        json.member("pid", health.file.pid)
        json.member("heartbeat", number: HealthStateFile.fixed(health.file.heartbeat, 3))
        json.member("running", health.running)
        json.endObject()
    }

    /// `"health": {...}`: a real server's record in the checker's state.
    private static func record(_ r: HealthRecord, into json: JSONWriter) {
        json.key("health")
        json.beginObject()
        json.member("state", r.state.rawValue)
        json.member("since", number: HealthStateFile.fixed(r.since, 3))
        if let checked = r.checked { json.member("checked", number: HealthStateFile.fixed(checked, 3)) }
        if let ok = r.ok { json.member("ok", ok) }
        if let duration = r.duration { json.member("duration", number: HealthStateFile.fixed(duration, 6)) }
        json.member("message", r.message)
        json.member("check", r.check)
        json.member("declared_weight", r.declaredWeight)
        if r.sorry { json.member("sorry", true) }
        json.endObject()
    }

    /// `stats` (totals, `--stats`) and `rates` (per second, the kernel's estimator, `--rate`)
    /// of a service or a real server.
    private static func counters(_ s: Statistics, format: ListFormat, into json: JSONWriter) {
        if format.stats { counterObject("stats", s.totals, into: json) }
        if format.rate { counterObject("rates", s.rates, into: json) }
    }

    /// `"name": {"connections": ..., "packets_in": ..., ...}`.
    static func counterObject(_ name: StaticString, _ counters: Statistics.Counters, into json: JSONWriter) {
        json.key(name)
        json.beginObject()
        json.member("connections", counters.connections)
        json.member("packets_in", counters.inPackets)
        json.member("packets_out", counters.outPackets)
        json.member("bytes_in", counters.inBytes)
        json.member("bytes_out", counters.outBytes)
        json.endObject()
    }

    private static func timeouts(_ t: Timeouts, into json: JSONWriter) {
        json.key("timeouts")
        json.beginObject()
        json.member("tcp", t.tcp)
        json.member("tcp_fin", t.tcpFin)
        json.member("udp", t.udp)
        json.endObject()
    }

    private static func daemon(_ d: SyncDaemon, into json: JSONWriter) {
        json.beginObject()
        json.member("state", d.state.name)
        json.member("interface", d.interface)
        json.member("sync_id", d.syncID)
        if d.maxLength != 0 { json.member("sync_maxlen", d.maxLength) }
        if let group = d.group { json.member("group", group) }
        if d.port != 0 { json.member("port", d.port) }
        if d.ttl != 0 { json.member("ttl", d.ttl) }
        json.endObject()
    }

    private static func connection(_ c: ConnectionLine, into json: JSONWriter) {
        json.beginObject()
        json.member("protocol", c.proto == IPProtocolNumber(rawValue: 0) ? c.protocolText.lowercased() : protocolName(c.proto))
        endpoint("client", c.client, c.clientPort, into: json)
        endpoint("virtual", c.virtual, c.virtualPort, into: json)
        endpoint("destination", c.destination, c.destinationPort, into: json)
        json.member("state", c.state)
        json.member("expires", c.expires)
        if !c.engine.isEmpty { json.member("persistence_engine", c.engine) }
        if !c.engineData.isEmpty { json.member("persistence_data", c.engineData) }
        json.endObject()
    }

    /// `"name": {"address": ..., "port": ...}`, an end of a connection.
    private static func endpoint(_ name: StaticString, _ address: IPAddress, _ port: UInt16, into json: JSONWriter) {
        json.key(name)
        json.beginObject()
        json.member("address", address)
        json.member("port", port)
        json.endObject()
    }

    /// A protocol by name, or by number when it has none.
    private static func protocolName(_ proto: IPProtocolNumber) -> String { proto.name ?? String(proto.rawValue) }

    private static let namedFlags: ServiceFlags = ServiceFlags.schedulerFlags.union([.persistent, .onePacket])

    /// Named as `-b` takes them (`sh-fallback`, `flag-3`), and `persistent`, `ops`.
    private static func flagNames(_ service: VirtualService) -> [String] {
        var names: [String] = []
        if service.flags.contains(.persistent) { names.append("persistent") }
        if service.flags.contains(.onePacket) { names.append("ops") }
        if !service.flags.isDisjoint(with: .schedulerFlags) {
            names += service.schedulerFlagOptions.split(separator: ",").map(String.init)
        }
        return names
    }
}
