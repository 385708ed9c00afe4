import IPVS

/// The health checker's state file as the listings (`--health`, `--json`, `--metrics`),
/// `--apply` and `-S --checks-from` read it: its records by service and server.
final class HealthView {
    let file: HealthStateFile
    /// Whether the process that wrote it is alive.
    let running: Bool
    /// The wall clock when it was read: what ages are counted from.
    let now: Double
    private let records: [String: HealthRecord]

    init(file: HealthStateFile, running: Bool, now: Double) {
        self.file = file
        self.running = running
        self.now = now
        var records: [String: HealthRecord] = [:]
        for record in file.records { records[record.service + "\t" + record.server] = record }
        self.records = records
    }

    /// The record of a real server of a service (`HealthRecord.serviceText` of the service).
    func record(service: String, _ destination: Destination) -> HealthRecord? {
        records[service + "\t" + HealthRecord.serverText(destination.address, port: destination.port)]
    }

    /// Whether the checker holds the server out of service: its weight is the checker's, not
    /// the rules file's (down, rising, ramping, or any state whose weight is not the declared
    /// one). A falling or held server still has its declared weight; sorry servers are the
    /// checker's own.
    static func holdsOut(_ record: HealthRecord) -> Bool {
        if record.sorry { return false }
        switch record.state {
        case .down, .rising, .ramping: return true
        case .up, .unchecked, .falling, .held: return record.weight != record.declaredWeight
        }
    }

    // MARK: Text

    /// An age: `45s`, `2m13s`, `1h02m`, `3d04h`; `-` for none.
    static func age(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        let total = Int(max(0, seconds).rounded(.down))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return "\(total / 60)m\(two(total % 60))s"
        case ..<86400: return "\(total / 3600)h\(two(total % 3600 / 60))m"
        default: return "\(total / 86400)d\(two(total % 86400 / 3600))h"
        }
    }

    /// The three columns `-L --health` adds to a real server's row: state, age of the state,
    /// last result.
    func columns(_ record: HealthRecord?) -> (state: String, since: String, result: String) {
        guard let record else { return ("-", "-", "") }
        let state = record.sorry ? "sorry" : record.state.rawValue
        let since = record.since > 0 ? HealthView.age(now - record.since) : "-"
        var result: String
        switch record.ok {
        case true?: result = "ok"
        case false?: result = "failed"
        case nil: result = "-"
        }
        if !record.message.isEmpty { result += ": " + record.message }
        return (state, since, result)
    }
}

extension Runner {
    /// The health checker's state file of this namespace: `$IPVSADM_RUN_DIR` (default
    /// /run/ipvsadm) `/health-<inode>`; nil when the namespace cannot be identified.
    func healthStatePath() -> String? {
        guard let inode = host.networkNamespaceInode() else { return nil }
        let directory = host.environment("IPVSADM_RUN_DIR").flatMap { $0.isEmpty ? nil : $0 } ?? Runner.defaultRunDirectory
        return directory + "/" + HealthStateFile.fileName(namespaceInode: inode)
    }

    /// The checker's state, nil when there is none (no file: one failed open), or it cannot
    /// be read or is not a state file.
    func readHealthState() -> HealthView? {
        guard let path = healthStatePath(), let bytes = try? host.readFile(path),
            let file = HealthStateFile.decode(String(decoding: bytes, as: UTF8.self))
        else { return nil }
        return HealthView(file: file, running: host.processExists(file.pid), now: host.wallClock())
    }
}
