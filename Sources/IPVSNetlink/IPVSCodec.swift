import IPVS

/// A reply the kernel sent that lacks something libipvs requires (it reports EINVAL).
@_spi(Testing) public struct MalformedReply: Error, Equatable {
    public var what: String
}

/// Model ↔ attribute bytes, laid out exactly as libipvs (ipvsadm 1.31) sends them and read
/// as the kernel replies. Requests are the top-level attributes that follow the
/// `genlmsghdr`; replies are one attribute buffer per received message. The fake kernel of
/// the test support builds its replies with the request encoders (SPI `Testing`).
@_spi(Testing) public enum IPVSCodec {
    // MARK: Requests

    // Each request's attributes are written into an encoder: the backend's is the send
    // buffer itself (hot path: no array per request).

    /// `{SERVICE full}`: NEW/SET/DEL_SERVICE, ZERO and single GET_SERVICE.
    public static func serviceRequest(_ service: VirtualService, into encoder: inout AttributeEncoder) {
        encodeService(service, into: &encoder)
    }

    /// `{SERVICE id}`: the reduced nest of the GET_DEST dump.
    public static func destinationsRequest(_ key: ServiceKey, into encoder: inout AttributeEncoder) {
        encoder.nest(CommandAttribute.service) { nest in encodeServiceKey(key, into: &nest) }
    }

    /// `{SERVICE full, DEST full}`: NEW/SET/DEL_DEST.
    public static func destinationRequest(_ destination: Destination, service: VirtualService, into encoder: inout AttributeEncoder) {
        encodeService(service, into: &encoder)
        encoder.nest(CommandAttribute.destination) { nest in
            nest.append(DestinationAttribute.addressFamily, u16: destination.address.family.rawValue)
            nest.append(DestinationAttribute.address, address: destination.address)
            nest.append(DestinationAttribute.port, be16: destination.port)
            nest.append(DestinationAttribute.forwardingMethod, u32: destination.forwarding.rawValue & 7)
            nest.append(DestinationAttribute.weight, u32: UInt32(bitPattern: destination.weight))
            nest.append(DestinationAttribute.tunnelType, u8: destination.tunnelType.rawValue)
            nest.append(DestinationAttribute.tunnelPort, be16: destination.tunnelPort)
            nest.append(DestinationAttribute.tunnelFlags, u16: destination.tunnelFlags.rawValue)
            nest.append(DestinationAttribute.upperThreshold, u32: destination.upperThreshold)
            nest.append(DestinationAttribute.lowerThreshold, u32: destination.lowerThreshold)
        }
    }

    /// ZERO: the full service nest, or nothing (zero everything) for nil.
    public static func zeroRequest(_ service: VirtualService?, into encoder: inout AttributeEncoder) {
        if let service { serviceRequest(service, into: &encoder) }
    }

    /// SET_CONFIG: the three timeouts at top level, always all of them (0 = unchanged).
    public static func timeoutsRequest(_ timeouts: Timeouts, into encoder: inout AttributeEncoder) {
        encoder.append(CommandAttribute.timeoutTCP, u32: timeouts.tcp)
        encoder.append(CommandAttribute.timeoutTCPFin, u32: timeouts.tcpFin)
        encoder.append(CommandAttribute.timeoutUDP, u32: timeouts.udp)
    }

    /// NEW_DAEMON: state, interface, sync id; the optional parameters only when set.
    public static func startDaemonRequest(_ daemon: SyncDaemon, into encoder: inout AttributeEncoder) {
        daemonRequest(daemon, into: &encoder) { nest in
            if daemon.maxLength != 0 { nest.append(DaemonAttribute.syncMaxLength, u16: daemon.maxLength) }
            if daemon.port != 0 { nest.append(DaemonAttribute.multicastPort, u16: daemon.port) }
            if daemon.ttl != 0 { nest.append(DaemonAttribute.multicastTTL, u8: daemon.ttl) }
            if let group = daemon.group {
                switch group.family {
                case .inet6: nest.append(DaemonAttribute.multicastGroup6, address: group)
                case .inet: nest.append(DaemonAttribute.multicastGroup, be32: group.ipv4)
                }
            }
        }
    }

