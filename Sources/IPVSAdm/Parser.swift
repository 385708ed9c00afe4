import Glibc
import IPVS

/// Turns one ipvsadm argument vector into a `CommandEntry`, with ipvsadm's checks in
/// ipvsadm's order: every option is validated as it is read, then the command/option
/// matrix, then the per-command rules.
struct Parser {
    let program: String
    let resolver: any NameResolver

    /// Seconds: `-p` without a value, and the upper bound of every timeout.
    static let defaultPersistence: UInt32 = 360
    static let maxTimeout = 86400 * 31

    /// Parses a command line (without `argv[0]`).
    /// - Throws: `Termination` for anything that ends the process, `LineFailure` for popt errors.
    func parse(_ arguments: [String]) throws -> CommandEntry {
        var entry = CommandEntry()
        var tokens = Tokenizer(arguments)
        var schedFlagsArgument = ""

        let first: Tokenizer.Option?
        do { first = try tokens.nextOption() } catch { throw Termination.tryHelp(program) }
        guard let first else { throw Termination.tryHelp(program) }
        switch first.name {
        case .addService: entry.command = .add
        case .editService: entry.command = .edit
        case .deleteService: entry.command = .delete
        case .addServer: entry.command = .addDest
        case .editServer: entry.command = .editDest
        case .deleteServer: entry.command = .deleteDest
        case .clear: entry.command = .flush
        case .list, .listLower: entry.command = .list
        case .zero: entry.command = .zero
        case .set: entry.command = .timeout
        case .restore: entry.command = .restore
        case .save: entry.command = .save
        case .startDaemon, .stopDaemon:
            let start = first.name == .startDaemon
            entry.command = start ? .startDaemon : .stopDaemon
            switch first.argument {
            case "master": entry.daemon.state = .master
            case "backup": entry.daemon.state = .backup
            default:
                throw Termination.fail(
                    start ? "illegal start-daemon parameter specified" : "illegal start_daemon specified")
            }
        case .help: throw Termination.exit(status: 0, stdout: Usage.help(program: program))
        case .version: throw Termination.exit(status: 0, stdout: Usage.versionLine)
        default: throw Termination.tryHelp(program)
        }

        while true {
            let option: Tokenizer.Option?
            do {
                option = try tokens.nextOption()
            } catch {
                throw LineFailure(message: "\(tokens.lastWord): \(error.text)")
            }
            guard let option else { break }
            try apply(option, to: &entry, schedFlags: &schedFlagsArgument, badWord: tokens.lastWord)
        }

        var leftovers = tokens.leftovers[...]
        if entry.command == .timeout {
            guard leftovers.count >= 3 else { throw Termination.fail("--set option requires 3 timeout values") }
            entry.timeouts.tcp = try timeoutValue(leftovers.removeFirst(), min: 0)
            entry.timeouts.tcpFin = try timeoutValue(leftovers.removeFirst(), min: 0)
            entry.timeouts.udp = try timeoutValue(leftovers.removeFirst(), min: 0)
        }
        if let extra = leftovers.first { throw Termination.fail("unexpected argument \(extra)") }

        if !schedFlagsArgument.isEmpty {
            entry.service.flags.subtract(.schedulerFlags)
            entry.service.flags.formUnion(try schedulerFlags(schedFlagsArgument, scheduler: entry.service.scheduler))
        }

        try checkMatrix(entry)
        try checkCommand(&entry)
        return entry
    }

    // MARK: - Options

