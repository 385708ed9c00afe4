import IPVS

/// ipvsadm's commands (its `CMD_*`), then ours.
enum Command: Int, CaseIterable, Sendable {
    case add, edit, delete, flush, list, addDest, deleteDest, editDest
    case timeout, startDaemon, stopDaemon, restore, save, zero
    // Ours, after ipvsadm's.
    case apply
    case doctor
    case sysctl

    /// The name ipvsadm's messages use (`cmdnames[]`).
    var name: String {
        switch self {
        case .add: "add-service"
        case .edit: "edit-service"
        case .delete: "delete-service"
        case .flush: "flush"
        case .list: "list"
        case .addDest: "add-server"
        case .deleteDest: "delete-server"
        case .editDest: "edit-server"
        case .timeout: "set"
        case .startDaemon: "start-daemon"
        case .stopDaemon: "stop-daemon"
        case .restore: "restore"
        case .save: "save"
        case .zero: "zero"
        case .apply: "apply"
        case .doctor: "doctor"
        case .sysctl: "sysctl"
        }
    }

    /// The command's row of ipvsadm's command/option matrix (`commands_v_options`), and of
    /// our columns: the options it requires, those it takes at most one of, and those it
    /// takes; every other option is illegal with it.
    private var declaredRule: OptionRule {
        switch self {
        case .add:
            OptionRule(
                required: [.service],
                allowed: [.scheduler, .persistent, .netmask, .onePacket, .persistenceEngine, .schedFlags, .check])
        case .edit:
            OptionRule(
                required: [.service],
                allowed: [.scheduler, .persistent, .netmask, .onePacket, .persistenceEngine, .schedFlags])
        case .delete:
            OptionRule(required: [.service])
        case .list:
            OptionRule(
                oneOf: [.connection, .service, .timeout, .daemon],
                allowed: [
                    .numeric, .stats, .rate, .thresholds, .persistentConn, .nosort, .syncID, .exact, .tunInfo,
                    .json, .metrics, .scope, .owner, .health, .watch,
                    .connService, .connServer, .connState, .connClient, .connSummary,
                ])
        case .addDest:
            OptionRule(
                required: [.service, .server],
                allowed: [
                    .forward, .weight, .uThreshold, .lThreshold, .tunType, .tunPort, .tunNoCsum, .tunCsum,
                    .tunRemCsum, .check,
                ])
        case .editDest:
            OptionRule(
                required: [.service, .server],
                allowed: [
                    .forward, .weight, .uThreshold, .lThreshold, .tunType, .tunPort, .tunNoCsum, .tunCsum,
                    .tunRemCsum,
                ])
        case .deleteDest:
            OptionRule(required: [.service, .server], allowed: [.drain])
        case .startDaemon:
            OptionRule(allowed: [.mcastInterface, .syncID, .mcastGroup, .mcastPort, .mcastTTL, .syncMaxLen])
        case .stopDaemon:
            OptionRule(allowed: [.syncID])
        case .save:
            OptionRule(allowed: [.numeric, .complete, .scope, .owner, .checksFrom])
        case .zero:
            OptionRule(allowed: [.service])
        case .apply:
            OptionRule(allowed: [.dryRun, .drain, .scope, .owner, .allowEmpty, .lockWait])
        case .restore:
            OptionRule(allowed: [.lockWait])
        case .doctor:
            OptionRule(allowed: [.json, .rules, .vip, .director, .client, .forward, .server])
        case .sysctl:
            OptionRule(allowed: [.json])
        case .flush, .timeout:
            OptionRule()
        }
    }

    /// The command's matrix row, with the options every command takes.
    var rule: OptionRule { Command.rules[rawValue] }

    /// `declaredRule` of every command, by raw value: derived once, so that the check of a
    /// line (`-R`: every line) is one array read and three masks.
    private static let rules = Command.allCases.map { $0.declaredRule.adding(OptionBit.takenByEveryCommand) }
}

