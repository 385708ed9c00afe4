import Glibc
import IPVS

/// Turns one ipvsadm argument vector into a `CommandEntry`, with ipvsadm's checks in
/// ipvsadm's order: every option is validated as it is read, then the command/option
/// matrix, then the per-command rules.
struct Parser {
    let program: String
    let resolver: any NameResolver
    /// Whether the words are a line of a rules file (`-R`, `--apply`, `HealthDeclarations`):
    /// only there does `--check` declare a health check; on a command line it is an error.
    var readsRules = false

    init(program: String, resolver: any NameResolver, readsRules: Bool = false) {
        self.program = program
        self.resolver = resolver
        self.readsRules = readsRules
    }

    /// Seconds: `-p` without a value, and the upper bound of every timeout.
    static let defaultPersistence: UInt32 = 360
    static let maxTimeout = 86400 * 31
    /// Seconds: `--drain` without a value.
    static let defaultDrain: UInt32 = 300

    /// Parses a command line (without `argv[0]`), given as words: a line of `-R`, or the
    /// process's arguments copied into them.
    /// - Throws: `Termination`: `.line` for popt's errors, `.process` for everything else.
    func parse(_ words: Words) throws(Termination) -> CommandEntry {
        var entry = CommandEntry()
        var tokens = Tokenizer(words)

        let first: Tokenizer.Option?
        do { first = try tokens.nextOption() } catch { throw .tryHelp(program) }
        guard let first else { throw .tryHelp(program) }
        switch first.spec.role {
        case .command(let command):
            entry.command = command
        case .daemonCommand(let command):
            entry.command = command
            guard let state = SyncDaemon.State(name: first.argument ?? "") else {
                throw .fail(command == .startDaemon
                    ? "illegal start-daemon parameter specified" : "illegal start_daemon specified")
            }
            entry.daemon.state = state
        case .help: throw .process(status: 0, stdout: Usage.help(program: program))
        case .version: throw .process(status: 0, stdout: Usage.versionLine)
        case .option(column: .watch?, let meaning):
            // Ours: `ipvsadm --watch` is `ipvsadm -L --watch`, as `ipvsadm` alone is `-L`.
            entry.command = .list
            entry.options.insert(.watch)
            try meaning(&entry, first.argument, self)
        case .option: throw .tryHelp(program)
        }

        while true {
            let option: Tokenizer.Option?
            do {
                option = try tokens.nextOption()
            } catch {
                throw .line(message: "\(tokens.lastWord): \(error.text)")
            }
            guard let option else { break }
            // A command, -h or -v after the command.
            guard case .option(let column, let meaning) = option.spec.role else {
                throw .fail("invalid option `\(tokens.lastWord)'")
            }
            if let column {
                // `--scope` alone may repeat (a union of scopes).
                if entry.options.contains(column) && column != .scope {
                    throw .fail("multiple '\(column.name)' options specified")
                }
                entry.options.insert(column)
            }
            try meaning(&entry, option.argument, self)
        }

        var leftovers = tokens.leftovers[...]
        if entry.command == .timeout {
            guard leftovers.count >= 3 else { throw .fail("--set option requires 3 timeout values") }
            entry.timeouts.tcp = try Parser.timeout(leftovers.removeFirst(), minimum: 0)
            entry.timeouts.tcpFin = try Parser.timeout(leftovers.removeFirst(), minimum: 0)
            entry.timeouts.udp = try Parser.timeout(leftovers.removeFirst(), minimum: 0)
        }
        if entry.command == .sysctl {
            entry.sysctlWords = Array(leftovers)
            leftovers = []
        }
        if let extra = leftovers.first { throw .fail("unexpected argument \(extra)") }

        if !entry.schedulerFlags.isEmpty {
            entry.service.flags.subtract(.schedulerFlags)
            entry.service.flags.formUnion(try Parser.schedulerFlags(entry.schedulerFlags, scheduler: entry.service.scheduler))
        }

        // The checks take only what they read (hot path: no copy of the entry per line).
        try checkMatrix(entry.command, entry.options)
        try checkCommand(&entry)
        return entry
    }

