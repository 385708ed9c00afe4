import Glibc
import Testing

@_spi(Testing) @testable import IPVSNetlink

/// The numbers of `IPVSProtocol.swift` against the kernel UAPI header `linux/ip_vs.h`
/// (from linux-libc-dev), read as text so that no C module is needed.
private let headerPath = "/usr/include/linux/ip_vs.h"

/// `NAME -> value` for every enumerator of the header's anonymous enums (implicit values
/// count up from the previous one, as C does).
private func headerEnumerators() -> [String: Int] {
    guard let file = fopen(headerPath, "r") else { return [:] }
    defer { fclose(file) }
    var values: [String: Int] = [:]
    var inEnum = false
    var next = 0
    var line = [CChar](repeating: 0, count: 1024)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let code = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = code.trimmingSpaces
        if trimmed.hasPrefix("enum") { inEnum = true; next = 0; continue }
        if trimmed.hasPrefix("}") { inEnum = false; continue }
        guard inEnum, trimmed.hasPrefix("IPVS_") else { continue }
        let entry = trimmed.split(separator: ",").first.map(String.init) ?? ""
        let parts = entry.split(separator: "=").map { String($0).trimmingSpaces }
        if parts.count == 2, let value = Int(parts[1]) { next = value }
        values[parts[0]] = next
        next += 1
    }
    return values
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed())
    }
}