    /// DEL_DAEMON: state, interface (possibly empty), sync id.
    public static func stopDaemonRequest(_ daemon: SyncDaemon, into encoder: inout AttributeEncoder) {
        daemonRequest(daemon, into: &encoder) { _ in }
    }

    /// The daemon nest: state, interface, sync id, then what `more` adds.
    private static func daemonRequest(
        _ daemon: SyncDaemon, into encoder: inout AttributeEncoder, _ more: (inout AttributeEncoder) -> Void
    ) {
        encoder.nest(CommandAttribute.daemon) { nest in
            nest.append(DaemonAttribute.state, u32: daemon.state.rawValue)
            nest.append(DaemonAttribute.multicastInterface, string: daemon.interface)
            nest.append(DaemonAttribute.syncID, u32: daemon.syncID)
            more(&nest)
        }
    }

    private static func encodeService(_ service: VirtualService, into encoder: inout AttributeEncoder) {
        encoder.nest(CommandAttribute.service) { nest in
            encodeServiceKey(service.key, into: &nest)
            nest.append(ServiceAttribute.schedulerName, string: service.scheduler)
            if !service.persistenceEngine.isEmpty {
                nest.append(ServiceAttribute.persistenceEngineName, string: service.persistenceEngine)
            }
            // {flags, mask}: every bit is meant. HASHED is the kernel's bookkeeping, never ours.
            nest.append(ServiceAttribute.flags, words: service.flags.subtracting(.hashed).rawValue, 0xffff_ffff)
            nest.append(ServiceAttribute.timeout, u32: service.timeout)
            switch service.key.family {
            case .inet: nest.append(ServiceAttribute.netmask, be32: service.netmask)
            case .inet6: nest.append(ServiceAttribute.netmask, u32: service.netmask)
            }
        }
    }

    private static func encodeServiceKey(_ key: ServiceKey, into nest: inout AttributeEncoder) {
        nest.append(ServiceAttribute.addressFamily, u16: key.family.rawValue)
        switch key {
        case .firewallMark(let mark, _):
            nest.append(ServiceAttribute.firewallMark, u32: mark)
        case .address(let proto, let address, let port):
            nest.append(ServiceAttribute.protocol, u16: proto.rawValue)
            nest.append(ServiceAttribute.address, address: address)
            nest.append(ServiceAttribute.port, be16: port)
        }
    }

    // MARK: Replies

    /// One message of a GET_SERVICE reply (dump or single): one service.
    public static func decodeService(message: ArraySlice<UInt8>) throws(MalformedReply) -> VirtualService {
        guard let nest = AttributeSet(message).nested(CommandAttribute.service) else {
            throw MalformedReply(what: "service nest")
        }
        return try decodeService(nest)
    }

    /// One message of a GET_DEST dump; `family` is the service's, used when a destination
    /// does not say its own (kernels before 3.18).
    public static func decodeDestination(message: ArraySlice<UInt8>, family: AddressFamily) throws(MalformedReply)
        -> Destination
    {
        // Read for one attribute: one pass, no index (hot path: a message per real server).
        var nest: Range<Int>?
        AttributeSet.forEach(in: message) { type, _, range in
            if type == CommandAttribute.destination { nest = range }
        }
        guard let nest else { throw MalformedReply(what: "destination nest") }
        return try decodeDestination(message[nest], family: family)
    }

    /// The SET_INFO reply of GET_INFO: both attributes are required.
    public static func decodeInfo(message: ArraySlice<UInt8>) throws(MalformedReply) -> IPVSInfo {
        let attributes = AttributeSet(message)
        guard let version = attributes.u32(InfoAttribute.version),
              let size = attributes.u32(InfoAttribute.connectionTableSize)
        else { throw MalformedReply(what: "info attributes") }
        return IPVSInfo(version: version, connectionTableSize: size)
    }

