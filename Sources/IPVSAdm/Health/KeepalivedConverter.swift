import IPVS

/// keepalived.conf's `virtual_server` blocks as this project's rules: `-A`/`-a` lines with
/// ipvsadm's options and `--check` declarations (Docs/Health.md, "Coming from keepalived").
///
/// The rules follow keepalived 2.2's keepalived.conf(5): a block grammar of words, `{ }`,
/// comments from `#` or `!` to the end of the line, quoted strings (`"` or `'`, with backslash
/// escapes inside quotes). Defaults are keepalived's, written out, because this project's
/// differ (interval 5 where keepalived's delay_loop is 60, NAT where ipvsadm's `-a` means DR):
/// the converted rules behave as keepalived did, and every value the admin may want to tune
/// is on the line. What cannot be carried over is a warning naming its line.
public enum KeepalivedConverter {
    /// Input that cannot be converted: the line it is on (nil when it concerns the whole input).
    public struct Failure: Error, Equatable, CustomStringConvertible, Sendable {
        public var line: Int?
        public var message: String

        public init(line: Int?, _ message: String) {
            self.line = line
            self.message = message
        }

        public var description: String { line.map { "line \($0): \(message)" } ?? message }
    }

    /// The converted rules and what could not be carried over.
    public struct Conversion: Equatable, Sendable {
        /// Warnings as `# ` comment lines first, then one `-A` line per virtual server followed
        /// by its `-a` lines.
        public var rules: String
        /// "line N: what", in the order of the input.
        public var warnings: [String]
    }

    /// Converts a whole keepalived.conf text.
    public static func convert(_ text: String) throws(Failure) -> Conversion {
        let statements = try BlockParser.parse(Lexer.tokens(Array(text.utf8)))
        var converter = Run()
        try converter.run(statements)
        var rules = ""
        for warning in converter.warnings { rules += "# \(warning)\n" }
        for line in converter.lines { rules += line + "\n" }
        return Conversion(rules: rules, warnings: converter.warnings)
    }

    /// The rules as `/sbin/ipvsadm -R` reads them: without comment lines and `--check` words
    /// (`sed -e '/^#/d' -e 's/ --check [^ ]*//'`).
    public static func withoutChecks(_ rules: String) -> String {
        var text = ""
        for line in rules.split(separator: "\n", omittingEmptySubsequences: false) where !line.hasPrefix("#") {
            var words = line.split(separator: " ", omittingEmptySubsequences: false)
            while let index = words.firstIndex(of: "--check"), index + 1 < words.count {
                words.removeSubrange(index...(index + 1))
            }
            text += words.joined(separator: " ") + "\n"
        }
        return String(text.dropLast())
    }

    /// `ipvsadm-health --convert-keepalived FILE|-`: the rules on stdout, warnings on stderr;
    /// status 0, 1 on input that cannot be converted (its line named), 2 on usage.
    /// - Parameter arguments: the process's arguments without the program name, starting
    ///   with `--convert-keepalived`.
    public static func runCommandLine(
        arguments: [String], stdin: any InputSource, stdout: any OutputSink, stderr: any OutputSink,
        program: String = "ipvsadm-health"
    ) -> Int32 {
        let operands = arguments.first == "--convert-keepalived" ? Array(arguments.dropFirst()) : arguments
        guard operands.count == 1, let path = operands.first else {
            stderr.write("usage: \(program) --convert-keepalived FILE   (FILE - reads standard input)\n")
            _ = stderr.flush()
            return 2
        }
        let bytes: [UInt8]
        if path == "-" {
            var all: [UInt8] = []
            var line: [UInt8] = []
            while stdin.readLine(into: &line) {
                all.append(contentsOf: line)
                all.append(0x0a)
            }
            bytes = all
        } else {
            do {
                bytes = try WholeFile.read(path)
            } catch {
                stderr.write("\(program): \(path): \(error)\n")
                _ = stderr.flush()
                return 1
            }
        }
        let name = path == "-" ? "standard input" : path
        let conversion: Conversion
        do {
            conversion = try convert(String(decoding: bytes, as: UTF8.self))
        } catch {
            stderr.write("\(program): \(name): \(error.description)\n")
            _ = stderr.flush()
            return 1
        }
        for warning in conversion.warnings { stderr.write("\(program): \(name): warning: \(warning)\n") }
        stdout.write(conversion.rules)
        if let failure = stdout.flush() {
            stderr.write("\(program): writing the rules: \(failure)\n")
            _ = stderr.flush()
            return 1
        }
        _ = stderr.flush()
        return 0
    }
}

// MARK: - The block grammar

/// One word, brace or line end of keepalived.conf.
struct KeepalivedToken: Equatable {
    enum Kind: Equatable {
        case word(String)
        case open
        case close
        case newline
    }
    var kind: Kind
    var line: Int
}

/// A keyword line with its words (the keyword first) and, when it opens one, its block.
struct KeepalivedStatement: Equatable {
    var line: Int
    var words: [String]
    var block: [KeepalivedStatement]?

    var keyword: String { words.first ?? "" }
    var arguments: ArraySlice<String> { words.dropFirst() }
}