@Suite(.enabled(if: access(headerPath, R_OK) == 0, "needs linux/ip_vs.h"))
struct HeaderConstantsTests {
    static let expected: [(String, Int)] = [
        ("IPVS_CMD_NEW_SERVICE", Int(IPVSCommand.newService.rawValue)),
        ("IPVS_CMD_SET_SERVICE", Int(IPVSCommand.setService.rawValue)),
        ("IPVS_CMD_DEL_SERVICE", Int(IPVSCommand.deleteService.rawValue)),
        ("IPVS_CMD_GET_SERVICE", Int(IPVSCommand.getService.rawValue)),
        ("IPVS_CMD_NEW_DEST", Int(IPVSCommand.newDestination.rawValue)),
        ("IPVS_CMD_SET_DEST", Int(IPVSCommand.setDestination.rawValue)),
        ("IPVS_CMD_DEL_DEST", Int(IPVSCommand.deleteDestination.rawValue)),
        ("IPVS_CMD_GET_DEST", Int(IPVSCommand.getDestination.rawValue)),
        ("IPVS_CMD_NEW_DAEMON", Int(IPVSCommand.newDaemon.rawValue)),
        ("IPVS_CMD_DEL_DAEMON", Int(IPVSCommand.deleteDaemon.rawValue)),
        ("IPVS_CMD_GET_DAEMON", Int(IPVSCommand.getDaemon.rawValue)),
        ("IPVS_CMD_SET_CONFIG", Int(IPVSCommand.setConfig.rawValue)),
        ("IPVS_CMD_GET_CONFIG", Int(IPVSCommand.getConfig.rawValue)),
        ("IPVS_CMD_SET_INFO", Int(IPVSCommand.setInfo.rawValue)),
        ("IPVS_CMD_GET_INFO", Int(IPVSCommand.getInfo.rawValue)),
        ("IPVS_CMD_ZERO", Int(IPVSCommand.zero.rawValue)),
        ("IPVS_CMD_FLUSH", Int(IPVSCommand.flush.rawValue)),
        ("IPVS_CMD_ATTR_SERVICE", Int(CommandAttribute.service)),
        ("IPVS_CMD_ATTR_DEST", Int(CommandAttribute.destination)),
        ("IPVS_CMD_ATTR_DAEMON", Int(CommandAttribute.daemon)),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", Int(CommandAttribute.timeoutTCP)),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", Int(CommandAttribute.timeoutTCPFin)),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", Int(CommandAttribute.timeoutUDP)),
        ("IPVS_SVC_ATTR_AF", Int(ServiceAttribute.addressFamily)),
        ("IPVS_SVC_ATTR_PROTOCOL", Int(ServiceAttribute.protocol)),
        ("IPVS_SVC_ATTR_ADDR", Int(ServiceAttribute.address)),
        ("IPVS_SVC_ATTR_PORT", Int(ServiceAttribute.port)),
        ("IPVS_SVC_ATTR_FWMARK", Int(ServiceAttribute.firewallMark)),
        ("IPVS_SVC_ATTR_SCHED_NAME", Int(ServiceAttribute.schedulerName)),
        ("IPVS_SVC_ATTR_FLAGS", Int(ServiceAttribute.flags)),
        ("IPVS_SVC_ATTR_TIMEOUT", Int(ServiceAttribute.timeout)),
        ("IPVS_SVC_ATTR_NETMASK", Int(ServiceAttribute.netmask)),
        ("IPVS_SVC_ATTR_STATS", Int(ServiceAttribute.stats)),
        ("IPVS_SVC_ATTR_PE_NAME", Int(ServiceAttribute.persistenceEngineName)),
        ("IPVS_SVC_ATTR_STATS64", Int(ServiceAttribute.stats64)),
        ("IPVS_DEST_ATTR_ADDR", Int(DestinationAttribute.address)),
        ("IPVS_DEST_ATTR_PORT", Int(DestinationAttribute.port)),
        ("IPVS_DEST_ATTR_FWD_METHOD", Int(DestinationAttribute.forwardingMethod)),
        ("IPVS_DEST_ATTR_WEIGHT", Int(DestinationAttribute.weight)),
        ("IPVS_DEST_ATTR_U_THRESH", Int(DestinationAttribute.upperThreshold)),
        ("IPVS_DEST_ATTR_L_THRESH", Int(DestinationAttribute.lowerThreshold)),
        ("IPVS_DEST_ATTR_ACTIVE_CONNS", Int(DestinationAttribute.activeConnections)),
        ("IPVS_DEST_ATTR_INACT_CONNS", Int(DestinationAttribute.inactiveConnections)),
        ("IPVS_DEST_ATTR_PERSIST_CONNS", Int(DestinationAttribute.persistentConnections)),
        ("IPVS_DEST_ATTR_STATS", Int(DestinationAttribute.stats)),
        ("IPVS_DEST_ATTR_ADDR_FAMILY", Int(DestinationAttribute.addressFamily)),
        ("IPVS_DEST_ATTR_STATS64", Int(DestinationAttribute.stats64)),
        ("IPVS_DEST_ATTR_TUN_TYPE", Int(DestinationAttribute.tunnelType)),
        ("IPVS_DEST_ATTR_TUN_PORT", Int(DestinationAttribute.tunnelPort)),
        ("IPVS_DEST_ATTR_TUN_FLAGS", Int(DestinationAttribute.tunnelFlags)),
        ("IPVS_DAEMON_ATTR_STATE", Int(DaemonAttribute.state)),
        ("IPVS_DAEMON_ATTR_MCAST_IFN", Int(DaemonAttribute.multicastInterface)),
        ("IPVS_DAEMON_ATTR_SYNC_ID", Int(DaemonAttribute.syncID)),
        ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", Int(DaemonAttribute.syncMaxLength)),
        ("IPVS_DAEMON_ATTR_MCAST_GROUP", Int(DaemonAttribute.multicastGroup)),
        ("IPVS_DAEMON_ATTR_MCAST_GROUP6", Int(DaemonAttribute.multicastGroup6)),
        ("IPVS_DAEMON_ATTR_MCAST_PORT", Int(DaemonAttribute.multicastPort)),
        ("IPVS_DAEMON_ATTR_MCAST_TTL", Int(DaemonAttribute.multicastTTL)),
        ("IPVS_STATS_ATTR_CONNS", Int(StatsAttribute.connections)),
        ("IPVS_STATS_ATTR_INPKTS", Int(StatsAttribute.inPackets)),
        ("IPVS_STATS_ATTR_OUTPKTS", Int(StatsAttribute.outPackets)),
        ("IPVS_STATS_ATTR_INBYTES", Int(StatsAttribute.inBytes)),
        ("IPVS_STATS_ATTR_OUTBYTES", Int(StatsAttribute.outBytes)),
        ("IPVS_STATS_ATTR_CPS", Int(StatsAttribute.connectionRate)),
        ("IPVS_STATS_ATTR_INPPS", Int(StatsAttribute.inPacketRate)),
        ("IPVS_STATS_ATTR_OUTPPS", Int(StatsAttribute.outPacketRate)),
        ("IPVS_STATS_ATTR_INBPS", Int(StatsAttribute.inByteRate)),
        ("IPVS_STATS_ATTR_OUTBPS", Int(StatsAttribute.outByteRate)),
        ("IPVS_STATS_ATTR_PAD", Int(StatsAttribute.pad)),
        ("IPVS_INFO_ATTR_VERSION", Int(InfoAttribute.version)),
        ("IPVS_INFO_ATTR_CONN_TAB_SIZE", Int(InfoAttribute.connectionTableSize)),
    ]

    @Test func numbersMatchTheKernelHeader() {
        let header = headerEnumerators()
        for (name, value) in Self.expected {
            #expect(header[name] == value, "\(name)")
        }
    }
}
