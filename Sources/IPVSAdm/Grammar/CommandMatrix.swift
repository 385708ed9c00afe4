/// ipvsadm's commands, in the order of its command/option matrix.
enum Command: Int, CaseIterable, Sendable {
    case add, edit, delete, flush, list, addDest, deleteDest, editDest
    case timeout, startDaemon, stopDaemon, restore, save, zero

    /// The name used in error messages (`cmdnames[]`).
    var name: String {
        switch self {
        case .add: return "add-service"
        case .edit: return "edit-service"
        case .delete: return "delete-service"
        case .flush: return "flush"
        case .list: return "list"
        case .addDest: return "add-server"
        case .deleteDest: return "delete-server"
        case .editDest: return "edit-server"
        case .timeout: return "set"
        case .startDaemon: return "start-daemon"
        case .stopDaemon: return "stop-daemon"
        case .restore: return "restore"
        case .save: return "save"
        case .zero: return "zero"
        }
    }
}

/// The option bits the matrix checks, with the names used in error messages.
/// The raw value is the bit number and the matrix column.
enum OptionBit: Int, CaseIterable, Sendable {
    case numeric, connection, service, scheduler, persistent, netmask, server, forward
    case weight, uThreshold, lThreshold, mcastInterface, timeout, daemon, stats, rate
    case thresholds, persistentConn, nosort, syncID, exact, onePacket, persistenceEngine
    case schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxLen, tunInfo, tunType
    case tunPort, tunNoCsum, tunCsum, tunRemCsum

    var name: String {
        switch self {
        case .numeric: return "numeric"
        case .connection: return "connection"
        case .service: return "service-address"
        case .scheduler: return "scheduler"
        case .persistent: return "persistent"
        case .netmask: return "netmask"
        case .server: return "real-server"
        case .forward: return "forwarding-method"
        case .weight: return "weight"
        case .uThreshold: return "u-threshold"
        case .lThreshold: return "l-threshold"
        case .mcastInterface: return "mcast-interface"
        case .timeout: return "timeout"
        case .daemon: return "daemon"
        case .stats: return "stats"
        case .rate: return "rate"
        case .thresholds: return "thresholds"
        case .persistentConn: return "persistent-conn"
        case .nosort: return "nosort"
        case .syncID: return "syncid"
        case .exact: return "exact"
        case .onePacket: return "ops"
        case .persistenceEngine: return "pe"
        case .schedFlags: return "sched-flags"
        case .mcastGroup: return "mcast-group"
        case .mcastPort: return "mcast-port"
        case .mcastTTL: return "mcast-ttl"
        case .syncMaxLen: return "sync-maxlen"
        case .tunInfo: return "tun-info"
        case .tunType: return "tun-type"
        case .tunPort: return "tun-port"
        case .tunNoCsum: return "tun-nocsum"
        case .tunCsum: return "tun-csum"
        case .tunRemCsum: return "tun-remcsum"
        }
    }
}

/// A set of option bits.
struct OptionSet64: Sendable, Equatable {
    var bits: UInt64 = 0
    func contains(_ option: OptionBit) -> Bool { bits & (1 << UInt64(option.rawValue)) != 0 }
    mutating func insert(_ option: OptionBit) { bits |= 1 << UInt64(option.rawValue) }
    func containsAny(_ options: [OptionBit]) -> Bool { options.contains { contains($0) } }
}

/// ipvsadm's `commands_v_options`: one row per command, one column per `OptionBit`.
/// `+` compulsory, `x` illegal, `1` at most one of the `1` options, space optional.
/// Indexed by `Command.rawValue`; cells are ASCII bytes (cheap to build at start-up).
let commandMatrix: [[UInt8]] = {
    let rows: [(Command, String)] = [
        (.add,         "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx"),
        (.edit,        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx"),
        (.delete,      "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.flush,       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.list,        " 11xxxxxxxxx11       xxxxxxx xxxxx"),
        (.addDest,     "xx+xxx+    xxxxxxxxxxxxxxxxxx     "),
        (.deleteDest,  "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.editDest,    "xx+xxx+    xxxxxxxxxxxxxxxxxx     "),
        (.timeout,     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.startDaemon, "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx"),
        (.stopDaemon,  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx"),
        (.restore,     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.save,        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.zero,        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ]
    var matrix = [[UInt8]](repeating: [], count: Command.allCases.count)
    for (command, row) in rows {
        precondition(row.utf8.count == OptionBit.allCases.count, "matrix row for \(command) has \(row.utf8.count) columns")
        matrix[command.rawValue] = Array(row.utf8)
    }
    return matrix
}()

/// Tunnel options checked per tunnel type (`tunnel_types_v_options`): columns tun-port,
/// tun-nocsum, tun-csum, tun-remcsum; rows ipip, gue, gre.
let tunnelOptionColumns: [OptionBit] = [.tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]
let tunnelMatrix: [[UInt8]] = [Array("xxxx".utf8), Array("+111".utf8), Array("x11x".utf8)]
let tunnelTypeNames = ["ipip", "gue", "gre"]
