// The IPVS generic-netlink vocabulary (linux/ip_vs.h, uapi). Numbers are facts of the
// kernel ABI; names follow the header without the common prefix. Attribute types are plain
// `UInt16` numbers, as on the wire: the encoder and `AttributeSet` take them as they are.
// The one home of these numbers: the test support's fake kernel reads them too (SPI `Testing`).

import IPVS

/// `IPVS_CMD_*`.
@_spi(Testing) public enum IPVSCommand: UInt8 {
    case newService = 1
    case setService = 2
    case deleteService = 3
    case getService = 4
    case newDestination = 5
    case setDestination = 6
    case deleteDestination = 7
    case getDestination = 8
    case newDaemon = 9
    case deleteDaemon = 10
    case getDaemon = 11
    /// Also the reply command of `getConfig` (libipvs: `IPVS_CMD_SET_TIMEOUT`).
    case setConfig = 12
    case getConfig = 13
    /// Reply command of `getInfo`.
    case setInfo = 14
    case getInfo = 15
    case zero = 16
    case flush = 17
}

/// `IPVS_CMD_ATTR_*`: top-level attributes of a request.
@_spi(Testing) public enum CommandAttribute {
    public static let service: UInt16 = 1
    public static let destination: UInt16 = 2
    public static let daemon: UInt16 = 3
    public static let timeoutTCP: UInt16 = 4
    public static let timeoutTCPFin: UInt16 = 5
    public static let timeoutUDP: UInt16 = 6
}

/// `IPVS_SVC_ATTR_*`, nested in `CommandAttribute.service`.
@_spi(Testing) public enum ServiceAttribute {
    public static let addressFamily: UInt16 = 1
    public static let `protocol`: UInt16 = 2
    public static let address: UInt16 = 3
    public static let port: UInt16 = 4
    public static let firewallMark: UInt16 = 5
    public static let schedulerName: UInt16 = 6
    public static let flags: UInt16 = 7
    public static let timeout: UInt16 = 8
    public static let netmask: UInt16 = 9
    public static let stats: UInt16 = 10
    public static let persistenceEngineName: UInt16 = 11
    public static let stats64: UInt16 = 12
}

/// `IPVS_DEST_ATTR_*`, nested in `CommandAttribute.destination`.
@_spi(Testing) public enum DestinationAttribute {
    public static let address: UInt16 = 1
    public static let port: UInt16 = 2
    public static let forwardingMethod: UInt16 = 3
    public static let weight: UInt16 = 4
    public static let upperThreshold: UInt16 = 5
    public static let lowerThreshold: UInt16 = 6
    public static let activeConnections: UInt16 = 7
    public static let inactiveConnections: UInt16 = 8
    public static let persistentConnections: UInt16 = 9
    public static let stats: UInt16 = 10
    public static let addressFamily: UInt16 = 11
    public static let stats64: UInt16 = 12
    public static let tunnelType: UInt16 = 13
    public static let tunnelPort: UInt16 = 14
    public static let tunnelFlags: UInt16 = 15
}

/// `IPVS_DAEMON_ATTR_*`, nested in `CommandAttribute.daemon`.
@_spi(Testing) public enum DaemonAttribute {
    public static let state: UInt16 = 1
    public static let multicastInterface: UInt16 = 2
    public static let syncID: UInt16 = 3
    public static let syncMaxLength: UInt16 = 4
    public static let multicastGroup: UInt16 = 5
    public static let multicastGroup6: UInt16 = 6
    public static let multicastPort: UInt16 = 7
    public static let multicastTTL: UInt16 = 8
}

/// `IPVS_STATS_ATTR_*`, nested in the service/destination `stats` and `stats64` attributes.
@_spi(Testing) public enum StatsAttribute {
    public static let connections: UInt16 = 1
    public static let inPackets: UInt16 = 2
    public static let outPackets: UInt16 = 3
    public static let inBytes: UInt16 = 4
    public static let outBytes: UInt16 = 5
    public static let connectionRate: UInt16 = 6
    public static let inPacketRate: UInt16 = 7
    public static let outPacketRate: UInt16 = 8
    public static let inByteRate: UInt16 = 9
    public static let outByteRate: UInt16 = 10
    /// Alignment filler of `nla_put_u64_64bit`; ignored.
    public static let pad: UInt16 = 11
}

/// `IPVS_INFO_ATTR_*`: top-level attributes of the `setInfo` reply.
@_spi(Testing) public enum InfoAttribute {
    public static let version: UInt16 = 1
    public static let connectionTableSize: UInt16 = 2
}