/// The option bits the matrix checks (ipvsadm's `OPT_*`), then ours: the raw value is the
/// bit number, and the declaration order is the order in which the matrix is checked (the
/// first error in this order is the one reported).
enum OptionBit: Int, CaseIterable, Sendable {
    case numeric, connection, service, scheduler, persistent, netmask, server, forward
    case weight, uThreshold, lThreshold, mcastInterface, timeout, daemon, stats, rate
    case thresholds, persistentConn, nosort, syncID, exact, onePacket, persistenceEngine
    case schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxLen, tunInfo, tunType
    case tunPort, tunNoCsum, tunCsum, tunRemCsum
    // Ours, after ipvsadm's: new long options only.
    case complete, dryRun, drain, json, metrics, netns, scope, owner, allowEmpty, lockWait, check, health, checksFrom
    case watch
    case rules, vip, director, client
    case connService, connServer, connState, connClient, connSummary

    /// The name ipvsadm's messages use (`optnames[]`), and ours.
    var name: String {
        switch self {
        case .numeric: "numeric"
        case .connection: "connection"
        case .service: "service-address"
        case .scheduler: "scheduler"
        case .persistent: "persistent"
        case .netmask: "netmask"
        case .server: "real-server"
        case .forward: "forwarding-method"
        case .weight: "weight"
        case .uThreshold: "u-threshold"
        case .lThreshold: "l-threshold"
        case .mcastInterface: "mcast-interface"
        case .timeout: "timeout"
        case .daemon: "daemon"
        case .stats: "stats"
        case .rate: "rate"
        case .thresholds: "thresholds"
        case .persistentConn: "persistent-conn"
        case .nosort: "nosort"
        case .syncID: "syncid"
        case .exact: "exact"
        case .onePacket: "ops"
        case .persistenceEngine: "pe"
        case .schedFlags: "sched-flags"
        case .mcastGroup: "mcast-group"
        case .mcastPort: "mcast-port"
        case .mcastTTL: "mcast-ttl"
        case .syncMaxLen: "sync-maxlen"
        case .tunInfo: "tun-info"
        case .tunType: "tun-type"
        case .tunPort: "tun-port"
        case .tunNoCsum: "tun-nocsum"
        case .tunCsum: "tun-csum"
        case .tunRemCsum: "tun-remcsum"
        case .complete: "complete"
        case .dryRun: "dry-run"
        case .drain: "drain"
        case .json: "json"
        case .metrics: "metrics"
        case .netns: "netns"
        case .scope: "scope"
        case .owner: "owner"
        case .allowEmpty: "allow-empty"
        case .lockWait: "lock-wait"
        case .check: "check"
        case .health: "health"
        case .checksFrom: "checks-from"
        case .watch: "watch"
        case .rules: "rules"
        case .vip: "vip"
        case .director: "director"
        case .client: "client"
        case .connService: "conn-service"
        case .connServer: "conn-server"
        case .connState: "conn-state"
        case .connClient: "conn-client"
        case .connSummary: "conn-summary"
        }
    }

    /// Every column, in order (`allCases` makes a new array at every use).
    static let columns = OptionBit.allCases

    /// Ours: what every command takes (`--netns` chooses the kernel the command talks to).
    static let takenByEveryCommand: OptionSet64 = [.netns]

    /// Ours: `-Lc`'s filters and summary.
    static let connectionViews: OptionSet64 = [.connService, .connServer, .connState, .connClient, .connSummary]
}

/// A set of option bits.
struct OptionSet64: Sendable, Equatable, ExpressibleByArrayLiteral {
    var bits: UInt64 = 0
    func contains(_ option: OptionBit) -> Bool { bits & (1 << UInt64(option.rawValue)) != 0 }
    mutating func insert(_ option: OptionBit) { bits |= 1 << UInt64(option.rawValue) }
    func containsAny(_ options: OptionSet64) -> Bool { bits & options.bits != 0 }
    func union(_ other: OptionSet64) -> OptionSet64 { OptionSet64(bits: bits | other.bits) }

    init(bits: UInt64 = 0) { self.bits = bits }
    init(_ options: [OptionBit]) { for option in options { insert(option) } }
    init(arrayLiteral options: OptionBit...) { self.init(options) }