extension KeepalivedConverter {
    enum Lexer {
        /// Words are runs of bytes other than blanks, braces and comment starts; quotes (`"` or
        /// `'`) group blanks into a word and are removed, as keepalived does
        /// (`'abcd" efg "h'` is one word); inside quotes a backslash escapes.
        static func tokens(_ bytes: [UInt8]) throws(Failure) -> [KeepalivedToken] {
            // No value may hold a NUL (the declarations refuse it), quoted or escaped alike.
            if let nul = bytes.firstIndex(of: 0) {
                throw Failure(line: bytes[..<nul].reduce(1) { $1 == 0x0a ? $0 + 1 : $0 }, "NUL byte in input")
            }
            var tokens: [KeepalivedToken] = []
            var line = 1
            var word: [UInt8] = []
            var inWord = false
            var index = 0
            func finish() {
                if inWord { tokens.append(KeepalivedToken(kind: .word(String(decoding: word, as: UTF8.self)), line: line)) }
                word.removeAll(keepingCapacity: true)
                inWord = false
            }
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case 0x0a:
                    finish()
                    tokens.append(KeepalivedToken(kind: .newline, line: line))
                    line += 1
                case 0x20, 0x09, 0x0d, 0x0b, 0x0c:
                    finish()
                case UInt8(ascii: "#"), UInt8(ascii: "!"):
                    finish()
                    while index + 1 < bytes.count && bytes[index + 1] != 0x0a { index += 1 }
                case UInt8(ascii: "{"):
                    finish()
                    tokens.append(KeepalivedToken(kind: .open, line: line))
                case UInt8(ascii: "}"):
                    finish()
                    tokens.append(KeepalivedToken(kind: .close, line: line))
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    inWord = true
                    let quote = byte
                    index += 1
                    while true {
                        guard index < bytes.count, bytes[index] != 0x0a else {
                            throw Failure(line: line, "unterminated quoted string")
                        }
                        let inner = bytes[index]
                        if inner == quote { break }
                        if inner == UInt8(ascii: "\\") && index + 1 < bytes.count && bytes[index + 1] != 0x0a {
                            index += 1
                            word.append(escaped(bytes[index]))
                        } else {
                            word.append(inner)
                        }
                        index += 1
                    }
                default:
                    inWord = true
                    word.append(byte)
                }
                index += 1
            }
            finish()
            return tokens
        }

        /// The common one-letter escapes; any other escaped character stands for itself.
        static func escaped(_ byte: UInt8) -> UInt8 {
            switch byte {
            case UInt8(ascii: "n"): return 0x0a
            case UInt8(ascii: "t"): return 0x09
            case UInt8(ascii: "r"): return 0x0d
            case UInt8(ascii: "a"): return 0x07
            case UInt8(ascii: "b"): return 0x08
            case UInt8(ascii: "f"): return 0x0c
            case UInt8(ascii: "v"): return 0x0b
            case UInt8(ascii: "E"): return 0x1b
            default: return byte
            }
        }
    }

    enum BlockParser {
        /// Blocks nest at most this deep (keepalived's deepest is 4: virtual_server, real_server,
        /// checker, url); deeper input is refused rather than recursed into.
        static let maximumDepth = 16

        static func parse(_ tokens: [KeepalivedToken]) throws(Failure) -> [KeepalivedStatement] {
            var index = 0
            return try block(tokens, &index, depth: 0, openedAt: nil)
        }

        /// The statements up to the `}` that closes the block opened at `openedAt` (nil: the
        /// whole input). A `{` opens a block for the keyword line before it, on the same line
        /// or alone on the next.
        private static func block(
            _ tokens: [KeepalivedToken], _ index: inout Int, depth: Int, openedAt: (line: Int, keyword: String)?
        ) throws(Failure) -> [KeepalivedStatement] {
            var statements: [KeepalivedStatement] = []
            while index < tokens.count {
                let token = tokens[index]
                switch token.kind {
                case .newline:
                    index += 1
                case .close:
                    guard openedAt != nil else { throw Failure(line: token.line, "'}' closes no block") }
                    index += 1
                    return statements
                case .open:
                    throw Failure(line: token.line, "'{' without a keyword before it")
                case .word:
                    var words: [String] = []
                    while index < tokens.count, case .word(let word) = tokens[index].kind {
                        words.append(word)
                        index += 1
                    }
                    var next = index
                    while next < tokens.count && tokens[next].kind == .newline { next += 1 }
                    if next < tokens.count && tokens[next].kind == .open {
                        guard depth < maximumDepth else { throw Failure(line: token.line, "blocks nested too deep") }
                        index = next + 1
                        let inner = try block(tokens, &index, depth: depth + 1, openedAt: (token.line, words[0]))
                        statements.append(KeepalivedStatement(line: token.line, words: words, block: inner))
                    } else {
                        statements.append(KeepalivedStatement(line: token.line, words: words, block: nil))
                    }
                }
            }
            if let openedAt {
                throw Failure(line: openedAt.line, "the block of '\(openedAt.keyword)' is not closed ('}' missing)")
            }
            return statements
        }
    }
}

// MARK: - virtual_server blocks to rules

extension KeepalivedConverter {
    /// Settings that a virtual server, a real server and a checker may each give, the nearest
    /// winning.
    struct Inherited {
        var delayLoop: String?
        var connectTimeout: String?
        var retry: Int?
        var delayBeforeRetry: String?
        var alpha: Bool?
        var virtualhost: String?

