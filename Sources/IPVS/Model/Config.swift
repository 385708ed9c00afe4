/// Version and connection-table size of the kernel's IPVS (`IPVS_CMD_GET_INFO`).
public struct IPVSInfo: Hashable, Sendable {
    /// `IP_VS_VERSION_CODE`, e.g. `0x010201` for 1.2.1.
    public var version: UInt32
    public var connectionTableSize: UInt32

    public init(version: UInt32, connectionTableSize: UInt32) {
        self.version = version
        self.connectionTableSize = connectionTableSize
    }

    /// The version as every listing and message prints it: `1.2.1`.
    public var versionText: String {
        "\(version >> 16 & 0xff).\(version >> 8 & 0xff).\(version & 0xff)"
    }
}

/// Connection timeouts in seconds; 0 in a request means "leave unchanged".
public struct Timeouts: Hashable, Sendable {
    public var tcp: UInt32
    public var tcpFin: UInt32
    public var udp: UInt32

    public init(tcp: UInt32, tcpFin: UInt32, udp: UInt32) {
        self.tcp = tcp
        self.tcpFin = tcpFin
        self.udp = udp
    }
}

/// A connection-synchronisation daemon (master or backup).
public struct SyncDaemon: Hashable, Sendable {
    public enum State: UInt32, Sendable {
        case master = 1
        case backup = 2

        /// `master`, `backup`: the state's name on the command line and in every listing.
        public var name: String {
            switch self {
            case .master: return "master"
            case .backup: return "backup"
            }
        }

        /// The state a name on the command line means, nil for any other word.
        public init?(name: String) {
            switch name {
            case "master": self = .master
            case "backup": self = .backup
            default: return nil
            }
        }
    }

    public var state: State
    public var interface: String
    public var syncID: UInt32
    public var maxLength: UInt16
    public var group: IPAddress?
    public var port: UInt16
    public var ttl: UInt8

    public init(
        state: State, interface: String = "", syncID: UInt32 = 0, maxLength: UInt16 = 0,
        group: IPAddress? = nil, port: UInt16 = 0, ttl: UInt8 = 0
    ) {
        self.state = state
        self.interface = interface
        self.syncID = syncID
        self.maxLength = maxLength
        self.group = group
        self.port = port
        self.ttl = ttl
    }
}