    /// The tunnel options and `--tun-type`: what only a tunnelled real server takes.
    static let tunnelOptionsAndType = tunnelOptions.union([.tunType])
    /// The options `tunnel_types_v_options` checks.
    static let tunnelOptions: OptionSet64 = [.tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]
}

/// One row of an ipvsadm matrix (`commands_v_options`, `tunnel_types_v_options`), by option:
/// of the options the matrix checks, those required (ipvsadm's `+`), those of which at most
/// one may be given (`1`), and those allowed (space); every other one is illegal (`x`). A row
/// names only the options it takes, so an option added to the grammar is illegal everywhere
/// until a row names it.
struct OptionRule: Sendable {
    let required: OptionSet64
    let oneOf: OptionSet64
    let allowed: OptionSet64
    /// The options the matrix checks that the row does not name.
    let illegal: OptionSet64

    /// A row of a matrix that checks `checked` (every option, for the command matrix).
    init(
        checking checked: OptionSet64 = OptionSet64(bits: ~0), required: OptionSet64 = [],
        oneOf: OptionSet64 = [], allowed: OptionSet64 = []
    ) {
        self.required = required
        self.oneOf = oneOf
        self.allowed = allowed
        illegal = OptionSet64(bits: checked.bits & ~(required.bits | oneOf.bits | allowed.bits))
    }

    /// The same row, taking `options` too.
    func adding(_ options: OptionSet64) -> OptionRule {
        OptionRule(
            checking: OptionSet64(bits: illegal.bits | required.bits | oneOf.bits | allowed.bits),
            required: required, oneOf: oneOf, allowed: allowed.union(options))
    }

    /// ipvsadm's matrix rule (`generic_opt_check`): in column order, the first option that is
    /// required and missing, illegal and given, or a second given of the `oneOf` ones, is the
    /// error. (The subject is only written for an error.)
    func check(_ options: OptionSet64, subject: @autoclosure () -> String) throws(Termination) {
        // Hot path (every line of -R): three masks say whether there is any error at all;
        // only then are the columns walked in order to find the one ipvsadm reports.
        let given = options.bits
        if required.bits & ~given == 0 && illegal.bits & given == 0 && (oneOf.bits & given).nonzeroBitCount <= 1 {
            return
        }
        var firstOfOne: OptionBit?
        for option in OptionBit.columns {
            if !options.contains(option) {
                if required.contains(option) {
                    throw .fail("You need to supply the '\(option.name)' option for the \(subject())")
                }
                continue
            }
            if illegal.contains(option) { throw .fail("Illegal '\(option.name)' option with the \(subject())") }
            if oneOf.contains(option) {
                if let first = firstOfOne {
                    throw .fail(
                        "The option '\(option.name)' conflicts with the '\(first.name)' option in the \(subject())")
                }
                firstOfOne = option
            }
        }
    }
}

/// What each tunnel type `--tun-type` names requires of the tunnel options
/// (`tunnel_types_v_options`); the names are `TunnelType.name`.
enum TunnelTypes {
    static let rows: [(type: TunnelType, rule: OptionRule)] = [
        (.ipip, OptionRule(checking: OptionSet64.tunnelOptions)),
        (.gue, OptionRule(
            checking: OptionSet64.tunnelOptions, required: [.tunPort], oneOf: [.tunNoCsum, .tunCsum, .tunRemCsum])),
        (.gre, OptionRule(checking: OptionSet64.tunnelOptions, oneOf: [.tunNoCsum, .tunCsum])),
    ]

    /// The type `--tun-type` names.
    static func type(named name: String) -> TunnelType? {
        rows.first { $0.type.name == name }?.type
    }

    /// The rule of a tunnel type, nil for a type ipvsadm does not check.
    static func rule(of type: TunnelType) -> OptionRule? {
        let index = Int(type.rawValue)
        return index < rules.count ? rules[index] : nil
    }

    /// The rules by raw value, derived once: each `-a` line finds its rule with one array read.
    private static let rules: [OptionRule?] = {
        var table = [OptionRule?](repeating: nil, count: Int(rows.map(\.type.rawValue).max() ?? 0) + 1)
        for row in rows { table[Int(row.type.rawValue)] = row.rule }
        return table
    }()
}