        /// Reads one of the settings a virtual server and a real server both take (keepalived
        /// lets either give them); false for any other keyword. What cannot be carried over is
        /// added to `warnings` as (line, text).
        mutating func take(_ item: KeepalivedStatement, warnings: inout [(Int, String)]) throws(Failure) -> Bool {
            switch item.keyword {
            case "delay_loop": delayLoop = try Values.timer(item)
            case "connect_timeout": connectTimeout = try Values.timer(item)
            case "retry", "nb_get_retry": retry = try Values.integer(item, 0...999)
            case "delay_before_retry": delayBeforeRetry = try Values.timer(item)
            case "alpha": alpha = try Values.boolean(item)
            case "virtualhost": virtualhost = try Values.host(item)
            case "warmup":
                if try Values.timer(item, warmup: true) != "0" {
                    warnings.append((item.line, "warmup: the random delay before a first check is not supported"))
                }
            case "inhibit_on_failure":
                // Ours always quiesces a failed server (weight 0): keepalived's inhibit_on_failure.
                _ = try Values.boolean(item)
            default: return false
            }
            return true
        }

        /// The nearer settings over these.
        func overridden(by nearer: Inherited) -> Inherited {
            Inherited(
                delayLoop: nearer.delayLoop ?? delayLoop, connectTimeout: nearer.connectTimeout ?? connectTimeout,
                retry: nearer.retry ?? retry, delayBeforeRetry: nearer.delayBeforeRetry ?? delayBeforeRetry,
                alpha: nearer.alpha ?? alpha, virtualhost: nearer.virtualhost ?? virtualhost)
        }
    }

    enum Forwarding: Equatable {
        case nat, dr, tun(options: [String])

        var option: String {
            switch self {
            case .nat: return "-m"
            case .dr: return "-g"
            case .tun(let options): return (["-i"] + options).joined(separator: " ")
            }
        }
    }

    /// A check as `--check` keys, in the order they are written.
    struct Check {
        var kind: String
        var settings: [(key: String, value: String)]
    }

    struct RealServer {
        var line: Int
        var address: IPAddress
        var port: UInt16?
        var forwarding: Forwarding
        var weight: Int32 = 1
        var upperThreshold: UInt32?
        var lowerThreshold: UInt32?
        var check: Check?
    }

    /// keepalived's schedulers (keepalived.conf(5), lvs_sched).
    static let schedulers: Set<String> = [
        "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
    ]

    /// The conversion's state: the rules lines and warnings so far.
    struct Run {
        var lines: [String] = []
        var warnings: [String] = []
        /// The service keys converted so far, with their lines: a second block for the same
        /// service would make the rules fail to load.
        var seen: [String: Int] = [:]
        var converted = 0

        /// (line, text): sorted by line once the input is read.
        var notes: [(line: Int, text: String)] = []

