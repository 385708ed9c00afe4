import IPVS

/// A declaration that cannot be used: its message, and the rules file's line when known.
public struct HealthDeclarationError: Error, Equatable, Sendable {
    public var line: Int?
    public var message: String

    public init(line: Int? = nil, message: String) {
        self.line = line
        self.message = message
    }

    /// "line N: message", or the message alone.
    public var text: String { line.map { "line \($0): \(message)" } ?? message }

    /// The same error, naming `line` unless it names one already.
    func at(line: Int) -> HealthDeclarationError {
        HealthDeclarationError(line: self.line ?? line, message: message)
    }
}

extension CheckDeclaration {
    /// The error of `--check` on a command line: checks live in a rules file.
    public static let onCommandLine = "ipvsadm: --check is read from a rules file (ipvsadm -R, --apply, ipvsadm-health)"

    /// The keys a declaration may give, by their plain names.
    enum Key: String, CaseIterable, Sendable {
        case interval, timeout, rise, fall
        case retryInterval = "retry_interval"
        case port, address, via, ramp, start
        case mode
        case path, status, body, host, verify
        case command, shell
        case threshold, sorry

        /// Keys of the service's -A line only: what the service does with its servers' verdicts.
        var isServiceLevel: Bool { self == .threshold || self == .sorry }

        /// Whether a check of `kind` uses the key (service-level keys: any kind).
        func applies(to kind: Kind) -> Bool {
            if isServiceLevel { return true }
            switch self {
            case .interval, .timeout, .rise, .fall, .retryInterval, .via, .ramp, .start: return kind != .none
            case .port, .address: return kind == .tcp || kind == .http || kind == .https
            case .mode: return kind == .tcp
            case .path, .status, .body, .host: return kind == .http || kind == .https
            case .verify: return kind == .https
            case .command, .shell: return kind == .misc
            case .threshold, .sorry: return true
            }
        }
    }

    /// A key as written: its plain name or keepalived's. `retry` and `nb_get_retry` count
    /// retries after the first failure (fall = N + 1).
    static func key(named name: String) -> (key: Key, isRetryCount: Bool)? {
        if let key = Key(rawValue: name) { return (key, false) }
        switch name {
        case "delay_loop": return (.interval, false)
        case "connect_timeout": return (.timeout, false)
        case "retry", "nb_get_retry": return (.fall, true)
        case "delay_before_retry": return (.retryInterval, false)
        case "connect_port": return (.port, false)
        case "connect_ip": return (.address, false)
        default: return nil
        }
    }

