import IPVS

// The health checker's vocabulary, shared by ipvsadm (-R/--apply read declarations, --health,
// --json, --metrics and --apply read the checker's state) and ipvsadm-health (the daemon).
// Docs/Health.md describes the declarations and the state file.

/// One `--check` word as written on an -A or -a line: a kind and keys, not yet resolved.
public struct CheckDeclaration: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case tcp, http, https, misc, none
    }
    /// nil when the word gives only keys (an -a line overriding its service's settings).
    public var kind: Kind?
    /// The keys in their order, values percent-decoded, keepalived aliases not yet mapped.
    public var settings: [(key: String, value: String)]

    public init(kind: Kind?, settings: [(key: String, value: String)]) {
        self.kind = kind
        self.settings = settings
    }

    public static func == (a: CheckDeclaration, b: CheckDeclaration) -> Bool {
        a.kind == b.kind && a.settings.elementsEqual(b.settings) { $0.key == $1.key && $0.value == $1.value }
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        for s in settings { hasher.combine(s.key); hasher.combine(s.value) }
    }
}

/// A server's check with every default applied: what the daemon runs.
public struct CheckSpec: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case tcp, http, https, misc }
    public var kind: Kind
    public var interval: Double = 5
    public var retryInterval: Double? = nil
    public var timeout: Double = 3
    public var rise: Int = 2
    public var fall: Int = 3
    public var port: UInt16? = nil
    public var address: IPAddress? = nil
    public var viaVIP: Bool = false
    /// How a TCP check asks (`mode=`): a SYN and its answer (IPv4; IPv6 connects), or a connect.
    public enum TCPMode: String, Hashable, Sendable { case syn, connect }
    public var tcpMode: TCPMode = .syn
    public var path: String = "/"
    /// Accepted HTTP statuses (each a range).
    public var statuses: [ClosedRange<Int>] = [200...200]
    public var body: String? = nil
    public var host: String? = nil
    public var verifyTLS: Bool = false
    public var command: String? = nil
    public var shell: Bool = false
    public var ramp: Double = 0
    public var startDown: Bool = false

    public init(kind: Kind) { self.kind = kind }
}

/// What a service declares for itself (only on its -A line).
public struct ServiceHealthPolicy: Hashable, Sendable {
    /// The largest share of the service's checked servers that may be held out.
    public var threshold: Double = 0.5
    /// Added with weight 1 when every server is held out.
    public var sorry: (address: IPAddress, port: UInt16?)? = nil

    public init() {}
    public static func == (a: ServiceHealthPolicy, b: ServiceHealthPolicy) -> Bool {
        a.threshold == b.threshold && a.sorry?.address == b.sorry?.address && a.sorry?.port == b.sorry?.port
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(threshold); hasher.combine(sorry?.address); hasher.combine(sorry?.port)
    }
}

/// A rules file read for the checker: the table it declares and each server's check.
public struct HealthDeclarations: Sendable {
    public struct Server: Sendable {
        public var destination: Destination      // with the declared weight
        public var check: CheckSpec?             // nil: not checked
        public var line: Int

        public init(destination: Destination, check: CheckSpec?, line: Int) {
            self.destination = destination; self.check = check; self.line = line
        }
    }
    public struct Service: Sendable {
        public var service: VirtualService
        public var policy: ServiceHealthPolicy
        public var servers: [Server]
        public var line: Int

        public init(service: VirtualService, policy: ServiceHealthPolicy, servers: [Server], line: Int) {
            self.service = service; self.policy = policy; self.servers = servers; self.line = line
        }
    }
    public var services: [Service]

    public init(services: [Service]) { self.services = services }
}

/// The state of one checked server, as the daemon records it and the CLI shows it.
public enum HealthStateName: String, Hashable, Sendable, CaseIterable {
    case up, down, rising, falling, ramping, held, unchecked
}

/// One line of the state file.
public struct HealthRecord: Hashable, Sendable {
    /// The -Ln text of the service: "TCP 192.168.56.185:80", "FWM 7", "FWM 7 IPv6".
    public var service: String
    /// "192.168.56.183:80", "[2001:db8::1]:80".
    public var server: String
    public var state: HealthStateName
    public var declaredWeight: Int32
    public var weight: Int32
    public var since: Double
    public var checked: Double?
    public var ok: Bool?
    public var duration: Double?
    public var message: String
    public var check: String
    /// A sorry server the checker added (not in the rules file).
    public var sorry: Bool

    public init(
        service: String, server: String, state: HealthStateName, declaredWeight: Int32, weight: Int32,
        since: Double, checked: Double? = nil, ok: Bool? = nil, duration: Double? = nil, message: String = "",
        check: String = "", sorry: Bool = false
    ) {
        self.service = service; self.server = server; self.state = state
        self.declaredWeight = declaredWeight; self.weight = weight; self.since = since
        self.checked = checked; self.ok = ok; self.duration = duration; self.message = message
        self.check = check; self.sorry = sorry
    }
}

/// The whole state file: `$IPVSADM_RUN_DIR/health-<netns inode>`.
public struct HealthStateFile: Hashable, Sendable {
    public var pid: Int32
    public var heartbeat: Double
    public var rules: String
    public var records: [HealthRecord]

    public init(pid: Int32, heartbeat: Double, rules: String, records: [HealthRecord]) {
        self.pid = pid; self.heartbeat = heartbeat; self.rules = rules; self.records = records
    }

    /// The file name in the run directory for a namespace.
    public static func fileName(namespaceInode: UInt64) -> String { "health-\(namespaceInode)" }
}
