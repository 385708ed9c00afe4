import IPVS

/// Whether an option takes an argument, popt style.
enum ArgumentKind: Sendable {
    case none
    case required
    /// Taken from the same word (`-p600`, `--persistent=600`) or from the next word
    /// unless that word is missing or starts with `-`.
    case optional
}

/// One option of the table: how it is spelled, whether it takes an argument, and what it
/// means. Adding an option is a row here (its spellings, its matrix column, its meaning), its
/// column as a case of `OptionBit` with its name, and its name in the matrix rows of the
/// commands that take it (`Command.declaredRule`).
struct OptionSpec: Sendable {
    /// What an option does to the command line being parsed, given its argument (nil when
    /// an optional argument was not given).
    typealias Meaning = @Sendable (inout CommandEntry, String?, Parser) throws(Termination) -> Void

    enum Role: Sendable {
        /// The first option of a line: the command.
        case command(Command)
        /// `--start-daemon` / `--stop-daemon`: a command whose argument is the daemon's state.
        case daemonCommand(Command)
        case help
        case version
        /// An option. `column` is its column in the command/option matrix (and the name its
        /// errors use); nil for `-6` and `--sort`, which ipvsadm's matrix does not check.
        case option(column: OptionBit?, meaning: Meaning)
    }

    let long: String?
    let short: Character?
    let argument: ArgumentKind
    let role: Role

    init(_ long: String?, _ short: Character?, _ argument: ArgumentKind, _ role: Role) {
        self.long = long
        self.short = short
        self.argument = argument
        self.role = role
    }

    /// An option with a matrix column and what it sets.
    init(
        _ long: String?, _ short: Character?, _ argument: ArgumentKind = .none, column: OptionBit?,
        _ meaning: @escaping Meaning = { _, _, _ in }
    ) {
        self.init(long, short, argument, .option(column: column, meaning: meaning))
    }
}

