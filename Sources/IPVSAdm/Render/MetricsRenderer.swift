import IPVS

/// `--metrics`: the table's counters in the Prometheus text exposition format (for
/// node_exporter's textfile collector or a cron job), under the prefix `ipvsadm_` so that they
/// never collide with node_exporter's own `node_ipvs_*`. Labels are node_exporter's IPVS
/// collector's (`local_address`, `local_port`, `local_mark`, `proto`, and `remote_address`,
/// `remote_port` for a real server), so dashboards carry over, and `family`. `--metrics=services` sums the
/// real servers per service instead of one series each (thousands of real servers make tens of
/// thousands of series). `Docs/JSON.md` ("Prometheus") lists the families.
///
/// All is written at the end (the format wants each family's samples together); a listing cut
/// short writes nothing.
struct MetricsRenderer: ListingRenderer {
    enum Scope { case servers, services }

    let scope: Scope
    private let stdout: any OutputSink

    private struct Family {
        let name: String
        let type: String
        let help: String
    }

    private typealias Sample = (family: Int, labels: String, value: UInt64)

    private static let serviceFamilies = [
        Family(name: "ipvsadm_service_connections_total", type: "counter", help: "Connections scheduled to the virtual service."),
        Family(name: "ipvsadm_service_incoming_packets_total", type: "counter", help: "Packets from clients to the virtual service."),
        Family(name: "ipvsadm_service_outgoing_packets_total", type: "counter", help: "Packets from the virtual service to clients."),
        Family(name: "ipvsadm_service_incoming_bytes_total", type: "counter", help: "Bytes from clients to the virtual service."),
        Family(name: "ipvsadm_service_outgoing_bytes_total", type: "counter", help: "Bytes from the virtual service to clients."),
    ]

    private static let serverFamilies = [
        Family(name: "ipvsadm_backend_connections_active", type: "gauge", help: "Active connections of the real server."),
        Family(name: "ipvsadm_backend_connections_inactive", type: "gauge", help: "Inactive connections of the real server."),
        Family(name: "ipvsadm_backend_weight", type: "gauge", help: "Weight of the real server."),
        Family(name: "ipvsadm_backend_connections_total", type: "counter", help: "Connections scheduled to the real server."),
        Family(name: "ipvsadm_backend_incoming_packets_total", type: "counter", help: "Packets from clients to the real server."),
        Family(name: "ipvsadm_backend_outgoing_packets_total", type: "counter", help: "Packets from the real server to clients."),
        Family(name: "ipvsadm_backend_incoming_bytes_total", type: "counter", help: "Bytes from clients to the real server."),
        Family(name: "ipvsadm_backend_outgoing_bytes_total", type: "counter", help: "Bytes from the real server to clients."),
    ]

    private static let summedFamilies = [
        Family(name: "ipvsadm_service_connections_active", type: "gauge", help: "Active connections of the service's real servers, summed."),
        Family(name: "ipvsadm_service_connections_inactive", type: "gauge", help: "Inactive connections of the service's real servers, summed."),
        Family(name: "ipvsadm_service_weight", type: "gauge", help: "Weights of the service's real servers, summed."),
        Family(name: "ipvsadm_service_backends", type: "gauge", help: "Real servers of the service."),
    ]

    /// With the health checker's state (the names are the contract's, Docs/Health.md): per
    /// real server (`--metrics=servers`) whether it is up, when it was last checked and how
    /// long that took; and the checker's heartbeat, so that an alert tells a dead checker from
    /// a dead server.
    private static let healthFamilies = [
        Family(name: "ipvs_real_server_up", type: "gauge", help: "Whether the health checker finds the real server up (1) or down (0)."),
        Family(name: "ipvs_health_check_timestamp_seconds", type: "gauge", help: "When the real server was last checked."),
        Family(name: "ipvs_health_check_duration_seconds", type: "gauge", help: "How long the last check of the real server took."),
    ]
    private static let checkerFamily = Family(
        name: "ipvs_health_checker_heartbeat_timestamp_seconds", type: "gauge",
        help: "When the health checker last wrote its state.")

    private let families: [Family]
    /// Samples per family, collected service by service and written family by family (the
    /// format wants each family's samples together).
    private var samples: [[(labels: String, value: String)]]
    private let health: HealthView?
    /// Where the per-server health families start in `families`; nil without them.
    private let healthBase: Int?