        /// A warning is one comment line: control characters (from escapes in quotes) as `?`.
        mutating func warn(_ line: Int, _ message: String) {
            let text = String(decoding: message.utf8.map { $0 < 0x20 || $0 == 0x7f ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
            notes.append((line, "line \(line): \(text)"))
        }

        mutating func run(_ statements: [KeepalivedStatement]) throws(Failure) {
            for statement in statements {
                switch statement.keyword {
                case "virtual_server":
                    try virtualServer(statement)
                case "include", "includer", "includem", "includew", "includeb", "includea":
                    warn(statement.line, "\(statement.words.joined(separator: " ")): included files are not read (convert each file by itself)")
                default:
                    if statement.keyword.hasPrefix("$") {
                        warn(statement.line, "parameter definitions and substitution ($NAME) are not supported")
                    } else if statement.keyword.hasPrefix("@") {
                        warn(statement.line, "conditional configuration (@) is not supported: line skipped")
                    }
                // Everything else (global_defs, vrrp_*, virtual_server_group...) is not a table.
                }
            }
            guard converted > 0 else { throw Failure(line: nil, "nothing to convert: no virtual_server block with a real server") }
            warnings = notes.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }.map(\.element.text)
        }

        // MARK: virtual_server

        mutating func virtualServer(_ statement: KeepalivedStatement) throws(Failure) {
            let line = statement.line
            let arguments = Array(statement.arguments)
            guard let block = statement.block else {
                throw Failure(line: line, "virtual_server without a block ('{' missing)")
            }
            enum Address { case ip(IPAddress, UInt16?), fwmark(UInt32) }
            let address: Address
            switch arguments.first {
            case nil:
                throw Failure(line: line, "virtual_server: an address and port, fwmark N or group NAME expected")
            case "group":
                warn(line, "virtual_server group \(arguments.dropFirst().joined(separator: " ")): virtual_server_group is not supported: block skipped")
                return
            case "fwmark":
                guard arguments.count == 2, let mark = UInt32(arguments[1]), mark > 0 else {
                    throw Failure(line: line, "virtual_server fwmark: a mark from 1 to 4294967295 expected")
                }
                address = .fwmark(mark)
            case let text?:
                guard arguments.count <= 2 else { throw Failure(line: line, "virtual_server: unexpected '\(arguments[2])'") }
                let ip = try Values.address(text, line: line, what: "virtual_server")
                let port = try arguments.count == 2 ? Values.port(arguments[1], line: line, what: "virtual_server") : nil
                address = .ip(ip, port)
            }
            // nil for a fwmark service, whose real servers keep their ports.
            var servicePort: UInt16? = nil
            if case .ip(_, let port) = address { servicePort = port ?? 0 }

            var scheduler: String?
            var schedulerFlags: [(name: String, line: Int)] = []
            var forwarding = Forwarding.nat
            var persistence: UInt32?
            var granularity: String?
            var granularityLine = 0
            var engine: String?
            // keepalived: a service by address without `protocol` is UDP (the kernel's reading of
            // protocol 0), with a configuration error.
            var protocolOption = "-u"
            var protocolName = "UDP"
            var protocolLine: Int?
            var onePacket = false
            var onePacketLine = 0
            var family: AddressFamily?
            var sorry: String?
            var sorryAddress: (address: IPAddress, line: Int)?
            var inherited = Inherited()
            var servers: [RealServer] = []
            var serverStatements: [KeepalivedStatement] = []

            var inheritedWarnings: [(Int, String)] = []
            defer { for (line, text) in inheritedWarnings { warn(line, text) } }
            for item in block {
                if try inherited.take(item, warnings: &inheritedWarnings) { continue }
                let args = Array(item.arguments)
                switch item.keyword {
                case "lb_algo", "lvs_sched":
                    let name = try Values.one(item)
                    guard KeepalivedConverter.schedulers.contains(name) else {
                        throw Failure(line: item.line, "\(item.keyword): unknown scheduler '\(name)'")
                    }
                    scheduler = name
                case "lb_kind", "lvs_method":
                    forwarding = try Values.forwarding(item)
                case "persistence_timeout":
                    if args.isEmpty {
                        persistence = 360  // keepalived's and ipvsadm's default: 6 minutes
                    } else {
                        let seconds = try Values.integer(item, 0...(86400 * 31))
                        persistence = seconds == 0 ? nil : UInt32(seconds)
                    }
                case "persistence_granularity":
                    granularity = try Values.one(item)
                    granularityLine = item.line
                case "persistence_engine":
                    engine = try Values.one(item)
                    guard engine == "sip" else { throw Failure(line: item.line, "persistence_engine: only sip exists") }
                case "protocol":
                    protocolLine = item.line
                    switch try Values.one(item).uppercased() {
                    case "TCP": (protocolOption, protocolName) = ("-t", "TCP")
                    case "UDP": (protocolOption, protocolName) = ("-u", "UDP")
                    case "SCTP": (protocolOption, protocolName) = ("--sctp-service", "SCTP")
                    default: throw Failure(line: item.line, "protocol: TCP, UDP or SCTP expected")
                    }
                case "ops":
                    onePacket = true
                    onePacketLine = item.line
                case "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback":
                    schedulerFlags.append((item.keyword, item.line))
                case "ip_family":
                    switch try Values.one(item) {
                    case "inet": family = .inet
                    case "inet6": family = .inet6
                    default: throw Failure(line: item.line, "ip_family: inet or inet6 expected")
                    }
                case "sorry_server":
                    guard (1...2).contains(args.count) else {
                        throw Failure(line: item.line, "sorry_server: an address and a port expected")
                    }
                    let ip = try Values.address(args[0], line: item.line, what: "sorry_server")
                    guard InMemoryBackend.isUnicast(ip) else { throw Failure(line: item.line, "sorry_server \(ip): not a unicast address") }
                    let port = try args.count == 2 ? Values.port(args[1], line: item.line, what: "sorry_server", zero: false) : nil
                    sorry = Values.endpoint(ip, port)
                    sorryAddress = (ip, item.line)
                case "real_server":
                    serverStatements.append(item)
                case "quorum", "hysteresis", "quorum_up", "quorum_down":
                    warn(item.line, "\(item.keyword): quorum is not supported (see threshold= for a depool limit)")
                case "ha_suspend", "omega", "sorry_server_inhibit", "sorry_server_lvs_method", "nat_mask",
                    "smtp_alert":
                    warn(item.line, "\(item.keyword): not supported: ignored")
                case "snmp_name":
                    break  // SNMP names are keepalived's own
                default:
                    warn(item.line, "\(item.keyword): unknown in virtual_server: ignored")
                }
            }

            // Real servers, now that the service's own settings are all known. keepalived drops a
            // second real server with the same address and port.
            var given: [String: Int] = [:]
            for item in serverStatements {
                if let server = try realServer(item, service: forwarding, servicePort: servicePort, inherited: inherited) {
                    let endpoint = Values.endpoint(server.address, server.port ?? 0)
                    if let earlier = given[endpoint] {
                        warn(server.line, "real_server \(endpoint) is already declared at line \(earlier): skipped (as keepalived does)")
                        continue
                    }
                    given[endpoint] = server.line
                    servers.append(server)
                }
            }
            guard !servers.isEmpty else {
                warn(line, "virtual_server without real servers: skipped (as keepalived does)")
                return
            }

            // The service's key and its address family.
            let service: String
            let key: String
            switch address {
            case .ip(let ip, let port):
                if family != nil { warn(line, "ip_family: only for fwmark services: ignored") }
                family = ip.family
                if protocolLine == nil {
                    warn(line, "virtual_server without protocol: UDP, as keepalived makes it (write protocol TCP if TCP was meant)")
                }
                if (port ?? 0) == 0 && persistence == nil {
                    warn(line, "virtual_server without a port: persistent for 360 s, as keepalived makes it")
                    persistence = 360
                }
                service = "\(protocolOption) \(Values.endpoint(ip, port ?? 0))"
                key = "\(protocolName) \(Values.endpoint(ip, port ?? 0))"
            case .fwmark(let mark):
                if family == nil { family = servers.first(where: { $0.forwarding.isTunnel == false })?.address.family ?? .inet }
                service = family == .inet6 ? "-f \(mark) -6" : "-f \(mark)"
                key = family == .inet6 ? "FWM \(mark) IPv6" : "FWM \(mark)"
            }
            if let earlier = seen[key] {
                throw Failure(line: line, "virtual_server \(key) is already declared at line \(earlier)")
            }
            seen[key] = line

            // keepalived skips a sorry server of another family than its service's (unless TUN).
            if let sorryAddress, sorryAddress.address.family != family && !forwarding.isTunnel {
                warn(sorryAddress.line, "sorry_server: another address family than the virtual server's: skipped (as keepalived does)")
                sorry = nil
            }
            var serversSeen: [String: Int] = [:]
            for server in servers {
                if server.address.family != family && !server.forwarding.isTunnel {
                    throw Failure(
                        line: server.line,
                        "real_server \(server.address): another address family than the virtual server's (only TUN servers may)")
                }
                // ipvsadm gives a DR or TUN server of an address:port service the service's port.
                let effectivePort: UInt16
                if let servicePort, server.forwarding != .nat {
                    effectivePort = servicePort
                } else {
                    effectivePort = server.port ?? servicePort ?? 0
                }
                let endpoint = Values.endpoint(server.address, effectivePort)
                if let earlier = serversSeen[endpoint] {
                    throw Failure(line: server.line, "real_server \(endpoint) is already declared at line \(earlier)")
                }
                serversSeen[endpoint] = server.line
            }

            // -A, its options in the order of ipvsadm -S
            var add = "-A \(service)"
            if let scheduler { add += " -s \(scheduler)" }
            if let persistence {
                add += " -p \(persistence)"
                if let granularity {
                    add += " -M \(try Values.netmask(granularity, family: family ?? .inet, line: granularityLine))"
                }
            } else if let granularity {
                // keepalived: a granularity makes the service persistent, for 6 minutes.
                add += " -p 360 -M \(try Values.netmask(granularity, family: family ?? .inet, line: granularityLine))"
                persistence = 360
            }
            if let engine {
                if persistence != nil { add += " --pe \(engine)" } else { warn(line, "persistence_engine without persistence_timeout: ignored") }
            }
            if onePacket {
                if protocolName == "UDP" || { if case .fwmark = address { return true } else { return false } }() {
                    add += " -o"
                } else {
                    warn(onePacketLine, "ops: one-packet scheduling is for UDP services only: ignored")
                }
            }
            // keepalived: sh-port and sh-fallback for sh only, mh-port and mh-fallback for mh only;
            // flag-N for any scheduler. ipvsadm names the bits by the scheduler.
            let named = scheduler ?? "wlc"
            var bits: Set<Int> = []
            for (name, flagLine) in schedulerFlags {
                if name.hasPrefix("flag-") {
                    bits.insert(Int(name.dropFirst(5)) ?? 1)
                } else if name.hasPrefix(named + "-") {
                    bits.insert(name.hasSuffix("fallback") ? 1 : 2)
                } else {
                    warn(flagLine, "\(name): only for the \(name.prefix(2)) scheduler: ignored (as keepalived does)")
                }
            }
            if !bits.isEmpty {
                var names: [String] = []
                if bits.contains(1) { names.append(named == "sh" || named == "mh" ? "\(named)-fallback" : "flag-1") }
                if bits.contains(2) { names.append(named == "sh" || named == "mh" ? "\(named)-port" : "flag-2") }
                if bits.contains(3) { names.append("flag-3") }
                add += " -b \(names.joined(separator: ","))"
            }

            // --check: the keys every checked server shares go on -A, the rest on each -a.
            let checked = servers.compactMap(\.check)
            var common: [(key: String, value: String)] = []
            var serviceKind: String?
            if let first = checked.first {
                serviceKind = first.kind
                for setting in first.settings
                where checked.allSatisfy({ check in check.settings.contains { $0.key == setting.key && $0.value == setting.value } }) {
                    common.append(setting)
                }
            }
            // A misc check is whole only with its command: without a common one, each -a line
            // names the kind.
            let kindOnService = serviceKind != nil && checked.allSatisfy { $0.kind == serviceKind }
                && (serviceKind != "misc" || common.contains { $0.key == "command" })
            if let serviceKind {
                // keepalived takes out every failed server: no depool limit.
                var settings = common + [("threshold", "1")]
                if let sorry { settings.append(("sorry", sorry)) }
                let kind = kindOnService ? CheckDeclaration.Kind(rawValue: serviceKind) : nil
                add += " --check \(CheckDeclaration(kind: kind, settings: settings).word)"
            } else if sorry != nil {
                warn(line, "sorry_server: no real server is checked, so it would never be used: ignored")
            }
            lines.append(add)

            // -a
            for server in servers {
                var entry = "-a \(service) -r \(Values.endpoint(server.address, server.port)) \(server.forwarding.option) -w \(server.weight)"
                if let upper = server.upperThreshold { entry += " -x \(upper)" }
                if let lower = server.lowerThreshold { entry += " -y \(lower)" }
                if let check = server.check {
                    let kind = kindOnService && check.kind == serviceKind ? nil : CheckDeclaration.Kind(rawValue: check.kind)
                    let own = check.settings.filter { setting in !common.contains { $0.key == setting.key } }
                    if kind != nil || !own.isEmpty { entry += " --check \(CheckDeclaration(kind: kind, settings: own).word)" }
                } else if serviceKind != nil {
                    entry += " --check none"
                }
                lines.append(entry)
            }
            converted += 1
        }

        // MARK: real_server

        mutating func realServer(
            _ statement: KeepalivedStatement, service forwarding: Forwarding, servicePort: UInt16?,
            inherited serviceSettings: Inherited
        ) throws(Failure) -> RealServer? {
            let line = statement.line
            let args = Array(statement.arguments)
            guard (1...2).contains(args.count) else { throw Failure(line: line, "real_server: an address and a port expected") }
            let ip = try Values.address(args[0], line: line, what: "real_server")
            guard InMemoryBackend.isUnicast(ip) else { throw Failure(line: line, "real_server \(ip): not a unicast address") }
            let port = try args.count == 2 ? Values.port(args[1], line: line, what: "real_server") : nil
            var server = RealServer(line: line, address: ip, port: port, forwarding: forwarding)
            var inherited = Inherited()
            var checkers: [KeepalivedStatement] = []
            var inheritedWarnings: [(Int, String)] = []
            defer { for (line, text) in inheritedWarnings { warn(line, text) } }
            for item in statement.block ?? [] {
                if try inherited.take(item, warnings: &inheritedWarnings) { continue }
                switch item.keyword {
                case "weight":
                    server.weight = Int32(try Values.integer(item, 0...Int(Int32.max)))
                case "lb_kind", "lvs_method":
                    server.forwarding = try Values.forwarding(item)
                case "uthreshold":
                    server.upperThreshold = UInt32(try Values.integer(item, 0...Int(Int32.max)))
                case "lthreshold":
                    server.lowerThreshold = UInt32(try Values.integer(item, 0...Int(Int32.max)))
                case "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK":
                    checkers.append(item)
                case "SMTP_CHECK", "DNS_CHECK", "BFD_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK":
                    warn(item.line, "\(item.keyword): this kind of check is not supported: not carried over")
                case "notify_up", "notify_down":
                    warn(item.line, "\(item.keyword): notification scripts are not supported (the log has one line per transition)")
                case "smtp_alert", "snmp_name":
                    break
                default:
                    warn(item.line, "\(item.keyword): unknown in real_server: ignored")
                }
            }
            // The kernel refuses a lower threshold above the upper one (ERANGE), 0 included.
            if let lower = server.lowerThreshold, lower > server.upperThreshold ?? 0 {
                throw Failure(line: line, "real_server \(ip): lthreshold \(lower) is above uthreshold \(server.upperThreshold ?? 0) (the kernel refuses it)")
            }
            let settings = serviceSettings.overridden(by: inherited)
            for (index, checker) in checkers.enumerated() {
                if index == 0 {
                    server.check = try check(checker, server: server, servicePort: servicePort, inherited: settings)
                } else {
                    warn(checker.line, "\(checker.keyword): one check per real server: only the first (line \(checkers[0].line)) is carried over")
                }
            }
            return server
        }

        // MARK: checkers

        mutating func check(
            _ statement: KeepalivedStatement, server: RealServer, servicePort: UInt16?, inherited outer: Inherited
        ) throws(Failure) -> Check {
            var own = Inherited()
            var connectIP: String?
            var connectPort: UInt16?
            var urls: [KeepalivedStatement] = []
            var miscPath: String?
            var miscTimeout: String?
            let kind: String
            switch statement.keyword {
            case "TCP_CHECK": kind = "tcp"
            case "HTTP_GET": kind = "http"
            case "SSL_GET": kind = "https"
            default: kind = "misc"
            }
            for item in statement.block ?? [] {
                switch item.keyword {
                case "connect_ip" where kind != "misc":
                    connectIP = "\(try Values.address(try Values.one(item), line: item.line, what: "connect_ip"))"
                case "connect_port" where kind != "misc":
                    connectPort = try Values.port(try Values.one(item), line: item.line, what: "connect_port", zero: false)
                case "connect_timeout" where kind != "misc":
                    own.connectTimeout = try Values.timer(item)
                case "bindto", "bind_if", "bind_port", "fwmark":
                    warn(item.line, "\(item.keyword): the checker's source address, interface, port and mark are not supported: ignored")
                case "alpha":
                    own.alpha = try Values.boolean(item)
                case "retry", "nb_get_retry":
                    own.retry = try Values.integer(item, 0...999)
                case "delay_before_retry":
                    own.delayBeforeRetry = try Values.timer(item)
                case "delay_loop":
                    own.delayLoop = try Values.timer(item)
                case "warmup":
                    if try Values.timer(item, warmup: true) != "0" { warn(item.line, "warmup: the random delay before a first check is not supported") }
                case "log_all_failures":
                    break
                case "url" where kind == "http" || kind == "https":
                    urls.append(item)
                case "virtualhost" where kind == "http" || kind == "https":
                    own.virtualhost = try Values.host(item)
                case "http_protocol", "fast_recovery", "enable_sni":
                    break  // ours: HTTP/1.1 through libcurl, SNI from host= when given
                case "misc_path" where kind == "misc":
                    let path = item.arguments.joined(separator: " ")
                    guard path.utf8.contains(where: { $0 != 0x20 }) else { throw Failure(line: item.line, "misc_path: a program expected") }
                    miscPath = path
                case "misc_timeout" where kind == "misc":
                    miscTimeout = try Values.timer(item)
                case "misc_dynamic" where kind == "misc":
                    warn(item.line, "misc_dynamic: weights from the exit status are not supported (exit 0 passes, anything else fails)")
                case "user" where kind == "misc":
                    warn(item.line, "user: checks run as the checker's user (root): ignored")
                default:
                    warn(item.line, "\(item.keyword): unknown in \(statement.keyword): ignored")
                }
            }
            let settings = outer.overridden(by: own)
            let interval = settings.delayLoop ?? "60"
            var check = Check(kind: kind, settings: [])
            check.settings.append(("interval", interval))
            if kind == "misc" {
                check.settings.append(("timeout", miscTimeout ?? interval))
            } else {
                check.settings.append(("timeout", settings.connectTimeout ?? "5"))
            }
            // keepalived puts a server back after one successful check, and takes it out after
            // the first failure and `retry` more (retry: 1 by default, 0 for MISC_CHECK).
            check.settings.append(("rise", "1"))
            check.settings.append(("fall", "\((settings.retry ?? (kind == "misc" ? 0 : 1)) + 1)"))
            check.settings.append(("retry_interval", settings.delayBeforeRetry ?? (kind == "http" || kind == "https" ? "3" : "1")))
            if kind != "misc" {
                // Ours checks the port of the -a line, which ipvsadm sets to the service's for a
                // DR or TUN server of an address:port service; keepalived checked connect_port,
                // else the port its real_server line names.
                let tablePort = servicePort.flatMap { server.forwarding == .nat ? nil : $0 } ?? server.port ?? servicePort
                if let port = connectPort ?? server.port, port != 0, port != tablePort {
                    check.settings.append(("port", "\(port)"))
                } else if (connectPort ?? server.port ?? 0) == 0 && (tablePort ?? 0) == 0 {
                    warn(statement.line, "\(statement.keyword) of a real server without a port: give connect_port")
                }
                if let connectIP { check.settings.append(("address", connectIP)) }
            }
            if kind == "http" || kind == "https" {
                var path = "/"
                var statuses = "200-299"
                var host = settings.virtualhost
                if let url = urls.first {
                    var sawPath = false
                    for item in url.block ?? [] {
                        switch item.keyword {
                        case "path":
                            path = try Values.one(item)
                            guard path.hasPrefix("/") else { throw Failure(line: item.line, "path: a path starting with '/' expected") }
                            sawPath = true
                        case "status_code":
                            statuses = try Values.statuses(item)
                        case "virtualhost":
                            host = try Values.host(item)
                        case "digest":
                            warn(item.line, "digest: comparing the page's MD5 is not supported (status_code and body= are)")
                        case "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
                            warn(item.line, "\(item.keyword): regular expressions are not supported (body= matches a substring)")
                        default:
                            warn(item.line, "\(item.keyword): unknown in url: ignored")
                        }
                    }
                    if !sawPath { warn(url.line, "url without path: checking /") }
                    for other in urls.dropFirst() {
                        warn(other.line, "url: one URL per check: only the first (line \(url.line)) is carried over")
                    }
                } else {
                    warn(statement.line, "\(statement.keyword) without url: checking /")
                }
                check.settings.append(("path", path))
                check.settings.append(("status", statuses))
                if let host { check.settings.append(("host", host)) }
            }
            if kind == "misc" {
                guard let miscPath else { throw Failure(line: statement.line, "MISC_CHECK without misc_path") }
                check.settings.append(("command", miscPath))
                // keepalived splits misc_path on blanks, with single quotes grouping: only a
                // shell splits the same way once quotes are in it.
                if miscPath.utf8.contains(UInt8(ascii: "'")) { check.settings.append(("shell", "yes")) }
            }
            if settings.alpha == true { check.settings.append(("start", "down")) }
            return check
        }
    }
}

extension KeepalivedConverter.Forwarding {
    var isTunnel: Bool { if case .tun = self { return true } else { return false } }
}

// MARK: - Values

extension KeepalivedConverter {
    enum Values {
        typealias Failure = KeepalivedConverter.Failure

