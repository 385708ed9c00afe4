/// The transport protocol of a virtual service, as the kernel numbers it (`IPPROTO_*`).
/// Kept as a raw number because a dump may carry values ipvsadm prints as `?`.
public struct IPProtocolNumber: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let tcp = IPProtocolNumber(rawValue: 6)
    public static let udp = IPProtocolNumber(rawValue: 17)
    public static let sctp = IPProtocolNumber(rawValue: 132)

    /// `tcp`, `udp`, `sctp`: as `/etc/services` and `--json` spell them; nil for any other
    /// number.
    public var name: String? {
        switch self {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .sctp: return "sctp"
        default: return nil
        }
    }

    /// `TCP`, `UDP`, `SCTP`: as the kernel (`ip_vs_proto_name`, `/proc/net/ip_vs_conn`) and
    /// ipvsadm's tables spell them; nil for any other number.
    public var kernelName: String? {
        switch self {
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .sctp: return "SCTP"
        default: return nil
        }
    }

    /// The protocol the kernel's name stands for, nil for any other word.
    public init?(kernelName: some StringProtocol) {
        switch kernelName {
        case "TCP": self = .tcp
        case "UDP": self = .udp
        case "SCTP": self = .sctp
        default: return nil
        }
    }
}

extension AddressFamily {
    /// `inet`, `inet6`: as `--json` and `--metrics` name a family.
    public var name: StaticString { self == .inet ? "inet" : "inet6" }
}

/// What identifies a virtual service to the kernel: either protocol, address and port,
/// or a firewall mark (with the family of the packets it matches).
public enum ServiceKey: Hashable, Sendable {
    case address(protocol: IPProtocolNumber, address: IPAddress, port: UInt16)
    case firewallMark(UInt32, family: AddressFamily)

    public var family: AddressFamily {
        switch self {
        case .address(_, let address, _): return address.family
        case .firewallMark(_, let family): return family
        }
    }

    public var port: UInt16 {
        if case .address(_, _, let port) = self { return port }
        return 0
    }
}

extension ServiceKey {
    // The fields of ipvsadm's service entry, zero where this key has none: what its
    // listing order (`ipvs_cmp_services`) compares.
    public var fwmark: UInt32 {
        if case .firewallMark(let mark, _) = self { return mark }
        return 0
    }

    public var protocolNumber: IPProtocolNumber {
        if case .address(let proto, _, _) = self { return proto }
        return IPProtocolNumber(rawValue: 0)
    }

    public var address: IPAddress {
        if case .address(_, let address, _) = self { return address }
        return IPAddress(family: family, high: 0, low: 0)
    }
}

/// Service flag bits (`IP_VS_SVC_F_*`).
public struct ServiceFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let persistent = ServiceFlags(rawValue: 0x1)
    /// Kernel-internal: set in replies, never sent.
    public static let hashed = ServiceFlags(rawValue: 0x2)
    public static let onePacket = ServiceFlags(rawValue: 0x4)
    public static let sched1 = ServiceFlags(rawValue: 0x8)
    public static let sched2 = ServiceFlags(rawValue: 0x10)
    public static let sched3 = ServiceFlags(rawValue: 0x20)
    public static let schedulerFlags: ServiceFlags = [.sched1, .sched2, .sched3]
}

/// A virtual service: the address clients connect to, and how the kernel schedules it.
public struct VirtualService: Hashable, Sendable {
    public var key: ServiceKey
    public var scheduler: String
    public var flags: ServiceFlags
    /// Persistence timeout in seconds.
    public var timeout: UInt32
    /// IPv4: the persistence netmask in host order (`0xffffff00` for /24).
    /// IPv6: the prefix length.
    public var netmask: UInt32
    /// Persistence engine name (`sip`), or empty.
    public var persistenceEngine: String
    /// Counters, filled in by listings only.
    public var stats: Statistics

    public init(
        key: ServiceKey, scheduler: String = "", flags: ServiceFlags = [], timeout: UInt32 = 0,
        netmask: UInt32? = nil, persistenceEngine: String = "", stats: Statistics = Statistics()
    ) {
        self.key = key
        self.scheduler = scheduler
        self.flags = flags
        self.timeout = timeout
        self.netmask = netmask ?? (key.family == .inet6 ? 128 : 0xffff_ffff)
        self.persistenceEngine = persistenceEngine
        self.stats = stats
    }
}

extension VirtualService {
    /// The scheduler flags as ipvsadm's tables print them (`print_sched_flags`): `sh` and `mh`
    /// name two (`sh-fallback`, `sh-port`) and drop flag-3; any other scheduler has `flag-1`,
    /// `flag-2`, `flag-3`. Comma-separated, empty when none is set.
    public var schedulerFlagText: String {
        var names: [String] = []
        switch scheduler {
        case "sh", "mh":
            if flags.contains(.sched1) { names.append(scheduler + "-fallback") }
            if flags.contains(.sched2) { names.append(scheduler + "-port") }
        default:
            if flags.contains(.sched1) { names.append("flag-1") }
            if flags.contains(.sched2) { names.append("flag-2") }
            if flags.contains(.sched3) { names.append("flag-3") }
        }
        return names.joined(separator: ",")
    }

    /// The scheduler flags as `-b` reads them: `schedulerFlagText`, and `flag-3` where those
    /// names drop it.
    public var schedulerFlagOptions: String {
        let text = schedulerFlagText
        guard scheduler == "sh" || scheduler == "mh", flags.contains(.sched3) else { return text }
        return text.isEmpty ? "flag-3" : text + ",flag-3"
    }

    /// The persistence mask as ipvsadm prints it: IPv4 dotted (`inet_ntoa`), IPv6 the prefix
    /// length; nil when it is the default (/32, /128).
    public var persistenceMaskText: String? {
        switch key.family {
        case .inet: return netmask == 0xffff_ffff ? nil : IPAddress(ipv4: netmask).text
        case .inet6: return netmask == 128 ? nil : String(Int32(bitPattern: netmask))
        }
    }
}