    /// The SET_CONFIG reply of GET_CONFIG: each timeout is optional (a kernel without the
    /// TCP or UDP protocol omits it) and reads as 0 when absent.
    public static func decodeTimeouts(message: ArraySlice<UInt8>) -> Timeouts {
        let attributes = AttributeSet(message)
        return Timeouts(
            tcp: attributes.u32(CommandAttribute.timeoutTCP) ?? 0,
            tcpFin: attributes.u32(CommandAttribute.timeoutTCPFin) ?? 0,
            udp: attributes.u32(CommandAttribute.timeoutUDP) ?? 0)
    }

    /// One message of a GET_DAEMON dump (0–2 of them, master first).
    public static func decodeDaemon(message: ArraySlice<UInt8>) throws(MalformedReply) -> SyncDaemon {
        guard let nest = AttributeSet(message).nested(CommandAttribute.daemon),
              let rawState = nest.u32(DaemonAttribute.state),
              let state = SyncDaemon.State(rawValue: rawState),
              let interface = nest.string(DaemonAttribute.multicastInterface),
              let syncID = nest.u32(DaemonAttribute.syncID)
        else { throw MalformedReply(what: "daemon") }
        var group: IPAddress?
        if let bytes = nest[DaemonAttribute.multicastGroup6], bytes.count >= 16 {
            group = nest.address(DaemonAttribute.multicastGroup6, family: .inet6)
        } else if let value = nest.be32(DaemonAttribute.multicastGroup) {
            group = IPAddress(ipv4: value)
        }
        return SyncDaemon(
            state: state, interface: interface, syncID: syncID,
            maxLength: nest.u16(DaemonAttribute.syncMaxLength) ?? 0, group: group,
            port: nest.u16(DaemonAttribute.multicastPort) ?? 0,
            ttl: nest.u8(DaemonAttribute.multicastTTL) ?? 0)
    }

    static func decodeService(_ nest: AttributeSet) throws(MalformedReply) -> VirtualService {
        guard let rawFamily = nest.u16(ServiceAttribute.addressFamily),
              let family = AddressFamily(rawValue: rawFamily)
        else { throw MalformedReply(what: "service family") }

        let key: ServiceKey
        if let mark = nest.u32(ServiceAttribute.firewallMark) {
            key = .firewallMark(mark, family: family)
        } else if let proto = nest.u16(ServiceAttribute.protocol),
                  let address = nest.address(ServiceAttribute.address, family: family),
                  let port = nest.be16(ServiceAttribute.port) {
            key = .address(protocol: IPProtocolNumber(rawValue: proto), address: address, port: port)
        } else {
            throw MalformedReply(what: "service identity")
        }

        guard let scheduler = nest.string(ServiceAttribute.schedulerName),
              let flagWords = nest[ServiceAttribute.flags], flagWords.count >= 8,
              let timeout = nest.u32(ServiceAttribute.timeout),
              let rawNetmask = nest.u32(ServiceAttribute.netmask)
        else { throw MalformedReply(what: "service attributes") }

        let flags = AttributeSet.word(flagWords, 0) & AttributeSet.word(flagWords, 1)
        let netmask = family == .inet ? UInt32(bigEndian: rawNetmask) : rawNetmask
        return VirtualService(
            key: key, scheduler: scheduler, flags: ServiceFlags(rawValue: flags), timeout: timeout,
            netmask: netmask, persistenceEngine: nest.string(ServiceAttribute.persistenceEngineName) ?? "",
            stats: decodeStats(stats64: nest[ServiceAttribute.stats64], stats32: nest[ServiceAttribute.stats]))
    }