    // MARK: - Options with addresses

    /// `-t`, `-u`, `--sctp-service`.
    func setServiceAddress(_ text: String, protocol proto: IPProtocolNumber, in entry: inout CommandEntry)
        throws(Termination)
    {
        entry.service.protocolNumber = proto
        guard let parsed = serviceAddress(text, protocol: proto) else {
            throw .fail("illegal virtual server address[:port] specified")
        }
        entry.service.address = parsed.address
        entry.service.family = parsed.address.family
        if parsed.address.family == .inet6 { entry.service.netmask = 128 }
        if let port = parsed.port { entry.service.port = port }
    }

    /// `-M`: an IPv4 mask (a dotted quad or a host name), or an IPv6 prefix length.
    func setNetmask(_ text: String, in entry: inout CommandEntry) throws(Termination) {
        if entry.service.family != .inet6 {
            guard let mask = IPAddress.parse(text, with: IPAddress.parseIPv4Legacy) ?? resolver.ipv4Address(ofHost: text) else {
                throw .fail("illegal virtual server persistent mask specified")
            }
            entry.service.netmask = mask.ipv4
        } else {
            let prefix = Int32(truncatingIfNeeded: strtol(text, nil, 10))
            guard (1...128).contains(prefix) else { throw .fail("illegal ipv6 netmask specified") }
            entry.service.netmask = UInt32(prefix)
        }
    }

    /// `-r`: without a port the real server takes the service's port as known so far.
    func setRealServer(_ text: String, in entry: inout CommandEntry) throws(Termination) {
        guard let parsed = serviceAddress(text, protocol: entry.service.protocolNumber) else {
            throw .fail("illegal real server address[:port] specified")
        }
        entry.destinationFamily = parsed.address.family
        entry.destination.address = parsed.address
        entry.destination.port = parsed.port ?? entry.service.port
        entry.destinationPortWritten = parsed.port
    }

    // MARK: - Values

    /// `string_to_number`: base 10, the whole word, within bounds (strtol's leading blanks
    /// and sign are accepted, as in ipvsadm).
    static func number(_ text: String, _ range: ClosedRange<Int>) -> Int? {
        guard let value = wholeNumber(text), range.contains(value) else { return nil }
        return value
    }

    /// `number`, or ipvsadm's message for that option.
    static func number(_ text: String?, _ range: ClosedRange<Int>, orFail message: String) throws(Termination) -> Int {
        guard let value = number(text ?? "", range) else { throw .fail(message) }
        return value
    }