    private func apply(
        _ option: Tokenizer.Option, to entry: inout CommandEntry, schedFlags: inout String, badWord: String
    ) throws {
        let argument = option.argument ?? ""
        switch option.name {
        case .tcpService, .udpService, .sctpService:
            try set(.service, in: &entry)
            entry.service.protocolNumber =
                option.name == .tcpService ? .tcp : option.name == .udpService ? .udp : .sctp
            var service = entry.service
            guard parseServiceAddress(argument, into: &service).contains(.address) else {
                throw Termination.fail("illegal virtual server address[:port] specified")
            }
            entry.service = service
        case .fwmarkService:
            try set(.service, in: &entry)
            entry.service.family = .inet
            entry.service.protocolNumber = .tcp
            entry.service.fwmark = try fwmark(argument)
        case .scheduler:
            try set(.scheduler, in: &entry)
            entry.service.scheduler = String(decoding: argument.utf8.prefix(15), as: UTF8.self)
        case .persistent:
            try set(.persistent, in: &entry)
            entry.service.flags.insert(.persistent)
            entry.service.timeout =
                try option.argument.map { try timeoutValue($0, min: 1) } ?? Parser.defaultPersistence
        case .netmask:
            try set(.netmask, in: &entry)
            if entry.service.family != .inet6 {
                if let mask = IPAddress.parseIPv4Legacy(argument) ?? resolver.ipv4Address(ofHost: argument) {
                    entry.service.netmask = mask.ipv4
                } else {
                    throw Termination.fail("illegal virtual server persistent mask specified")
                }
            } else {
                let prefix = Int32(truncatingIfNeeded: strtol(argument, nil, 10))
                guard (1...128).contains(prefix) else { throw Termination.fail("illegal ipv6 netmask specified") }
                entry.service.netmask = UInt32(prefix)
            }
        case .realServer:
            try set(.server, in: &entry)
            var target = entry.service
            let parsed = parseServiceAddress(argument, into: &target)
            guard parsed.contains(.address) else {
                throw Termination.fail("illegal real server address[:port] specified")
            }
            entry.destinationFamily = target.family
            entry.destination.address = target.address ?? IPAddress(ipv4: 0)
            // Without a port the real server takes the service's port as known so far.
            entry.destination.port = parsed.contains(.port) ? target.port : entry.service.port
        case .ipip, .gatewaying, .masquerading:
            try set(.forward, in: &entry)
            entry.destination.forwarding =
                option.name == .ipip ? .tunnel : option.name == .gatewaying ? .directRouting : .masquerading
        case .weight:
            try set(.weight, in: &entry)
            let value = try number(argument, min: 0, max: Int(Int32.max), orFail: "illegal weight specified")
            entry.destination.weight = Int32(value)
        case .uThreshold:
            try set(.uThreshold, in: &entry)
            let value = try number(argument, min: 0, max: Int(Int32.max), orFail: "illegal u_threshold specified")
            entry.destination.upperThreshold = UInt32(value)
        case .lThreshold:
            try set(.lThreshold, in: &entry)
            let value = try number(argument, min: 0, max: Int(Int32.max), orFail: "illegal l_threshold specified")
            entry.destination.lowerThreshold = UInt32(value)
        case .connection: try set(.connection, in: &entry)
        case .numeric:
            try set(.numeric, in: &entry)
            entry.format.numeric = true
        case .mcastInterface:
            try set(.mcastInterface, in: &entry)
            entry.daemon.interface = String(decoding: argument.utf8.prefix(15), as: UTF8.self)
        case .syncID:
            try set(.syncID, in: &entry)
            let value = try number(argument, min: 0, max: 255, orFail: "illegal syncid specified")
            entry.daemon.syncID = UInt32(value)
        case .timeout: try set(.timeout, in: &entry)
        case .daemon: try set(.daemon, in: &entry)
        case .stats:
            try set(.stats, in: &entry)
            entry.format.stats = true
        case .rate:
            try set(.rate, in: &entry)
            entry.format.rate = true
        case .thresholds:
            try set(.thresholds, in: &entry)
            entry.format.thresholds = true
        case .persistentConn:
            try set(.persistentConn, in: &entry)
            entry.format.persistentConn = true
        case .nosort:
            try set(.nosort, in: &entry)
            entry.format.noSort = true
        case .sort: break
        case .exact:
            try set(.exact, in: &entry)
            entry.format.exact = true
        case .ipv6:
            guard entry.service.fwmark != 0 else { throw Termination.fail("-6 used before -f\n") }
            entry.service.family = .inet6
            entry.service.netmask = 128
        case .ops:
            try set(.onePacket, in: &entry)
            entry.service.flags.insert(.onePacket)
        case .pe:
            try set(.persistenceEngine, in: &entry)
            entry.service.persistenceEngine = String(decoding: argument.utf8.prefix(16), as: UTF8.self)
        case .schedFlags:
            try set(.schedFlags, in: &entry)
            schedFlags = String(decoding: argument.utf8.prefix(127), as: UTF8.self)
        case .mcastGroup:
            try set(.mcastGroup, in: &entry)
            if argument.contains(":") {
                guard let group = IPAddress.parseIPv6(argument), group.high >> 56 == 0xff else {
                    throw Termination.fail("invalid IPv6 mcast-group `\(argument)'")
                }
                entry.daemon.group = group
            } else {
                guard let group = IPAddress.parseIPv4Strict(argument), group.ipv4 >> 28 == 0xe else {
                    throw Termination.fail("invalid IPv4 mcast-group `\(argument)'")
                }
                entry.daemon.group = group
            }
        case .mcastPort:
            try set(.mcastPort, in: &entry)
            let value = try number(argument, min: 1, max: 65535, orFail: "illegal mcast-port specified")
            entry.daemon.port = UInt16(value)
        case .mcastTTL:
            try set(.mcastTTL, in: &entry)
            let value = try number(argument, min: 1, max: 255, orFail: "illegal mcast-ttl specified")
            entry.daemon.ttl = UInt8(value)
        case .syncMaxLen:
            try set(.syncMaxLen, in: &entry)
            let value = try number(argument, min: 1, max: 65535 - 20 - 8, orFail: "illegal sync-maxlen specified")
            entry.daemon.maxLength = UInt16(value)
        case .tunInfo:
            try set(.tunInfo, in: &entry)
            entry.format.tunnelInfo = true
        case .tunType:
            try set(.tunType, in: &entry)
            guard let index = tunnelTypeNames.firstIndex(of: argument) else {
                throw Termination.fail("illegal tunnel type specified")
            }
            entry.destination.tunnelType = TunnelType(rawValue: UInt8(index))
        case .tunPort:
            try set(.tunPort, in: &entry)
            let value = try number(argument, min: 1, max: 65535, orFail: "illegal tunnel port specified")
            entry.destination.tunnelPort = UInt16(value)
        case .tunNoCsum: try set(.tunNoCsum, in: &entry)
        case .tunCsum:
            try set(.tunCsum, in: &entry)
            entry.destination.tunnelFlags.insert(.checksum)
        case .tunRemCsum:
            try set(.tunRemCsum, in: &entry)
            entry.destination.tunnelFlags.insert(.remoteChecksum)
        default:
            // A command letter, -h or -v after the command.
            throw Termination.fail("invalid option `\(badWord)'")
        }
    }

