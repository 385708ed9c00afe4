/// How the director forwards packets to a real server (`IP_VS_CONN_F_*` & 7).
public struct ForwardingMethod: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue & 7 }

    public static let masquerading = ForwardingMethod(rawValue: 0)
    public static let local = ForwardingMethod(rawValue: 1)
    public static let tunnel = ForwardingMethod(rawValue: 2)
    public static let directRouting = ForwardingMethod(rawValue: 3)
    public static let bypass = ForwardingMethod(rawValue: 4)

    /// `masq`, `local`, `tunnel`, `route`, `bypass` (`--json`); nil for a number without a name.
    public var name: String? {
        switch self {
        case .masquerading: return "masq"
        case .local: return "local"
        case .tunnel: return "tunnel"
        case .directRouting: return "route"
        case .bypass: return "bypass"
        default: return nil
        }
    }

    /// The name ipvsadm's tables print (`Masq`, `Local`, `Tunnel`, `Route`); nil for bypass
    /// and the numbers without a name, which ipvsadm prints as `(null)`.
    public var tableName: String? {
        switch self {
        case .masquerading: return "Masq"
        case .local: return "Local"
        case .tunnel: return "Tunnel"
        case .directRouting: return "Route"
        default: return nil
        }
    }
}

/// Encapsulation of a tunnelled real server (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
public struct TunnelType: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ipip = TunnelType(rawValue: 0)
    public static let gue = TunnelType(rawValue: 1)
    public static let gre = TunnelType(rawValue: 2)

    /// `ipip`, `gue`, `gre`, as `--tun-type` takes them and every listing prints them; nil for
    /// a number without a name.
    public var name: String? {
        switch self {
        case .ipip: return "ipip"
        case .gue: return "gue"
        case .gre: return "gre"
        default: return nil
        }
    }
}

/// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
public struct TunnelFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let checksum = TunnelFlags(rawValue: 1)
    public static let remoteChecksum = TunnelFlags(rawValue: 2)
}

/// A real server behind a virtual service.
public struct Destination: Hashable, Sendable {
    public var address: IPAddress
    public var port: UInt16
    public var forwarding: ForwardingMethod
    public var weight: Int32
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32
    public var tunnelType: TunnelType
    /// Host order.
    public var tunnelPort: UInt16
    public var tunnelFlags: TunnelFlags
    /// Reply-only fields.
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32
    public var persistentConnections: UInt32
    public var stats: Statistics

    public init(
        address: IPAddress, port: UInt16, forwarding: ForwardingMethod = .directRouting, weight: Int32 = 1,
        upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0, tunnelType: TunnelType = .ipip,
        tunnelPort: UInt16 = 0, tunnelFlags: TunnelFlags = [], activeConnections: UInt32 = 0,
        inactiveConnections: UInt32 = 0, persistentConnections: UInt32 = 0, stats: Statistics = Statistics()
    ) {
        self.address = address
        self.port = port
        self.forwarding = forwarding
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
        self.tunnelType = tunnelType
        self.tunnelPort = tunnelPort
        self.tunnelFlags = tunnelFlags
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
        self.persistentConnections = persistentConnections
        self.stats = stats
    }
}