/// ipvsadm 1.31's option table (long name, short letter, argument), in its order: the
/// tokenizer finds options here by long name or letter, the parser does what the row says.
let optionTable: [OptionSpec] = [
    OptionSpec("add-service", "A", .none, .command(.add)),
    OptionSpec("edit-service", "E", .none, .command(.edit)),
    OptionSpec("delete-service", "D", .none, .command(.delete)),
    OptionSpec("clear", "C", .none, .command(.flush)),
    OptionSpec("list", "L", .none, .command(.list)),
    OptionSpec("list", "l", .none, .command(.list)),
    OptionSpec("zero", "Z", .none, .command(.zero)),
    OptionSpec("add-server", "a", .none, .command(.addDest)),
    OptionSpec("edit-server", "e", .none, .command(.editDest)),
    OptionSpec("delete-server", "d", .none, .command(.deleteDest)),
    OptionSpec("set", nil, .none, .command(.timeout)),
    OptionSpec("help", "h", .none, .help),
    OptionSpec("version", "v", .none, .version),
    OptionSpec("restore", "R", .none, .command(.restore)),
    OptionSpec("save", "S", .none, .command(.save)),
    OptionSpec("start-daemon", nil, .required, .daemonCommand(.startDaemon)),
    OptionSpec("stop-daemon", nil, .required, .daemonCommand(.stopDaemon)),
    OptionSpec("tcp-service", "t", .required, column: .service) { entry, value, parser throws(Termination) in
        try parser.setServiceAddress(value ?? "", protocol: .tcp, in: &entry)
    },
    OptionSpec("udp-service", "u", .required, column: .service) { entry, value, parser throws(Termination) in
        try parser.setServiceAddress(value ?? "", protocol: .udp, in: &entry)
    },
    OptionSpec("sctp-service", nil, .required, column: .service) { entry, value, parser throws(Termination) in
        try parser.setServiceAddress(value ?? "", protocol: .sctp, in: &entry)
    },
    OptionSpec("fwmark-service", "f", .required, column: .service) { entry, value, _ throws(Termination) in
        entry.service.family = .inet
        entry.service.protocolNumber = .tcp
        entry.service.fwmark = try Parser.fwmark(value ?? "")
    },
    OptionSpec("scheduler", "s", .required, column: .scheduler) { entry, value, _ in
        entry.service.scheduler = Parser.truncated(value ?? "", 15)
    },
    OptionSpec("persistent", "p", .optional, column: .persistent) { entry, value, _ throws(Termination) in
        entry.service.flags.insert(.persistent)
        entry.service.timeout = try value.map { (text) throws(Termination) in try Parser.timeout(text, minimum: 1) }
            ?? Parser.defaultPersistence
    },
    OptionSpec("netmask", "M", .required, column: .netmask) { entry, value, parser throws(Termination) in
        try parser.setNetmask(value ?? "", in: &entry)
    },
    OptionSpec("real-server", "r", .required, column: .server) { entry, value, parser throws(Termination) in
        try parser.setRealServer(value ?? "", in: &entry)
    },
    OptionSpec("masquerading", "m", column: .forward) { entry, _, _ in entry.destination.forwarding = .masquerading },
    OptionSpec("ipip", "i", column: .forward) { entry, _, _ in entry.destination.forwarding = .tunnel },
    OptionSpec("gatewaying", "g", column: .forward) { entry, _, _ in entry.destination.forwarding = .directRouting },
    OptionSpec("weight", "w", .required, column: .weight) { entry, value, _ throws(Termination) in
        entry.destination.weight = Int32(try Parser.number(value, 0...Int(Int32.max), orFail: "illegal weight specified"))
    },
    OptionSpec("u-threshold", "x", .required, column: .uThreshold) { entry, value, _ throws(Termination) in
        entry.destination.upperThreshold =
            UInt32(try Parser.number(value, 0...Int(Int32.max), orFail: "illegal u_threshold specified"))
    },
    OptionSpec("l-threshold", "y", .required, column: .lThreshold) { entry, value, _ throws(Termination) in
        entry.destination.lowerThreshold =
            UInt32(try Parser.number(value, 0...Int(Int32.max), orFail: "illegal l_threshold specified"))
    },
    OptionSpec("numeric", "n", column: .numeric) { entry, _, _ in entry.format.numeric = true },
    OptionSpec("connection", "c", column: .connection),
    OptionSpec("mcast-interface", nil, .required, column: .mcastInterface) { entry, value, _ in
        entry.daemon.interface = Parser.truncated(value ?? "", 15)
    },
    OptionSpec("syncid", nil, .required, column: .syncID) { entry, value, _ throws(Termination) in
        entry.daemon.syncID = UInt32(try Parser.number(value, 0...255, orFail: "illegal syncid specified"))
    },
    OptionSpec("timeout", nil, column: .timeout),
    OptionSpec("daemon", nil, column: .daemon),
    OptionSpec("stats", nil, column: .stats) { entry, _, _ in entry.format.stats = true },
    OptionSpec("rate", nil, column: .rate) { entry, _, _ in entry.format.rate = true },
    OptionSpec("thresholds", nil, column: .thresholds) { entry, _, _ in entry.format.thresholds = true },
    OptionSpec("persistent-conn", nil, column: .persistentConn) { entry, _, _ in entry.format.persistentConn = true },
    OptionSpec("nosort", nil, column: .nosort) { entry, _, _ in entry.format.noSort = true },
    OptionSpec("sort", nil, column: nil),
    OptionSpec("exact", "X", column: .exact) { entry, _, _ in entry.format.exact = true },
    OptionSpec("ipv6", "6", column: nil) { entry, _, _ throws(Termination) in
        guard entry.service.fwmark != 0 else { throw .fail("-6 used before -f\n") }
        entry.service.family = .inet6
        entry.service.netmask = 128
    },
    OptionSpec("ops", "o", column: .onePacket) { entry, _, _ in entry.service.flags.insert(.onePacket) },
    OptionSpec("pe", nil, .required, column: .persistenceEngine) { entry, value, _ in
        entry.service.persistenceEngine = Parser.truncated(value ?? "", 16)
    },
    OptionSpec("sched-flags", "b", .required, column: .schedFlags) { entry, value, _ in
        entry.schedulerFlags = Parser.truncated(value ?? "", 127)
    },
    OptionSpec("mcast-group", nil, .required, column: .mcastGroup) { entry, value, _ throws(Termination) in
        entry.daemon.group = try Parser.multicastGroup(value ?? "")
    },
    OptionSpec("mcast-port", nil, .required, column: .mcastPort) { entry, value, _ throws(Termination) in
        entry.daemon.port = UInt16(try Parser.number(value, 1...65535, orFail: "illegal mcast-port specified"))
    },
    OptionSpec("mcast-ttl", nil, .required, column: .mcastTTL) { entry, value, _ throws(Termination) in
        entry.daemon.ttl = UInt8(try Parser.number(value, 1...255, orFail: "illegal mcast-ttl specified"))
    },
    OptionSpec("sync-maxlen", nil, .required, column: .syncMaxLen) { entry, value, _ throws(Termination) in
        entry.daemon.maxLength = UInt16(try Parser.number(value, 1...(65535 - 20 - 8), orFail: "illegal sync-maxlen specified"))
    },
    OptionSpec("tun-info", nil, column: .tunInfo) { entry, _, _ in entry.format.tunnelInfo = true },
    OptionSpec("tun-type", nil, .required, column: .tunType) { entry, value, _ throws(Termination) in
        guard let type = TunnelTypes.type(named: value ?? "") else { throw .fail("illegal tunnel type specified") }
        entry.destination.tunnelType = type
    },
    OptionSpec("tun-port", nil, .required, column: .tunPort) { entry, value, _ throws(Termination) in
        entry.destination.tunnelPort = UInt16(try Parser.number(value, 1...65535, orFail: "illegal tunnel port specified"))
    },
    OptionSpec("tun-nocsum", nil, column: .tunNoCsum),
    OptionSpec("tun-csum", nil, column: .tunCsum) { entry, _, _ in entry.destination.tunnelFlags.insert(.checksum) },
    OptionSpec("tun-remcsum", nil, column: .tunRemCsum) { entry, _, _ in
        entry.destination.tunnelFlags.insert(.remoteChecksum)
    },
    // Ours: new long options only (Docs/Compatibility.md).
    OptionSpec("complete", nil, column: .complete),
    OptionSpec("apply", nil, .none, .command(.apply)),
    OptionSpec("dry-run", nil, column: .dryRun),
    OptionSpec("drain", nil, .optional, column: .drain) { entry, value, _ throws(Termination) in
        entry.drainSeconds = try value.map { (text) throws(Termination) in
            guard let seconds = Parser.number(text, 0...Parser.maxTimeout) else {
                throw .fail("invalid drain time `\(text)' specified")
            }
            return UInt32(seconds)
        } ?? Parser.defaultDrain
    },
    OptionSpec("json", "j", column: .json),
    OptionSpec("metrics", nil, .optional, column: .metrics) { entry, value, _ throws(Termination) in
        switch value {
        case nil, "servers": entry.metrics = .servers
        case "services": entry.metrics = .services
        default: throw .fail("invalid metrics scope `\(value ?? "")' specified (servers or services)")
        }
    },
    OptionSpec("netns", nil, .required, column: .netns) { entry, value, _ in entry.namespace = value },
    // Repeatable: the scope is the union of the words (the parser lets this column repeat).
    OptionSpec("scope", nil, .required, column: .scope) { entry, value, _ throws(Termination) in
        guard let item = TableScope.item(value ?? "") else { throw TableScope.invalid(value ?? "") }
        entry.scopes.append(item)
    },
    OptionSpec("owner", nil, .required, column: .owner) { entry, value, _ throws(Termination) in
        guard let name = value, OwnerRecord.isValidName(name) else {
            throw .fail("ipvsadm: invalid owner name `\(value ?? "")' (letters, digits, '.', '_', '-')")
        }
        entry.owner = name
    },
    OptionSpec("allow-empty", nil, column: .allowEmpty),
    OptionSpec("lock-wait", nil, .required, column: .lockWait) { entry, value, _ throws(Termination) in
        guard let text = value, let seconds = Parser.number(text, 0...Parser.maxTimeout) else {
            throw .fail("invalid lock wait `\(value ?? "")' specified")
        }
        entry.lockWait = UInt32(seconds)
    },
    OptionSpec("health", nil, column: .health),
    OptionSpec("checks-from", nil, .required, column: .checksFrom) { entry, value, _ in entry.checksFrom = value },
    // A rules file's health check (Docs/Health.md): kept as written, checked by the reader.
    OptionSpec("check", nil, .required, column: .check) { entry, value, parser throws(Termination) in
        guard parser.readsRules else { throw .fail(CheckDeclaration.onCommandLine) }
        entry.check = value
    },
    // `--doctor` (Docs/Doctor.md): the set-up's health, on the director or a real server.
    OptionSpec("doctor", nil, .none, .command(.doctor)),
    OptionSpec("rules", nil, .required, column: .rules) { entry, value, _ in entry.rulesFile = value },
    OptionSpec("vip", nil, .required, column: .vip) { entry, value, _ throws(Termination) in
        entry.vips = try DoctorRequest.addresses(value ?? "", option: "VIP")
    },
    OptionSpec("director", nil, .required, column: .director) { entry, value, _ throws(Termination) in
        entry.director = try DoctorRequest.addresses(value ?? "", option: "director address").first
    },
    OptionSpec("client", nil, .required, column: .client) { entry, value, _ throws(Termination) in
        entry.clients = try DoctorRequest.addresses(value ?? "", option: "client address")
    },
    // Positional words after it: NAME... to show, NAME=VALUE... to set (Docs/Sysctl.md).
    OptionSpec("sysctl", nil, .none, .command(.sysctl)),
    // `-L --watch[=SECONDS]` (also as the first word: `ipvsadm --watch`, see `Parser.parse`).
    OptionSpec("watch", nil, .optional, column: .watch) { entry, value, _ throws(Termination) in
        entry.watchSeconds = try value.map { (text) throws(Termination) in
            guard let seconds = Double(text), seconds >= 0.1, seconds <= 86400 else {
                throw .fail("invalid watch interval `\(text)' specified (seconds, 0.1 to 86400)")
            }
            return seconds
        } ?? Runner.defaultWatchSeconds
    },
    // `-Lc`'s views (Docs/JSON.md, "Connection views"): filters, and counts instead of lines.
    OptionSpec("conn-service", nil, .required, column: .connService) { entry, value, _ throws(Termination) in
        guard let endpoint = ConnectionFilter.endpoint(value ?? "") else {
            throw .fail("illegal connection service address[:port] `\(value ?? "")' specified")
        }
        entry.connectionFilter.service = endpoint
    },
    OptionSpec("conn-server", nil, .required, column: .connServer) { entry, value, _ throws(Termination) in
        guard let endpoint = ConnectionFilter.endpoint(value ?? "") else {
            throw .fail("illegal connection real server address[:port] `\(value ?? "")' specified")
        }
        entry.connectionFilter.server = endpoint
    },
    OptionSpec("conn-state", nil, .required, column: .connState) { entry, value, _ throws(Termination) in
        let state = (value ?? "").uppercased()
        guard !state.isEmpty, state.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw .fail("illegal connection state `\(value ?? "")' specified")
        }
        entry.connectionFilter.state = state
    },
    OptionSpec("conn-client", nil, .required, column: .connClient) { entry, value, _ throws(Termination) in
        guard let prefix = ConnectionFilter.prefix(value ?? "") else {
            throw .fail("illegal connection client prefix `\(value ?? "")' specified")
        }
        entry.connectionFilter.client = prefix
    },
    OptionSpec("conn-summary", nil, column: .connSummary),
]