    private func set(_ option: OptionBit, in entry: inout CommandEntry) throws {
        if entry.options.contains(option) { throw Termination.fail("multiple '\(option.name)' options specified") }
        entry.options.insert(option)
    }

    // MARK: - Values

    /// `string_to_number`: base 10, the whole word, within bounds (strtol's leading blanks
    /// and sign are accepted, as in ipvsadm).
    func number(_ text: String, min: Int, max: Int) -> Int? {
        errno = 0
        var end: UnsafeMutablePointer<CChar>?
        return text.withCString { start -> Int? in
            let value = strtol(start, &end, 10)
            guard let end, end.pointee == 0, end != UnsafeMutablePointer(mutating: start) else { return nil }
            guard errno != ERANGE, value >= min, value <= max else { return nil }
            return value
        }
    }

    /// `number`, or ipvsadm's message for that option.
    private func number(_ text: String, min: Int, max: Int, orFail message: String) throws -> Int {
        guard let value = number(text, min: min, max: max) else { throw Termination.fail(message) }
        return value
    }

    private func timeoutValue(_ text: String, min: Int) throws -> UInt32 {
        guard let value = number(text, min: min, max: Parser.maxTimeout) else {
            throw Termination.fail("invalid timeout value `\(text)' specified")
        }
        return UInt32(value)
    }

    private func fwmark(_ text: String) throws -> UInt32 {
        errno = 0
        var end: UnsafeMutablePointer<CChar>?
        let value: Int? = text.withCString { start in
            let raw = strtol(start, &end, 10)
            guard let end, end.pointee == 0, end != UnsafeMutablePointer(mutating: start), errno != ERANGE else {
                return nil
            }
            return raw
        }
        guard let value, value > 0, value <= Int(UInt32.max) else {
            throw Termination.fail("invalid fwmark value `\(text)' specified")
        }
        return UInt32(value)
    }

    /// `-b`: comma-separated scheduler flags, checked against the scheduler (default wlc).
    private func schedulerFlags(_ text: String, scheduler: String) throws -> ServiceFlags {
        let scheduler = scheduler.isEmpty ? "wlc" : scheduler
        let words = text.split(separator: ",")
        // ipvsadm 1.31 crashes on a list with no flag in it (`-b ,`); we refuse it.
        guard !words.isEmpty else { throw Termination.fail("invalid scheduler flag `\(text)'") }
        var flags: ServiceFlags = []
        for word in words {
            switch word {
            case "flag-1": flags.insert(.sched1)
            case "flag-2": flags.insert(.sched2)
            case "flag-3": flags.insert(.sched3)
            case "sh-fallback", "sh-port", "mh-fallback", "mh-port":
                flags.insert(word.hasSuffix("fallback") ? .sched1 : .sched2)
                guard scheduler == String(word.prefix(2)) else {
                    throw Termination.fail("incompatible scheduler flag `\(word)'")
                }
            default:
                throw Termination.fail("invalid scheduler flag `\(word)'")
            }
        }
        return flags
    }

    // MARK: - Addresses

    struct ParsedParts: OptionSet {
        let rawValue: Int
        static let address = ParsedParts(rawValue: 1)
        static let port = ParsedParts(rawValue: 2)
    }

