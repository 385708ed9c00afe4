/// ipvsadm's commands, in the order of its command/option matrix (its `CMD_*`).
enum Command: Int, CaseIterable, Sendable {
    case add, edit, delete, flush, list, addDest, deleteDest, editDest
    case timeout, startDaemon, stopDaemon, restore, save, zero
    // Ours, after ipvsadm's.
    case apply

    /// The name ipvsadm's messages use (`cmdnames[]`).
    var name: String { Command.names[rawValue] }

    private static let names = [
        "add-service", "edit-service", "delete-service", "flush", "list", "add-server", "delete-server",
        "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero",
        "apply",
    ]
}

/// The option bits the matrix checks (ipvsadm's `OPT_*`), in its column order: the raw value
/// is the bit number and the matrix column.
enum OptionBit: Int, CaseIterable, Sendable {
    case numeric, connection, service, scheduler, persistent, netmask, server, forward
    case weight, uThreshold, lThreshold, mcastInterface, timeout, daemon, stats, rate
    case thresholds, persistentConn, nosort, syncID, exact, onePacket, persistenceEngine
    case schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxLen, tunInfo, tunType
    case tunPort, tunNoCsum, tunCsum, tunRemCsum
    // Ours, after ipvsadm's: new long options only.
    case complete, dryRun, drain, json, metrics, netns

    /// The name ipvsadm's messages use (`optnames[]`), and ours.
    var name: String { OptionBit.names[rawValue] }

    /// Every column, in order (`allCases` makes a new array at every use).
    static let columns = OptionBit.allCases

    private static let names = [
        "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
        "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon", "stats",
        "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe", "sched-flags",
        "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type", "tun-port", "tun-nocsum",
        "tun-csum", "tun-remcsum",
        "complete", "dry-run", "drain", "json", "metrics", "netns",
    ]
}

/// A set of option bits.
struct OptionSet64: Sendable, Equatable {
    var bits: UInt64 = 0
    func contains(_ option: OptionBit) -> Bool { bits & (1 << UInt64(option.rawValue)) != 0 }
    mutating func insert(_ option: OptionBit) { bits |= 1 << UInt64(option.rawValue) }
    func containsAny(_ options: [OptionBit]) -> Bool { options.contains { contains($0) } }
    func containsAny(_ options: OptionSet64) -> Bool { bits & options.bits != 0 }

    init(bits: UInt64 = 0) { self.bits = bits }
    init(_ options: [OptionBit]) { for option in options { insert(option) } }

    /// The tunnel options and `--tun-type`: what only a tunnelled real server takes.
    static let tunnelOptionsAndType = OptionSet64(tunnelOptionColumns + [.tunType])
}

/// ipvsadm's `commands_v_options`, then our columns: one row per command, one column per
/// `OptionBit`. `+` compulsory, `x` illegal, `1` at most one of the `1` options, space
/// optional. Indexed by `Command.rawValue`; cells are ASCII bytes (cheap to build at start-up).
let commandMatrix: [[UInt8]] = {
    let rows: [(Command, ipvsadm: String, ours: String)] = [
        (.add,         "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", "xxxxx "),
        (.edit,        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", "xxxxx "),
        (.delete,      "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxx "),
        (.flush,       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxx "),
        (.list,        " 11xxxxxxxxx11       xxxxxxx xxxxx", "xxx   "),
        (.addDest,     "xx+xxx+    xxxxxxxxxxxxxxxxxx     ", "xxxxx "),
        (.deleteDest,  "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", "xx xx "),
        (.editDest,    "xx+xxx+    xxxxxxxxxxxxxxxxxx     ", "xxxxx "),
        (.timeout,     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxx "),
        (.startDaemon, "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", "xxxxx "),
        (.stopDaemon,  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", "xxxxx "),
        (.restore,     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxx "),
        (.save,        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", " xxxx "),
        (.zero,        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxx "),
        (.apply,       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "x  xx "),
    ]
    var matrix = [[UInt8]](repeating: [], count: Command.allCases.count)
    for (command, ipvsadm, ours) in rows {
        let row = Array(ipvsadm.utf8) + Array(ours.utf8)
        precondition(row.count == OptionBit.allCases.count, "matrix row for \(command) has \(row.count) columns")
        matrix[command.rawValue] = row
    }
    return matrix
}()

/// Tunnel options checked per tunnel type (`tunnel_types_v_options`): columns tun-port,
/// tun-nocsum, tun-csum, tun-remcsum; rows ipip, gue, gre.
let tunnelOptionColumns: [OptionBit] = [.tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]
let tunnelMatrix: [[UInt8]] = [Array("xxxx".utf8), Array("+111".utf8), Array("x11x".utf8)]
let tunnelTypeNames = ["ipip", "gue", "gre"]