    /// One real server's nest, read in one pass (a listing decodes thousands): as with
    /// `AttributeSet`, the last copy of an attribute wins and one too short is absent.
    static func decodeDestination(_ nest: ArraySlice<UInt8>, family serviceFamily: AddressFamily) throws(MalformedReply)
        -> Destination
    {
        var rawFamily: UInt16?, port: UInt16?, tunnelPort: UInt16?, tunnelFlags: UInt16?, tunnelType: UInt8?
        var forwarding: UInt32?, weight: UInt32?, upper: UInt32?, lower: UInt32?
        var active: UInt32?, inactive: UInt32?, persistent: UInt32?
        var address: Range<Int>?, stats: Range<Int>?, stats64: Range<Int>?
        AttributeSet.forEach(in: nest) { type, raw, range in
            typealias A = DestinationAttribute
            switch type {
            case A.addressFamily: rawFamily = raw.integer()
            case A.address: address = range
            case A.port: port = raw.integer().map { UInt16(bigEndian: $0) }
            case A.forwardingMethod: forwarding = raw.integer()
            case A.weight: weight = raw.integer()
            case A.upperThreshold: upper = raw.integer()
            case A.lowerThreshold: lower = raw.integer()
            case A.activeConnections: active = raw.integer()
            case A.inactiveConnections: inactive = raw.integer()
            case A.persistentConnections: persistent = raw.integer()
            case A.stats: stats = range
            case A.stats64: stats64 = range
            case A.tunnelType: tunnelType = raw.integer()
            case A.tunnelPort: tunnelPort = raw.integer().map { UInt16(bigEndian: $0) }
            case A.tunnelFlags: tunnelFlags = raw.integer()
            default: break
            }
        }
        var family = serviceFamily
        if let raw = rawFamily, raw != 0 {
            guard let own = AddressFamily(rawValue: raw) else { throw MalformedReply(what: "destination family") }
            family = own
        }
        guard let address = address.map({ nest[$0].withUnsafeBytes { IPAddress(family: family, networkBytes: $0) } }),
              let port, let forwarding, let weight, let upper, let lower, let active, let inactive, let persistent
        else { throw MalformedReply(what: "destination attributes") }

        return Destination(
            address: address, port: port,
            forwarding: ForwardingMethod(rawValue: forwarding), weight: Int32(bitPattern: weight),
            upperThreshold: upper, lowerThreshold: lower,
            tunnelType: TunnelType(rawValue: tunnelType ?? 0),
            tunnelPort: tunnelPort ?? 0,
            tunnelFlags: TunnelFlags(rawValue: tunnelFlags ?? 0),
            activeConnections: active, inactiveConnections: inactive, persistentConnections: persistent,
            stats: decodeStats(stats64: stats64.map { nest[$0] }, stats32: stats.map { nest[$0] }))
    }

    /// STATS64 (all u64) when present, else STATS (u32 except the byte counters). Unlike
    /// ipvsadm 1.31, destination STATS64 is read as 64-bit (a deliberate fix). The nest is
    /// read in one pass; as everywhere, the last copy of a field wins, and a field too short
    /// for its width reads as 0.
    public static func decodeStats(stats64: ArraySlice<UInt8>?, stats32: ArraySlice<UInt8>?) -> Statistics {
        var stats = Statistics()
        guard let payload = stats64 ?? stats32 else { return stats }
        let wide = stats64 != nil
        typealias A = StatsAttribute
        AttributeSet.forEach(in: payload) { type, raw, _ in
            let value: UInt64
            if wide || type == A.inBytes || type == A.outBytes {
                value = raw.integer() ?? 0
            } else {
                value = UInt64(raw.integer(UInt32.self) ?? 0)
            }
            switch type {
            case A.connections: stats.connections = value
            case A.inPackets: stats.inPackets = value
            case A.outPackets: stats.outPackets = value
            case A.inBytes: stats.inBytes = value
            case A.outBytes: stats.outBytes = value
            case A.connectionRate: stats.connectionRate = value
            case A.inPacketRate: stats.inPacketRate = value
            case A.outPacketRate: stats.outPacketRate = value
            case A.inByteRate: stats.inByteRate = value
            case A.outByteRate: stats.outByteRate = value
            default: break  // PAD and unknown fields
            }
        }
        return stats
    }
}