    /// `parse_service`: `host[:port]`, `[v6]:port` or a bare IPv6 literal. Updates the
    /// service's family, address, port (and IPv6 prefix) exactly as ipvsadm does,
    /// including its quirks: all-digit words are refused, and in `[x]:port` a non-IPv6
    /// `x` loses its port.
    func parseServiceAddress(_ text: String, into service: inout CommandEntry.Service) -> ParsedParts {
        if text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return [] }
        var host = Substring(text)
        var portText: Substring?
        if text.hasPrefix("[") {
            let inner = text.dropFirst()
            guard let close = inner.firstIndex(of: "]") else { return [] }
            let after = inner[inner.index(after: close)...]
            guard after.hasPrefix(":") else { return [] }
            host = inner[..<close]
            portText = after.dropFirst()
        }
        if let v6 = IPAddress.parseIPv6(String(host)) {
            service.address = v6
            service.family = .inet6
            service.netmask = 128
        } else {
            portText = nil
            if let colon = host.lastIndex(of: ":") {
                portText = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            guard let v4 = IPAddress.parseIPv4Legacy(String(host)) ?? resolver.ipv4Address(ofHost: String(host)) else {
                return []
            }
            service.address = v4
            service.family = .inet
        }
        guard let portText else { return .address }
        if let value = number(String(portText), min: 0, max: 65535) {
            service.port = UInt16(value)
        } else if let value = resolver.port(ofService: String(portText), protocol: service.protocolNumber) {
            service.port = value
        } else {
            return []
        }
        return [.address, .port]
    }

    // MARK: - Checks after parsing

    /// `generic_opt_check`: compulsory, illegal and mutually exclusive options, in column order.
    private func checkMatrix(_ entry: CommandEntry) throws {
        let row = commandMatrix[entry.command.rawValue]
        try check(row, columns: OptionBit.allCases, entry.options, subject: "'\(entry.command.name)' command")
    }

    /// ipvsadm's matrix rule, for commands and for tunnel types alike: in column order, the
    /// first `+` option missing, `x` option given, or second `1` option given is an error.
    private func check(_ cells: [UInt8], columns: [OptionBit], _ options: OptionSet64, subject: String) throws {
        var firstExclusive: OptionBit?
        for (cell, option) in zip(cells, columns) {
            if !options.contains(option) {
                if cell == UInt8(ascii: "+") {
                    throw Termination.fail("You need to supply the '\(option.name)' option for the \(subject)")
                }
                continue
            }
            if cell == UInt8(ascii: "x") { throw Termination.fail("Illegal '\(option.name)' option with the \(subject)") }
            if cell == UInt8(ascii: "1") {
                if let first = firstExclusive {
                    throw Termination.fail(
                        "The option '\(option.name)' conflicts with the '\(first.name)' option in the \(subject)")
                }
                firstExclusive = option
            }
        }
    }

    /// The per-command rules of `process_options`, and the defaults they fill in.
    private func checkCommand(_ entry: inout CommandEntry) throws {
        let options = entry.options
        switch entry.command {
        case .add, .edit:
            let service = entry.service
            if service.fwmark == 0 && service.port == 0 && !service.flags.contains(.persistent) {
                throw Termination.fail("Zero port specified for non-persistent service")
            }
            if service.flags.contains(.onePacket) && service.fwmark == 0 && service.protocolNumber != .udp {
                throw Termination.fail("One-Packet Scheduling is only for UDP virtual services")
            }
            if service.scheduler.isEmpty { entry.service.scheduler = "wlc" }
        case .startDaemon:
            if entry.daemon.interface.isEmpty { entry.daemon.interface = "eth0" }
        case .addDest, .editDest:
            let forwarding = entry.destination.forwarding
            if entry.service.fwmark == 0 && (forwarding == .tunnel || forwarding == .directRouting) {
                entry.destination.port = entry.service.port
            }
            if entry.destinationFamily != entry.service.family && forwarding != .tunnel {
                throw Termination.fail("Different address family is allowed only for tunneling servers")
            }
            if options.containsAny(tunnelOptionColumns + [.tunType]) && forwarding != .tunnel {
                throw Termination.fail("Tunnel options conflict with forward method")
            }
            try checkTunnel(entry)
        case .list:
            if (options.containsAny([.connection, .timeout, .daemon]) && options.containsAny([.stats, .rate, .thresholds]))
                || (options.containsAny([.timeout, .daemon]) && options.contains(.persistentConn))
            {
                throw Termination.fail("options conflicts in the list command")
            }
        default:
            break
        }
    }

    /// `tunnel_opt_check`: which tunnel options each tunnel type needs or refuses.
    private func checkTunnel(_ entry: CommandEntry) throws {
        let type = Int(entry.destination.tunnelType.rawValue)
        guard type < tunnelMatrix.count else { return }
        try check(
            tunnelMatrix[type], columns: tunnelOptionColumns, entry.options,
            subject: "'\(tunnelTypeNames[type])' tunnel type")
    }
}
