/// The transport protocol of a virtual service, as the kernel numbers it (`IPPROTO_*`).
/// Kept as a raw number because a dump may carry values ipvsadm prints as `?`.
public struct IPProtocolNumber: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let tcp = IPProtocolNumber(rawValue: 6)
    public static let udp = IPProtocolNumber(rawValue: 17)
    public static let sctp = IPProtocolNumber(rawValue: 132)
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