        static func one(_ item: KeepalivedStatement) throws(Failure) -> String {
            guard item.words.count == 2 else {
                throw Failure(line: item.line, item.words.count < 2 ? "\(item.keyword): a value expected" : "\(item.keyword): one value expected")
            }
            return item.words[1]
        }

        /// A virtual host: a name without blanks or control characters.
        static func host(_ item: KeepalivedStatement) throws(Failure) -> String {
            let name = try one(item)
            guard !name.isEmpty, !name.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) else {
                throw Failure(line: item.line, "\(item.keyword): a host name expected")
            }
            return name
        }

        static func integer(_ item: KeepalivedStatement, _ range: ClosedRange<Int>) throws(Failure) -> Int {
            let text = try one(item)
            guard text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text),
                range.contains(value)
            else { throw Failure(line: item.line, "\(item.keyword): a number from \(range.lowerBound) to \(range.upperBound) expected") }
            return value
        }

        /// keepalived's TIMER: seconds, possibly with a fraction; written back as given
        /// (without leading zeros). A check's periods and timeouts are from 0.01 to 86400
        /// seconds (the declarations' range); a warmup may be 0.
        static func timer(_ item: KeepalivedStatement, warmup: Bool = false) throws(Failure) -> String {
            let text = try one(item)
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].utf8.count <= 7,
                parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
                parts.count == 1 || (!parts[1].isEmpty && parts[1].utf8.count <= 6),
                let value = Double(text), warmup || (0.01...86400).contains(value)
            else {
                throw Failure(line: item.line, warmup ? "\(item.keyword): seconds expected" : "\(item.keyword): seconds from 0.01 to 86400 expected")
            }
            var whole = String(parts[0].drop { $0 == "0" })
            if whole.isEmpty { whole = "0" }
            if parts.count == 2 {
                let fraction = String(parts[1].reversed().drop { $0 == "0" }.reversed())
                if !fraction.isEmpty { return whole + "." + fraction }
            }
            return whole
        }

        /// keepalived's booleans: no value means yes.
        static func boolean(_ item: KeepalivedStatement) throws(Failure) -> Bool {
            guard item.words.count > 1 else { return true }
            switch try one(item).lowercased() {
            case "yes", "on", "true", "1": return true
            case "no", "off", "false", "0": return false
            default: throw Failure(line: item.line, "\(item.keyword): yes or no expected")
            }
        }

        static func address(_ text: String, line: Int, what: String) throws(Failure) -> IPAddress {
            if let address = IPAddress.parse(text, with: IPAddress.parseIPv4Strict) ?? IPAddress.parse(text, with: IPAddress.parseIPv6) {
                return address
            }
            throw Failure(line: line, "\(what): '\(text)' is not an IP address")
        }

        static func port(_ text: String, line: Int, what: String, zero: Bool = true) throws(Failure) -> UInt16 {
            guard text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let port = UInt16(text),
                zero || port > 0
            else {
                throw Failure(line: line, "\(what): '\(text)' is not a port")
            }
            return port
        }

        /// `1.2.3.4:80`, `[2001:db8::1]:80`; without a port the address alone (ipvsadm takes
        /// `[2001:db8::1]` only with a port).
        static func endpoint(_ address: IPAddress, _ port: UInt16?) -> String {
            guard let port else { return "\(address)" }
            return address.family == .inet6 ? "[\(address)]:\(port)" : "\(address):\(port)"
        }

        static func forwarding(_ item: KeepalivedStatement) throws(Failure) -> Forwarding {
            let args = Array(item.arguments)
            guard let method = args.first else { throw Failure(line: item.line, "\(item.keyword): NAT, DR or TUN expected") }
            switch method.uppercased() {
            case "NAT", "DR":
                guard args.count == 1 else { throw Failure(line: item.line, "\(item.keyword): unexpected '\(args[1])'") }
                return method.uppercased() == "NAT" ? .nat : .dr
            case "TUN":
                var options: [String] = []
                var rest = args.dropFirst()
                if rest.first == "type" {
                    rest = rest.dropFirst()
                    switch rest.first {
                    case "ipip":
                        rest = rest.dropFirst()
                    case "gre":
                        options += ["--tun-type", "gre"]
                        rest = rest.dropFirst()
                    case "gue":
                        rest = rest.dropFirst()
                        guard rest.first == "port", rest.count >= 2 else {
                            throw Failure(line: item.line, "\(item.keyword): TUN type gue needs port N")
                        }
                        let port = try port(rest[rest.startIndex + 1], line: item.line, what: item.keyword)
                        guard port > 0 else { throw Failure(line: item.line, "\(item.keyword): TUN type gue needs a port from 1 to 65535") }
                        options += ["--tun-type", "gue", "--tun-port", "\(port)"]
                        rest = rest.dropFirst(2)
                    default:
                        throw Failure(line: item.line, "\(item.keyword): TUN type ipip, gue or gre expected")
                    }
                    if let checksum = rest.first {
                        switch checksum {
                        case "nocsum": options.append("--tun-nocsum")
                        case "csum": options.append("--tun-csum")
                        case "remcsum" where options.contains("gue"): options.append("--tun-remcsum")
                        default: throw Failure(line: item.line, "\(item.keyword): unexpected '\(checksum)'")
                        }
                        rest = rest.dropFirst()
                    }
                }
                if let extra = rest.first { throw Failure(line: item.line, "\(item.keyword): unexpected '\(extra)'") }
                if options.contains("--tun-csum") || options.contains("--tun-nocsum") {
                    if !options.contains("--tun-type") {
                        throw Failure(line: item.line, "\(item.keyword): checksum options need TUN type gue or gre")
                    }
                }
                return .tun(options: options)
            default:
                throw Failure(line: item.line, "\(item.keyword): unknown forwarding method '\(method)' (NAT, DR or TUN)")
            }
        }

        /// `persistence_granularity`: a dotted mask for IPv4, a prefix length for IPv6.
        static func netmask(_ text: String, family: AddressFamily, line: Int) throws(Failure) -> String {
            if family == .inet6 {
                guard text.utf8.count <= 3, let prefix = Int(text), (1...128).contains(prefix) else {
                    throw Failure(line: line, "persistence_granularity: a prefix length from 1 to 128 expected")
                }
                return "\(prefix)"
            }
            guard let mask = IPAddress.parse(text, with: IPAddress.parseIPv4Strict), mask.family == .inet else {
                throw Failure(line: line, "persistence_granularity: a netmask expected")
            }
            return "\(mask)"
        }

        /// `status_code 200 300-399`: `200|300-399`.
        static func statuses(_ item: KeepalivedStatement) throws(Failure) -> String {
            guard item.words.count > 1 else { throw Failure(line: item.line, "status_code: a status expected") }
            var parts: [String] = []
            for word in item.arguments {
                let bounds = word.split(separator: "-", omittingEmptySubsequences: false)
                var values: [Int] = []
                for bound in bounds {
                    guard bound.utf8.count == 3, let value = Int(bound), (100...599).contains(value) else {
                        throw Failure(line: item.line, "status_code: '\(word)' is not a status from 100 to 599 or a range")
                    }
                    values.append(value)
                }
                guard values.count == 1 || (values.count == 2 && values[0] <= values[1]) else {
                    throw Failure(line: item.line, "status_code: '\(word)' is not a status from 100 to 599 or a range")
                }
                parts.append(values.map { "\($0)" }.joined(separator: "-"))
            }
            return parts.joined(separator: "|")
        }
    }
}