    init(scope: Scope, to stdout: any OutputSink, health: HealthView? = nil) {
        self.scope = scope
        self.stdout = stdout
        self.health = health
        var families = MetricsRenderer.serviceFamilies
            + (scope == .servers ? MetricsRenderer.serverFamilies : MetricsRenderer.summedFamilies)
        var healthBase: Int?
        if health != nil {
            if scope == .servers {
                healthBase = families.count
                families += MetricsRenderer.healthFamilies
            }
            families.append(MetricsRenderer.checkerFamily)
        }
        self.families = families
        self.healthBase = healthBase
        samples = Array(repeating: [], count: families.count)
        if let health { samples[families.count - 1].append(("", HealthStateFile.fixed(health.file.heartbeat, 3))) }
    }

    // The parser refuses --metrics with -c, --timeout and --daemon: services only.
    func begin(_ listing: Listing) {}
    func connection(_ connection: ConnectionLine) {}
    func timeouts(_ timeouts: Timeouts) {}
    func daemons(_ daemons: [SyncDaemon]) {}
    func end(_ listing: Listing) { stdout.write(text()) }
    func abandon(_ listing: Listing) {}

    mutating func service(_ service: VirtualService, _ destinations: [Destination]) {
        let local = MetricsRenderer.serviceLabels(service.key)
        for (index, value) in service.stats.totals.enumerated() { samples[index].append((local, String(value))) }
        let base = MetricsRenderer.serviceFamilies.count
        switch scope {
        case .servers:
            let serviceText = health.map { _ in HealthRecord.serviceText(service.key) }
            for d in destinations {
                let labels = local + ",remote_address=\"\(d.address.text)\",remote_port=\"\(d.port)\""
                let gauges = [String(d.activeConnections), String(d.inactiveConnections), String(d.weight)]
                for (offset, value) in gauges.enumerated() { samples[base + offset].append((labels, value)) }
                for (offset, value) in d.stats.totals.enumerated() {
                    samples[base + gauges.count + offset].append((labels, String(value)))
                }
                if let healthBase, let serviceText, let record = health?.record(service: serviceText, d) {
                    if let up = MetricsRenderer.isUp(record) { samples[healthBase].append((labels, up ? "1" : "0")) }
                    if let checked = record.checked {
                        samples[healthBase + 1].append((labels, HealthStateFile.fixed(checked, 3)))
                    }
                    if let duration = record.duration {
                        samples[healthBase + 2].append((labels, HealthStateFile.fixed(duration, 6)))
                    }
                }
            }
        case .services:
            let active = destinations.reduce(UInt64(0)) { $0 + UInt64($1.activeConnections) }
            let inactive = destinations.reduce(UInt64(0)) { $0 + UInt64($1.inactiveConnections) }
            let weight = destinations.reduce(Int64(0)) { $0 + Int64($1.weight) }
            let values = [String(active), String(inactive), String(weight), String(destinations.count)]
            for (offset, value) in values.enumerated() { samples[base + offset].append((local, value)) }
        }
    }

    func text() -> String {
        var out = ""
        for (family, rows) in zip(families, samples) {
            out += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for row in rows {
                out += row.labels.isEmpty ? "\(family.name) \(row.value)\n" : "\(family.name){\(row.labels)} \(row.value)\n"
            }
        }
        return out
    }

    /// `ipvs_real_server_up`: up while the checker passes it (up, falling, ramping, a sorry
    /// server), down while it fails it (down, rising, held); no sample for an unchecked one.
    static func isUp(_ record: HealthRecord) -> Bool? {
        switch record.state {
        case .up, .falling, .ramping: return true
        case .down, .rising, .held: return false
        case .unchecked: return nil
        }
    }

    /// node_exporter's labels of a virtual service: an fwmark service has an empty address,
    /// port 0, proto `FWM` and its mark; an address service an empty mark. And `family`
    /// (`inet`, `inet6`), which node_exporter lacks: an IPv4 and an IPv6 fwmark service may
    /// share a mark, and two series must never share their labels.
    static func serviceLabels(_ key: ServiceKey) -> String {
        let family = ",family=\"\(key.family.name)\""
        switch key {
        case .firewallMark(let mark, _):
            return "local_address=\"\",local_port=\"0\",local_mark=\"\(mark)\",proto=\"FWM\"" + family
        case .address(let proto, let address, let port):
            return "local_address=\"\(address.text)\",local_port=\"\(port)\",local_mark=\"\","
                + "proto=\"\(proto.kernelName ?? "?")\"" + family
        }
    }
}
