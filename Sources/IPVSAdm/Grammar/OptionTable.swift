/// Every option ipvsadm's popt table knows, commands included, in table order.
///
/// The table is data: the tokenizer looks options up here by long name or short letter,
/// and the parser switches over `OptionName`.
enum OptionName: CaseIterable, Sendable {
    // Commands.
    case addService, editService, deleteService, clear, list, listLower, zero
    case addServer, editServer, deleteServer, set, help, version, restore, save
    case startDaemon, stopDaemon
    // Options.
    case tcpService, udpService, sctpService, fwmarkService, scheduler, persistent, netmask
    case realServer, masquerading, ipip, gatewaying, weight, uThreshold, lThreshold
    case numeric, connection, mcastInterface, syncID, timeout, daemon, stats, rate
    case thresholds, persistentConn, nosort, sort, exact, ipv6, ops, pe, schedFlags
    case mcastGroup, mcastPort, mcastTTL, syncMaxLen, tunInfo, tunType, tunPort
    case tunNoCsum, tunCsum, tunRemCsum
}

/// Whether an option takes an argument, popt style.
enum ArgumentKind: Sendable {
    case none
    case required
    /// Taken from the same word (`-p600`, `--persistent=600`) or from the next word
    /// unless that word is missing or starts with `-`.
    case optional
}

/// One row of the popt option table.
struct OptionSpec: Sendable {
    let name: OptionName
    let long: String?
    let short: Character?
    let argument: ArgumentKind
}

/// ipvsadm 1.31's option table (long name, short letter, argument), in its order.
let optionTable: [OptionSpec] = [
    OptionSpec(name: .addService, long: "add-service", short: "A", argument: .none),
    OptionSpec(name: .editService, long: "edit-service", short: "E", argument: .none),
    OptionSpec(name: .deleteService, long: "delete-service", short: "D", argument: .none),
    OptionSpec(name: .clear, long: "clear", short: "C", argument: .none),
    OptionSpec(name: .list, long: "list", short: "L", argument: .none),
    OptionSpec(name: .listLower, long: "list", short: "l", argument: .none),
    OptionSpec(name: .zero, long: "zero", short: "Z", argument: .none),
    OptionSpec(name: .addServer, long: "add-server", short: "a", argument: .none),
    OptionSpec(name: .editServer, long: "edit-server", short: "e", argument: .none),
    OptionSpec(name: .deleteServer, long: "delete-server", short: "d", argument: .none),
    OptionSpec(name: .set, long: "set", short: nil, argument: .none),
    OptionSpec(name: .help, long: "help", short: "h", argument: .none),
    OptionSpec(name: .version, long: "version", short: "v", argument: .none),
    OptionSpec(name: .restore, long: "restore", short: "R", argument: .none),
    OptionSpec(name: .save, long: "save", short: "S", argument: .none),
    OptionSpec(name: .startDaemon, long: "start-daemon", short: nil, argument: .required),
    OptionSpec(name: .stopDaemon, long: "stop-daemon", short: nil, argument: .required),
    OptionSpec(name: .tcpService, long: "tcp-service", short: "t", argument: .required),
    OptionSpec(name: .udpService, long: "udp-service", short: "u", argument: .required),
    OptionSpec(name: .sctpService, long: "sctp-service", short: nil, argument: .required),
    OptionSpec(name: .fwmarkService, long: "fwmark-service", short: "f", argument: .required),
    OptionSpec(name: .scheduler, long: "scheduler", short: "s", argument: .required),
    OptionSpec(name: .persistent, long: "persistent", short: "p", argument: .optional),
    OptionSpec(name: .netmask, long: "netmask", short: "M", argument: .required),
    OptionSpec(name: .realServer, long: "real-server", short: "r", argument: .required),
    OptionSpec(name: .masquerading, long: "masquerading", short: "m", argument: .none),
    OptionSpec(name: .ipip, long: "ipip", short: "i", argument: .none),
    OptionSpec(name: .gatewaying, long: "gatewaying", short: "g", argument: .none),
    OptionSpec(name: .weight, long: "weight", short: "w", argument: .required),
    OptionSpec(name: .uThreshold, long: "u-threshold", short: "x", argument: .required),
    OptionSpec(name: .lThreshold, long: "l-threshold", short: "y", argument: .required),
    OptionSpec(name: .numeric, long: "numeric", short: "n", argument: .none),
    OptionSpec(name: .connection, long: "connection", short: "c", argument: .none),
    OptionSpec(name: .mcastInterface, long: "mcast-interface", short: nil, argument: .required),
    OptionSpec(name: .syncID, long: "syncid", short: nil, argument: .required),
    OptionSpec(name: .timeout, long: "timeout", short: nil, argument: .none),
    OptionSpec(name: .daemon, long: "daemon", short: nil, argument: .none),
    OptionSpec(name: .stats, long: "stats", short: nil, argument: .none),
    OptionSpec(name: .rate, long: "rate", short: nil, argument: .none),
    OptionSpec(name: .thresholds, long: "thresholds", short: nil, argument: .none),
    OptionSpec(name: .persistentConn, long: "persistent-conn", short: nil, argument: .none),
    OptionSpec(name: .nosort, long: "nosort", short: nil, argument: .none),
    OptionSpec(name: .sort, long: "sort", short: nil, argument: .none),
    OptionSpec(name: .exact, long: "exact", short: "X", argument: .none),
    OptionSpec(name: .ipv6, long: "ipv6", short: "6", argument: .none),
    OptionSpec(name: .ops, long: "ops", short: "o", argument: .none),
    OptionSpec(name: .pe, long: "pe", short: nil, argument: .required),
    OptionSpec(name: .schedFlags, long: "sched-flags", short: "b", argument: .required),
    OptionSpec(name: .mcastGroup, long: "mcast-group", short: nil, argument: .required),
    OptionSpec(name: .mcastPort, long: "mcast-port", short: nil, argument: .required),
    OptionSpec(name: .mcastTTL, long: "mcast-ttl", short: nil, argument: .required),
    OptionSpec(name: .syncMaxLen, long: "sync-maxlen", short: nil, argument: .required),
    OptionSpec(name: .tunInfo, long: "tun-info", short: nil, argument: .none),
    OptionSpec(name: .tunType, long: "tun-type", short: nil, argument: .required),
    OptionSpec(name: .tunPort, long: "tun-port", short: nil, argument: .required),
    OptionSpec(name: .tunNoCsum, long: "tun-nocsum", short: nil, argument: .none),
    OptionSpec(name: .tunCsum, long: "tun-csum", short: nil, argument: .none),
    OptionSpec(name: .tunRemCsum, long: "tun-remcsum", short: nil, argument: .none),
]
