import IPVS

/// How bad a finding is: an error breaks traffic; a warning breaks it under a condition the
/// message names, or breaks something else (a stall, a lost template).
public enum DoctorSeverity: String, Sendable {
    case error, warning
}

/// The stable names of the findings (Docs/Doctor.md): what scripts and the VM test match on.
public enum DoctorCode: String, CaseIterable, Sendable {
    // The director.
    case ipvsModuleMissing = "ipvs-module-missing"
    case schedulerMissing = "scheduler-missing"
    case vipNotLocal = "vip-not-local"
    case fwmarkUnmarked = "fwmark-unmarked"
    case natIPForwardOff = "nat-ip-forward-off"
    case natRealServerNotOnLink = "nat-real-server-not-on-link"
    case drRealServerNotOnLink = "dr-real-server-not-on-link"
    case drSendRedirectsOn = "dr-send-redirects-on"
    case drPortIgnored = "dr-port-ignored"
    case tunMTU = "tun-mtu"
    case sysctlConnReuseMode = "sysctl-conn-reuse-mode"
    case sysctlExpireNodestConn = "sysctl-expire-nodest-conn"
    case sysctlExpireQuiescentTemplate = "sysctl-expire-quiescent-template"
    case sysctlConntrack = "sysctl-conntrack"
    case syncInterfaceDown = "sync-interface-down"
    case syncDaemonNotRunning = "sync-daemon-not-running"
    case persistenceOverTCPTimeout = "persistence-over-tcp-timeout"
    case noLiveRealServer = "no-live-real-server"
    // A real server.
    case rsVIPMissing = "rs-vip-missing"
    case rsVIPOnARPInterface = "rs-vip-on-arp-interface"
    case rsARPIgnore = "rs-arp-ignore"
    case rsARPAnnounce = "rs-arp-announce"
    case rsTunl0Missing = "rs-tunl0-missing"
    case rsIPIPMissing = "rs-ipip-missing"
    case rsRPFilter = "rs-rp-filter"
    case rsNATGateway = "rs-nat-gateway"
}

/// One problem found: what it is, where, what breaks and why, and the commands that fix it
/// (run in order, in the namespace examined).
public struct DoctorFinding: Equatable, Sendable {
    public var severity: DoctorSeverity
    public var code: DoctorCode
    /// The service, real server, interface or setting concerned.
    public var object: String
    /// One sentence: what breaks and why.
    public var message: String
    public var fix: [String]

    public init(_ severity: DoctorSeverity, _ code: DoctorCode, _ object: String, _ message: String, fix: [String]) {
        self.severity = severity
        self.code = code
        self.object = object
        self.message = message
        self.fix = fix
    }
}

/// What one `--doctor` run found.
public struct DoctorReport: Sendable {
    public enum Mode: String, Sendable {
        case director
        case realServer = "real-server"
    }

    public var mode: Mode
    public var findings: [DoctorFinding] = []

    public init(mode: Mode) { self.mode = mode }

    public var errors: Int { findings.count { $0.severity == .error } }
    public var warnings: Int { findings.count { $0.severity == .warning } }

    /// 0 clean, 1 at least one error, 2 warnings only.
    public var status: Int32 { errors > 0 ? 1 : warnings > 0 ? 2 : 0 }

    mutating func add(
        _ severity: DoctorSeverity, _ code: DoctorCode, _ object: String, _ message: String, fix: [String]
    ) {
        findings.append(DoctorFinding(severity, code, object, message, fix: fix))
    }
}

/// Names of what findings are about, in ipvsadm's words.
enum DoctorNames {
    static func service(_ key: ServiceKey) -> String {
        switch key {
        case .firewallMark(let mark, let family): return family == .inet6 ? "FWM \(mark) IPv6" : "FWM \(mark)"
        case .address(let proto, let address, let port):
            return "\(proto.kernelName ?? "PROTO\(proto.rawValue)") \(endpoint(address, port))"
        }
    }

    static func endpoint(_ address: IPAddress, _ port: UInt16) -> String {
        address.family == .inet6 ? "[\(address.text)]:\(port)" : "\(address.text):\(port)"
    }

    static func server(_ key: ServiceKey, _ destination: Destination) -> String {
        service(key) + " -> " + endpoint(destination.address, destination.port)
    }

    /// The service as ipvsadm's options name it (`-t 10.0.0.1:80`, `-f 7 -6`).
    static func serviceOptions(_ key: ServiceKey) -> String {
        switch key {
        case .firewallMark(let mark, let family): return family == .inet6 ? "-f \(mark) -6" : "-f \(mark)"
        case .address(let proto, let address, let port):
            let option = proto == .udp ? "-u" : proto == .sctp ? "--sctp-service" : "-t"
            return "\(option) \(endpoint(address, port))"
        }
    }

    static func forwardingOption(_ method: ForwardingMethod) -> String {
        switch method {
        case .masquerading: "-m"
        case .tunnel: "-i"
        default: "-g"
        }
    }

    /// An address with its host prefix (`/32`, `/128`).
    static func host(_ address: IPAddress) -> String { address.text + (address.family == .inet ? "/32" : "/128") }

    /// The sysctl key of an interface's setting: dots in interface names are slashes there.
    static func conf(_ family: AddressFamily = .inet, _ interface: String, _ name: String) -> String {
        "net.\(family == .inet ? "ipv4" : "ipv6").conf.\(interface.replacing(".", with: "/")).\(name)"
    }

    /// The /proc/sys path of a sysctl key.
    static func path(_ key: String) -> String {
        "/proc/sys/" + key.split(separator: ".", omittingEmptySubsequences: false).map {
            $0.replacing("/", with: ".")
        }.joined(separator: "/")
    }
}
