import IPVS

extension HealthRecord {
    /// The -Ln text of a service, with one space: "TCP 192.168.56.185:80",
    /// "UDP [2001:db8::1]:53", "FWM 7", "FWM 7 IPv6".
    public static func serviceText(_ key: ServiceKey) -> String {
        switch key {
        case .firewallMark(let mark, let family):
            return family == .inet6 ? "FWM \(mark) IPv6" : "FWM \(mark)"
        case .address(let proto, let address, let port):
            return (proto.kernelName ?? String(proto.rawValue)) + " " + serverText(address, port: port)
        }
    }

    /// "192.168.56.183:80", "[2001:db8::1]:80".
    public static func serverText(_ address: IPAddress, port: UInt16) -> String {
        address.family == .inet6 ? "[\(address.text)]:\(port)" : "\(address.text):\(port)"
    }
}

extension HealthStateFile {
    /// The first field of the first line: the format and its version.
    static let magic = "ipvsadm-health 1"

    /// The file's text: a header line, then one line per server (`server`) and per sorry
    /// server the checker added (`sorry`); fields separated by one TAB, `key=value`, values
    /// percent-encoded. Optional values that are unknown are left out.
    public func encode() -> String { String(decoding: encodedBytes(), as: UTF8.self) }

    /// `encode()`'s bytes, as the daemon writes them every heartbeat: appended to one array,
    /// no string made per field (hot path: a thousand servers every 5 s).
    public func encodedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + rules.utf8.count + records.count * 200)
        out += HealthStateFile.magic.utf8
        out += "\tpid=".utf8
        HealthStateFile.appendInteger(pid, to: &out)
        out += "\theartbeat=".utf8
        HealthStateFile.appendFixed(heartbeat, 3, to: &out)
        out += "\trules=".utf8
        HealthStateFile.appendPercentEncoded(rules, to: &out)
        out.append(0x0a)
        for record in records {
            out += record.sorry ? "sorry\tservice=".utf8 : "server\tservice=".utf8
            HealthStateFile.appendPercentEncoded(record.service, to: &out)
            out += "\tserver=".utf8
            HealthStateFile.appendPercentEncoded(record.server, to: &out)
            out += "\tstate=".utf8
            out += record.state.rawValue.utf8
            out += "\tdeclared=".utf8
            HealthStateFile.appendInteger(record.declaredWeight, to: &out)
            out += "\tweight=".utf8
            HealthStateFile.appendInteger(record.weight, to: &out)
            out += "\tsince=".utf8
            HealthStateFile.appendFixed(record.since, 3, to: &out)
            if let checked = record.checked {
                out += "\tchecked=".utf8
                HealthStateFile.appendFixed(checked, 3, to: &out)
            }
            if let ok = record.ok { out += ok ? "\tok=1".utf8 : "\tok=0".utf8 }
            if let duration = record.duration {
                out += "\tduration=".utf8
                HealthStateFile.appendFixed(duration, 6, to: &out)
            }
            out += "\tmessage=".utf8
            HealthStateFile.appendPercentEncoded(record.message, to: &out)
            out += "\tcheck=".utf8
            HealthStateFile.appendPercentEncoded(record.check, to: &out)
            out.append(0x0a)
        }
        return out
    }

    /// Reads a state file: nil when its header is not this format's (another file, a newer
    /// version, a cut write). Unknown keys and unknown line kinds are skipped (a newer
    /// checker may add them); a record without its service, server or a known state is
    /// skipped.
    public static func decode(_ text: String) -> HealthStateFile? {
        // Lines by bytes ("\r\n" would be one Character).
        var lines = text.utf8.split(separator: 0x0a, omittingEmptySubsequences: true).lazy
            .map { Substring($0) }.makeIterator()
        guard let header = lines.next() else { return nil }
        var fields = header.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.first == Substring(magic) else { return nil }
        fields.removeFirst()
        var pid: Int32?
        var heartbeat: Double?
        var rules = ""
        for (key, value) in keyValues(fields) {
            switch key {
            case "pid": pid = Int32(value)
            case "heartbeat": heartbeat = number(value)
            case "rules": rules = value
            default: break
            }
        }
        guard let pid, let heartbeat else { return nil }
        var records: [HealthRecord] = []
        while let line = lines.next() {
            var fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            let kind = fields.removeFirst()
            guard kind == "server" || kind == "sorry" else { continue }
            var service: String?
            var server: String?
            var state: HealthStateName?
            var record = HealthRecord(service: "", server: "", state: .unchecked, declaredWeight: 0, weight: 0, since: 0)
            record.sorry = kind == "sorry"
            for (key, value) in keyValues(fields) {
                switch key {
                case "service": service = value
                case "server": server = value
                case "state": state = HealthStateName(rawValue: value)
                case "declared": record.declaredWeight = Int32(value) ?? 0
                case "weight": record.weight = Int32(value) ?? 0
                case "since": record.since = number(value) ?? 0
                case "checked": record.checked = number(value)
                case "ok": record.ok = value == "1" ? true : value == "0" ? false : nil
                case "duration": record.duration = number(value)
                case "message": record.message = value
                case "check": record.check = value
                default: break
                }
            }
            guard let service, let server, let state else { continue }
            record.service = service
            record.server = server
            record.state = state
            records.append(record)
        }
        return HealthStateFile(pid: pid, heartbeat: heartbeat, rules: rules, records: records)
    }

    /// The record of a server of a service (`HealthRecord.serviceText`, `serverText`);
    /// checked servers only, not sorry servers.
    public func record(service: String, server: String) -> HealthRecord? {
        records.first { !$0.sorry && $0.service == service && $0.server == server }
    }

    /// Each `key=value` field, the value percent-decoded; fields without `=` or whose value
    /// does not decode are skipped.
    private static func keyValues(_ fields: [Substring]) -> [(String, String)] {
        fields.compactMap { field in
            guard let equals = field.firstIndex(of: "="),
                let value = CheckDeclaration.percentDecoded(field[field.index(after: equals)...])
            else { return nil }
            return (String(field[..<equals]), value)
        }
    }

    /// A finite number; nil otherwise.
    private static func number(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Bytes other than printable ASCII, and `%`, `=` (and `extra`), as `%XX`.
    static func percentEncoded(_ text: String, alsoEscaping extra: UInt8? = nil) -> String {
        guard text.utf8.contains(where: { needsEscape($0) || $0 == extra }) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        appendPercentEncoded(text, alsoEscaping: extra, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendPercentEncoded(_ text: String, alsoEscaping extra: UInt8? = nil, to out: inout [UInt8]) {
        for byte in text.utf8 {
            if needsEscape(byte) || byte == extra {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 15))
            } else {
                out.append(byte)
            }
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 0x30 + value : 0x37 + value }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte >= 0x7f || byte == UInt8(ascii: "%") || byte == UInt8(ascii: "=")
    }

    /// `value` with `decimals` digits after the point (timestamps: 3, durations: 6).
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var bytes: [UInt8] = []
        appendFixed(value, decimals, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendFixed(_ value: Double, _ decimals: Int, to out: inout [UInt8]) {
        guard value.isFinite else { return out.append(UInt8(ascii: "0")) }
        var scale: UInt64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let magnitude = (abs(value) * Double(scale)).rounded()
        guard magnitude < 9.0e18 else { return out += String(value).utf8 }
        let scaled = UInt64(magnitude)
        if value < 0 && scaled != 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(scaled / scale, to: &out)
        guard decimals > 0 else { return }
        out.append(UInt8(ascii: "."))
        // The fraction with its leading zeros: the digits of scale + fraction, without the 1.
        let mark = out.count
        appendDigits(scale + scaled % scale, to: &out)
        out.remove(at: mark)
    }

    static func appendInteger(_ value: Int32, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(UInt64(value.magnitude), to: &out)
    }

    static func appendDigits(_ value: UInt64, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            let count = DecimalDigits.write(value, at: buffer.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: count))
        }
    }
}