    /// Reads one `--check` word: `KIND[,KEY=VALUE]...`, or `KEY=VALUE[,KEY=VALUE]...` (an -a
    /// line overriding its service's check). Values are percent-decoded; every key must be
    /// known, given once, valid for the kind when the word names one, and its value must read.
    public static func parse(_ word: String) throws(HealthDeclarationError) -> CheckDeclaration {
        func fail(_ message: String) -> HealthDeclarationError { HealthDeclarationError(message: "--check: " + message) }
        guard !word.isEmpty else { throw fail("empty declaration") }
        var kind: Kind?
        var settings: [(key: String, value: String)] = []
        var seen: Set<Key> = []
        for (index, item) in word.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            guard let equals = item.firstIndex(of: "=") else {
                guard index == 0 else {
                    throw item.isEmpty ? fail("empty item in '\(word)'") : fail("'\(item)' is not KEY=VALUE")
                }
                guard let named = Kind(rawValue: String(item)) else {
                    throw fail("unknown check kind '\(item)' (tcp, http, https, misc, none)")
                }
                kind = named
                continue
            }
            let name = String(item[..<equals])
            guard let (key, _) = Self.key(named: name) else { throw fail("unknown key '\(name)'") }
            guard seen.insert(key).inserted else { throw fail("'\(key.rawValue)' given twice") }
            guard let value = percentDecoded(item[item.index(after: equals)...]) else {
                throw fail("\(name): bad percent escape or byte in '\(item[item.index(after: equals)...])'")
            }
            if let kind, !key.applies(to: kind) { throw fail("key '\(name)' does not apply to \(kind.rawValue) checks") }
            var check = Settings()
            try check.set(name, value)
            settings.append((name, value))
        }
        return CheckDeclaration(kind: kind, settings: settings)
    }

    /// The declaration as a `--check` word: the kind, then each key with its value
    /// percent-encoded (blanks, `,`, `%`, `=`, and bytes other than printable ASCII), so that
    /// `parse(word)` gives it back.
    public var word: String {
        var items: [String] = kind.map { [$0.rawValue] } ?? []
        for (key, value) in settings {
            items.append(key + "=" + HealthStateFile.percentEncoded(value, alsoEscaping: UInt8(ascii: ",")))
        }
        return items.joined(separator: ",")
    }

    /// `%XX` escapes decoded; nil for a bad escape, a NUL or invalid UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else {
            return text.utf8.contains(0) ? nil : String(text)
        }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        guard !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    /// The values of a declaration, read: what resolving overlays on the defaults.
    struct Settings {
        var spec = CheckSpec(kind: .tcp)
        var given: Set<Key> = []
        var threshold: Double?
        var sorry: (address: IPAddress, port: UInt16?)?

        /// Reads `value` for the key written `name` (plain or keepalived's).
        mutating func set(_ name: String, _ value: String) throws(HealthDeclarationError) {
            func fail(_ rule: String) -> HealthDeclarationError {
                HealthDeclarationError(message: "--check: \(name)=\(value): \(rule)")
            }
            guard let (key, isRetryCount) = CheckDeclaration.key(named: name) else {
                throw HealthDeclarationError(message: "--check: unknown key '\(name)'")
            }
            given.insert(key)
            switch key {
            case .interval:
                guard let seconds = Settings.seconds(value, 0.01...86400) else { throw fail(Settings.secondsRule) }
                spec.interval = seconds
            case .timeout:
                guard let seconds = Settings.seconds(value, 0.01...86400) else { throw fail(Settings.secondsRule) }
                spec.timeout = seconds
            case .retryInterval:
                guard let seconds = Settings.seconds(value, 0.01...86400) else { throw fail(Settings.secondsRule) }
                spec.retryInterval = seconds
            case .ramp:
                guard let seconds = Settings.seconds(value, 0...86400) else { throw fail("seconds from 0 to 86400") }
                spec.ramp = seconds
            case .rise:
                guard let count = Settings.integer(value, 1...1000) else { throw fail("a count from 1 to 1000") }
                spec.rise = count
            case .fall:
                if isRetryCount {
                    guard let count = Settings.integer(value, 0...999) else { throw fail("a count from 0 to 999") }
                    spec.fall = count + 1
                } else {
                    guard let count = Settings.integer(value, 1...1000) else { throw fail("a count from 1 to 1000") }
                    spec.fall = count
                }
            case .port:
                guard let port = Settings.integer(value, 1...65535) else { throw fail("a port from 1 to 65535") }
                spec.port = UInt16(port)
            case .address:
                guard let address = Settings.address(value) else { throw fail("an IPv4 or IPv6 address") }
                spec.address = address
            case .via:
                guard value == "vip" else { throw fail("the only path is 'vip'") }
                spec.viaVIP = true
            case .mode:
                guard let mode = CheckSpec.TCPMode(rawValue: value) else { throw fail("syn or connect") }
                spec.tcpMode = mode
            case .start:
                guard value == "up" || value == "down" else { throw fail("up or down") }
                spec.startDown = value == "down"
            case .path:
                guard value.hasPrefix("/") else { throw fail("a path starting with '/'") }
                spec.path = value
            case .status:
                guard let statuses = Settings.statuses(value) else {
                    throw fail("a status (100-599), a range N-M, or several joined by '|'")
                }
                spec.statuses = statuses
            case .body:
                guard !value.isEmpty else { throw fail("a non-empty text") }
                spec.body = value
            case .host:
                guard !value.isEmpty, !value.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) else {
                    throw fail("a host name")
                }
                spec.host = value
            case .verify:
                guard let flag = Settings.flag(value) else { throw fail("yes or no") }
                spec.verifyTLS = flag
            case .command:
                guard value.utf8.contains(where: { $0 != 0x20 }) else { throw fail("a program and its arguments") }
                spec.command = value
            case .shell:
                guard let flag = Settings.flag(value) else { throw fail("yes or no") }
                spec.shell = flag
            case .threshold:
                guard let fraction = Settings.seconds(value, 0...1) else { throw fail("a fraction from 0 to 1") }
                threshold = fraction
            case .sorry:
                guard let sorry = Settings.endpoint(value) else { throw fail("IP, IP:PORT or [IPv6]:PORT") }
                self.sorry = sorry
            }
        }

        static let secondsRule = "seconds from 0.01 to 86400"

        /// A plain decimal number (`5`, `0.5`), within `range`.
        static func seconds(_ text: String, _ range: ClosedRange<Double>) -> Double? {
            var dots = 0
            var digits = 0
            for byte in text.utf8 {
                if byte == UInt8(ascii: ".") {
                    dots += 1
                } else if byte >= 0x30 && byte <= 0x39 {
                    digits += 1
                } else {
                    return nil
                }
            }
            guard dots <= 1, digits > 0, digits <= 15, let value = Double(text), range.contains(value) else { return nil }
            return value
        }

        /// Plain digits, within `range`.
        static func integer(_ text: String, _ range: ClosedRange<Int>) -> Int? {
            guard !text.isEmpty, text.utf8.count <= 9, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = Int(text), range.contains(value)
            else { return nil }
            return value
        }

        static func flag(_ text: String) -> Bool? {
            switch text {
            case "yes": return true
            case "no": return false
            default: return nil
            }
        }

        static func address(_ text: String) -> IPAddress? {
            IPAddress.parse(text, with: IPAddress.parseIPv4Strict) ?? IPAddress.parse(text, with: IPAddress.parseIPv6)
        }

        /// `IP`, `IPv4:PORT`, `[IPv6]:PORT`, or a bare IPv6 address.
        static func endpoint(_ text: String) -> (address: IPAddress, port: UInt16?)? {
            if let address = address(text) { return (address, nil) }
            let host: Substring
            let portText: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                    return nil
                }
                host = text[text.index(after: text.startIndex)..<close]
                portText = text[text.index(close, offsetBy: 2)...]
                guard let v6 = IPAddress.parse(String(host), with: IPAddress.parseIPv6) else { return nil }
                guard let port = integer(String(portText), 1...65535) else { return nil }
                return (v6, UInt16(port))
            }
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard let v4 = IPAddress.parse(String(host), with: IPAddress.parseIPv4Strict),
                let port = integer(String(portText), 1...65535)
            else { return nil }
            return (v4, UInt16(port))
        }

        /// `200`, `200-299`, `200|301|302`, `200-204|301`.
        static func statuses(_ text: String) -> [ClosedRange<Int>]? {
            var ranges: [ClosedRange<Int>] = []
            for part in text.split(separator: "|", omittingEmptySubsequences: false) {
                let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2, let low = integer(String(bounds[0]), 100...599) else { return nil }
                let high = bounds.count == 2 ? integer(String(bounds[1]), 100...599) : low
                guard let high, low <= high else { return nil }
                ranges.append(low...high)
            }
            return ranges
        }
    }
}

