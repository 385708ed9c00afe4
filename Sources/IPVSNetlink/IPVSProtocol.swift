// The IPVS generic-netlink vocabulary (linux/ip_vs.h, uapi). Numbers are facts of the
// kernel ABI; names follow the header without the common prefix.

import IPVS

/// `IPVS_CMD_*`.
enum IPVSCommand: UInt8 {
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
enum CommandAttribute: UInt16 {
    case service = 1
    case destination = 2
    case daemon = 3
    case timeoutTCP = 4
    case timeoutTCPFin = 5
    case timeoutUDP = 6
}

/// `IPVS_SVC_ATTR_*`, nested in `CommandAttribute.service`.
enum ServiceAttribute: UInt16 {
    case addressFamily = 1
    case `protocol` = 2
    case address = 3
    case port = 4
    case firewallMark = 5
    case schedulerName = 6
    case flags = 7
    case timeout = 8
    case netmask = 9
    case stats = 10
    case persistenceEngineName = 11
    case stats64 = 12
}

/// `IPVS_DEST_ATTR_*`, nested in `CommandAttribute.destination`.
enum DestinationAttribute: UInt16 {
    case address = 1
    case port = 2
    case forwardingMethod = 3
    case weight = 4
    case upperThreshold = 5
    case lowerThreshold = 6
    case activeConnections = 7
    case inactiveConnections = 8
    case persistentConnections = 9
    case stats = 10
    case addressFamily = 11
    case stats64 = 12
    case tunnelType = 13
    case tunnelPort = 14
    case tunnelFlags = 15
}

/// `IPVS_DAEMON_ATTR_*`, nested in `CommandAttribute.daemon`.
enum DaemonAttribute: UInt16 {
    case state = 1
    case multicastInterface = 2
    case syncID = 3
    case syncMaxLength = 4
    case multicastGroup = 5
    case multicastGroup6 = 6
    case multicastPort = 7
    case multicastTTL = 8
}

/// `IPVS_STATS_ATTR_*`, nested in the service/destination `stats` and `stats64` attributes.
enum StatsAttribute: UInt16 {
    case connections = 1
    case inPackets = 2
    case outPackets = 3
    case inBytes = 4
    case outBytes = 5
    case connectionRate = 6
    case inPacketRate = 7
    case outPacketRate = 8
    case inByteRate = 9
    case outByteRate = 10
    /// Alignment filler of `nla_put_u64_64bit`; ignored.
    case pad = 11
}

/// `IPVS_INFO_ATTR_*`: top-level attributes of the `setInfo` reply.
enum InfoAttribute: UInt16 {
    case version = 1
    case connectionTableSize = 2
}

/// An attribute-number enum; lets the codec write `.port` instead of raw numbers.
protocol AttributeKind: RawRepresentable<UInt16> {}
extension CommandAttribute: AttributeKind {}
extension ServiceAttribute: AttributeKind {}
extension DestinationAttribute: AttributeKind {}
extension DaemonAttribute: AttributeKind {}
extension StatsAttribute: AttributeKind {}
extension InfoAttribute: AttributeKind {}

extension AttributeEncoder {
    mutating func nest(_ a: some AttributeKind, _ body: (inout AttributeEncoder) -> Void) { nest(a.rawValue, body) }
    mutating func append<C: Collection>(_ a: some AttributeKind, payload: C) where C.Element == UInt8 {
        append(a.rawValue, payload: payload)
    }
    mutating func append(_ a: some AttributeKind, u8 value: UInt8) { append(a.rawValue, u8: value) }
    mutating func append(_ a: some AttributeKind, u16 value: UInt16) { append(a.rawValue, u16: value) }
    mutating func append(_ a: some AttributeKind, u32 value: UInt32) { append(a.rawValue, u32: value) }
    mutating func append(_ a: some AttributeKind, be16 value: UInt16) { append(a.rawValue, be16: value) }
    mutating func append(_ a: some AttributeKind, be32 value: UInt32) { append(a.rawValue, be32: value) }
    mutating func append(_ a: some AttributeKind, string: String) { append(a.rawValue, string: string) }
    mutating func append(_ a: some AttributeKind, address: IPAddress) { append(a.rawValue, address: address) }
    mutating func append(_ a: some AttributeKind, words first: UInt32, _ second: UInt32) {
        append(a.rawValue, words: first, second)
    }
}

extension AttributeSet {
    subscript(a: some AttributeKind) -> ArraySlice<UInt8>? { self[a.rawValue] }
    func u8(_ a: some AttributeKind) -> UInt8? { u8(a.rawValue) }
    func u16(_ a: some AttributeKind) -> UInt16? { u16(a.rawValue) }
    func u32(_ a: some AttributeKind) -> UInt32? { u32(a.rawValue) }
    func u64(_ a: some AttributeKind) -> UInt64? { u64(a.rawValue) }
    func be16(_ a: some AttributeKind) -> UInt16? { be16(a.rawValue) }
    func be32(_ a: some AttributeKind) -> UInt32? { be32(a.rawValue) }
    func string(_ a: some AttributeKind) -> String? { string(a.rawValue) }
    func nested(_ a: some AttributeKind) -> AttributeSet? { nested(a.rawValue) }
    func address(_ a: some AttributeKind, family: AddressFamily) -> IPAddress? { address(a.rawValue, family: family) }
}