    /// The whole word as a base-10 `long` (strtol without a range error), nil otherwise.
    private static func wholeNumber(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        // Plain digits, up to 18 of them, are read here: what strtol would give, without a C
        // string and a call (hot path: every port of `-R`). The rest goes to strtol.
        if text.count > 0 && text.count <= 18 {
            var value = 0
            for byte in text {
                guard byte >= 0x30 && byte <= 0x39 else { return strtolWholeNumber(text) }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        return strtolWholeNumber(text)
    }

    /// Adapter: option values arrive as `String`s.
    private static func wholeNumber(_ text: String) -> Int? {
        var text = text
        return text.withUTF8 { wholeNumber($0) }
    }

    private static func strtolWholeNumber(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        text.withCString { start -> Int? in
            errno = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtol(start, &end, 10)
            guard let end, end.pointee == 0, end != UnsafeMutablePointer(mutating: start), errno != ERANGE else {
                return nil
            }
            return value
        }
    }

    /// A timeout in seconds: `-p`'s value and the three of `--set`.
    static func timeout(_ text: String, minimum: Int) throws(Termination) -> UInt32 {
        guard let value = number(text, minimum...maxTimeout) else {
            throw .fail("invalid timeout value `\(text)' specified")
        }
        return UInt32(value)
    }

    static func fwmark(_ text: String) throws(Termination) -> UInt32 {
        guard let value = wholeNumber(text), value > 0, value <= Int(UInt32.max) else {
            throw .fail("invalid fwmark value `\(text)' specified")
        }
        return UInt32(value)
    }

    /// The first `limit` bytes, as ipvsadm copies names into fixed-size fields.
    static func truncated(_ text: String, _ limit: Int) -> String { TextFormat.truncated(text, limit) }

    /// `--mcast-group`: an IPv6 multicast address if it has a colon, else an IPv4 one.
    static func multicastGroup(_ text: String) throws(Termination) -> IPAddress {
        if text.contains(":") {
            guard let group = IPAddress.parse(text, with: IPAddress.parseIPv6), group.high >> 56 == 0xff else {
                throw .fail("invalid IPv6 mcast-group `\(text)'")
            }
            return group
        }
        guard let group = IPAddress.parse(text, with: IPAddress.parseIPv4Strict), group.ipv4 >> 28 == 0xe else {
            throw .fail("invalid IPv4 mcast-group `\(text)'")
        }
        return group
    }

    /// `-b`: comma-separated scheduler flags, checked against the scheduler (default wlc).
    static func schedulerFlags(_ text: String, scheduler: String) throws(Termination) -> ServiceFlags {
        let scheduler = scheduler.isEmpty ? "wlc" : scheduler
        let words = text.split(separator: ",")
        // ipvsadm 1.31 crashes on a list with no flag in it (`-b ,`); we refuse it.
        guard !words.isEmpty else { throw .fail("invalid scheduler flag `\(text)'") }
        var flags: ServiceFlags = []
        for word in words {
            switch word {
            case "flag-1": flags.insert(.sched1)
            case "flag-2": flags.insert(.sched2)
            case "flag-3": flags.insert(.sched3)
            case "sh-fallback", "sh-port", "mh-fallback", "mh-port":
                flags.insert(word.hasSuffix("fallback") ? .sched1 : .sched2)
                guard scheduler == String(word.prefix(2)) else { throw .fail("incompatible scheduler flag `\(word)'") }
            default:
                throw .fail("invalid scheduler flag `\(word)'")
            }
        }
        return flags
    }

    // MARK: - Addresses

    /// What `parse_service` read: the address (its family is the service's), and the port
    /// if one was given. A value of its own (hot path: no copy of the service's strings).
    struct ServiceAddress {
        var address: IPAddress
        var port: UInt16?
    }

    /// `parse_service`: `host[:port]`, `[v6]:port` or a bare IPv6 literal, nil when it is
    /// none of them, exactly as ipvsadm reads it (by bytes, `strchr` and `strrchr`), quirks
    /// included: all-digit words are refused, and in `[x]:port` a non-IPv6 `x` loses its
    /// port. An IPv6 service takes the prefix length 128 (the caller sets it). A port name is
    /// looked up for `proto`.
    private func serviceAddress(_ text: UnsafeBufferPointer<UInt8>, protocol proto: IPProtocolNumber)
        -> ServiceAddress?
    {
        let colon = UInt8(ascii: ":")
        if text.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return nil }
        var host = text.indices
        var portText: Range<Int>?
        if text.first == UInt8(ascii: "[") {
            guard let close = text[1...].firstIndex(of: UInt8(ascii: "]")) else { return nil }
            guard close + 1 < text.count, text[close + 1] == colon else { return nil }
            host = 1..<close
            portText = (close + 2)..<text.count
        }
        let hostBytes = UnsafeBufferPointer(rebasing: text[host])
        var address: IPAddress
        // An IPv6 literal has at least two colons: with fewer, inet_pton would refuse it.
        let mayBeIPv6 = hostBytes.lazy.filter { $0 == colon }.prefix(2).count == 2
        if mayBeIPv6, let v6 = IPAddress.parseIPv6(hostBytes) {
            address = v6
        } else {
            portText = nil
            if let last = hostBytes.lastIndex(of: colon) {
                portText = (host.lowerBound + last + 1)..<host.upperBound
                host = host.lowerBound..<(host.lowerBound + last)
            }
            let name = UnsafeBufferPointer(rebasing: text[host])
            guard let v4 = IPAddress.parseIPv4Legacy(name)
                ?? resolver.ipv4Address(ofHost: String(decoding: name, as: UTF8.self))
            else { return nil }
            address = v4
        }
        guard let portText else { return ServiceAddress(address: address, port: nil) }
        let port = UnsafeBufferPointer(rebasing: text[portText])
        if let value = Parser.wholeNumber(port), (0...65535).contains(value) {
            return ServiceAddress(address: address, port: UInt16(value))
        }
        if let value = resolver.port(ofService: String(decoding: port, as: UTF8.self), protocol: proto) {
            return ServiceAddress(address: address, port: value)
        }
        return nil
    }

    /// Adapter: option values arrive as `String`s.
    private func serviceAddress(_ text: String, protocol proto: IPProtocolNumber) -> ServiceAddress? {
        var text = text
        return text.withUTF8 { serviceAddress($0, protocol: proto) }
    }

    // MARK: - Checks after parsing

    /// `generic_opt_check`: compulsory, illegal and mutually exclusive options, in column order.
    private func checkMatrix(_ command: Command, _ options: OptionSet64) throws(Termination) {
        try command.rule.check(options, subject: "'\(command.name)' command")
    }

    /// The per-command rules of `process_options`, and the defaults they fill in.
    private func checkCommand(_ entry: inout CommandEntry) throws(Termination) {
        let options = entry.options
        switch entry.command {
        case .add, .edit:
            let service = entry.service
            if service.fwmark == 0 && service.port == 0 && !service.flags.contains(.persistent) {
                throw .fail("Zero port specified for non-persistent service")
            }
            if service.flags.contains(.onePacket) && service.fwmark == 0 && service.protocolNumber != .udp {
                throw .fail("One-Packet Scheduling is only for UDP virtual services")
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
                throw .fail("Different address family is allowed only for tunneling servers")
            }
            if options.containsAny(OptionSet64.tunnelOptionsAndType) && forwarding != .tunnel {
                throw .fail("Tunnel options conflict with forward method")
            }
            try checkTunnel(entry.destination.tunnelType, options)
        case .doctor:
            try DoctorRequest.check(entry)
        case .list:
            if (options.containsAny([.connection, .timeout, .daemon]) && options.containsAny([.stats, .rate, .thresholds]))
                || (options.containsAny([.timeout, .daemon]) && options.contains(.persistentConn))
                // Ours: metrics are of services only, and text of their own.
                || (options.contains(.metrics) && options.containsAny([.json, .connection, .timeout, .daemon]))
                // Ours: a scope chooses among services, so it lists the table of services.
                || (options.containsAny([.scope, .owner]) && options.containsAny([.connection, .service, .timeout, .daemon]))
                // Ours: the health of real servers, in the listings of services.
                || (options.contains(.health) && options.containsAny([.connection, .timeout, .daemon]))
                // Ours: the watch view shows services and real servers, in text or JSON.
                || (options.contains(.watch) && options.containsAny([.connection, .timeout, .daemon, .metrics]))
                // Ours: the connection views are of -c; the summary has no persistence columns.
                || (options.containsAny(OptionBit.connectionViews) && !options.contains(.connection))
                || (options.contains(.connSummary) && options.contains(.persistentConn))
            {
                throw .fail("options conflicts in the list command")
            }
        default:
            break
        }
    }

    /// `tunnel_opt_check`: which tunnel options each tunnel type needs or refuses.
    private func checkTunnel(_ tunnelType: TunnelType, _ options: OptionSet64) throws(Termination) {
        guard let rule = TunnelTypes.rule(of: tunnelType) else { return }
        try rule.check(options, subject: "'\(tunnelType.name ?? "")' tunnel type")
    }
}