extension CheckSpec {
    /// A server's check: the service's declaration (its -A line), overlaid key by key by the
    /// server's (its -a line); the server's kind, if given, replaces the service's (the
    /// service's keys that do not apply to it are dropped). nil: not checked (no declaration,
    /// or `none`). Service-level keys (threshold, sorry) on a server are an error.
    public static func resolve(service: CheckDeclaration?, server: CheckDeclaration?)
        throws(HealthDeclarationError) -> CheckSpec?
    {
        guard service != nil || server != nil else { return nil }
        for (name, _) in server?.settings ?? [] where CheckDeclaration.key(named: name)?.key.isServiceLevel == true {
            throw HealthDeclarationError(message: "--check: '\(name)' belongs on the service's -A line")
        }
        guard let kind = server?.kind ?? service?.kind else {
            throw HealthDeclarationError(
                message: "--check: no check kind (tcp, http, https, misc or none) for this server or its service")
        }
        guard let specKind = CheckSpec.Kind(rawValue: kind.rawValue) else {
            // `none`: keys of the server's own would be ignored; refused instead.
            if let (name, _) = server?.settings.first {
                throw HealthDeclarationError(message: "--check: key '\(name)' does not apply to none checks")
            }
            return nil
        }
        var settings = CheckDeclaration.Settings()
        settings.spec = CheckSpec(kind: specKind)
        for (name, value) in service?.settings ?? [] {
            guard let (key, _) = CheckDeclaration.key(named: name), !key.isServiceLevel, key.applies(to: kind) else {
                continue
            }
            try settings.set(name, value)
        }
        for (name, value) in server?.settings ?? [] {
            guard let (key, _) = CheckDeclaration.key(named: name) else {
                throw HealthDeclarationError(message: "--check: unknown key '\(name)'")
            }
            guard key.applies(to: kind) else {
                throw HealthDeclarationError(message: "--check: key '\(name)' does not apply to \(kind.rawValue) checks")
            }
            try settings.set(name, value)
        }
        if specKind == .misc && settings.spec.command == nil {
            throw HealthDeclarationError(message: "--check: a misc check needs command=PROGRAM")
        }
        return settings.spec
    }
}

extension ServiceHealthPolicy {
    /// What the service's -A line declares for its servers as a whole: threshold and sorry.
    public static func resolve(_ service: CheckDeclaration?) throws(HealthDeclarationError) -> ServiceHealthPolicy {
        var policy = ServiceHealthPolicy()
        guard let service else { return policy }
        var settings = CheckDeclaration.Settings()
        for (name, value) in service.settings {
            guard let (key, _) = CheckDeclaration.key(named: name), key.isServiceLevel else { continue }
            try settings.set(name, value)
        }
        if let threshold = settings.threshold { policy.threshold = threshold }
        policy.sorry = settings.sorry
        return policy
    }
}
