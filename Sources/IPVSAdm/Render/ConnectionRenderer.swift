import IPVS

/// One line of the kernel's connection table (`/proc/net/ip_vs_conn`), read the way
/// ipvsadm's `sscanf` reads it (`%s %s %hX %s %hX %s %hX %s %d %s %s`): fields after the first
/// that does not convert are empty or 0.
struct ConnectionLine {
    var protocolText: String
    var proto: IPProtocolNumber
    var client: IPAddress
    var clientPort: UInt16
    var virtual: IPAddress
    var virtualPort: UInt16
    var destination: IPAddress
    var destinationPort: UInt16
    var state: String
    /// Seconds left, as the kernel printed it (`%d`).
    var expires: Int32
    var engine: String
    var engineData: String
    /// How many of the eleven fields converted.
    var matched: Int

    /// nil for a line with no field at all (where ipvsadm's listing ends).
    init?(_ line: Substring) {
        // sscanf reads a C string, to its first NUL, in fields separated by isspace's white
        // space; by scalars, as to Swift "\r\n" or a space and a combining mark are one
        // Character.
        let words = line.unicodeScalars.prefix { $0 != "\0" }
            .split(whereSeparator: { $0 == " " || ("\t"..."\r").contains($0) }).map(Substring.init)
        guard !words.isEmpty else { return nil }
        var matched = 0
        var numbers: [Int: UInt32] = [:]
        for (index, word) in words.prefix(11).enumerated() {
            if [2, 4, 6].contains(index) {
                guard let value = ConnectionLine.hexPrefix(word) else { break }
                numbers[index] = value & 0xffff
            } else if index == 8 {
                guard let value = Int64(word.prefix { $0.isNumber || $0 == "-" }) else { break }
                numbers[index] = UInt32(truncatingIfNeeded: value)
            }
            matched += 1
        }
        func text(_ i: Int) -> String { i < words.count && i < matched ? String(words[i]) : "" }
        protocolText = text(0)
        proto = IPProtocolNumber(kernelName: protocolText) ?? IPProtocolNumber(rawValue: 0)
        if let v6 = IPAddress.parse(text(1), with: IPAddress.parseIPv6) {
            client = v6
            virtual = IPAddress.parse(text(3), with: IPAddress.parseIPv6) ?? IPAddress(family: .inet6, high: 0, low: 0)
        } else if let v4 = IPAddress.parse(text(1), with: IPAddress.parseIPv4Strict) {
            client = v4
            virtual = IPAddress.parse(text(3), with: IPAddress.parseIPv4Strict) ?? IPAddress(ipv4: 0)
        } else {
            client = IPAddress(ipv4: ConnectionLine.hexPrefix(Substring(text(1))) ?? 0)
            virtual = IPAddress(ipv4: ConnectionLine.hexPrefix(Substring(text(3))) ?? 0)
        }
        destination = IPAddress.parse(text(5), with: IPAddress.parseIPv6) ?? IPAddress.parse(text(5), with: IPAddress.parseIPv4Strict)
            ?? IPAddress(ipv4: ConnectionLine.hexPrefix(Substring(text(5))) ?? 0)
        clientPort = UInt16(numbers[2] ?? 0)
        virtualPort = UInt16(numbers[4] ?? 0)
        destinationPort = UInt16(numbers[6] ?? 0)
        state = text(7)
        expires = Int32(bitPattern: numbers[8] ?? 0)
        engine = text(9)
        engineData = text(10)
        self.matched = matched
    }

    /// A piece of the file as `PieceCutter` hands it over. The kernel's own lines (ASCII,
    /// eleven or fewer words, addresses as 8 hexadecimal digits or IPv6 text, ports as
    /// hexadecimal, the expiry as decimal digits) are read from the bytes directly, their
    /// repeated words (protocol, state, engine) taken from `texts`; anything else is read as
    /// `init(_:)` reads text, so both read every piece the same way.
    init?(bytes: UnsafeRawBufferPointer, texts: inout ConnectionTexts) {
        if let fast = ConnectionLine.kernelLine(bytes, &texts) {
            self = fast
        } else {
            self.init(Substring(String(decoding: bytes, as: UTF8.self)))
        }
    }

    private init(
        protocolText: String, proto: IPProtocolNumber, client: IPAddress, clientPort: UInt16, virtual: IPAddress,
        virtualPort: UInt16, destination: IPAddress, destinationPort: UInt16, state: String, expires: Int32,
        engine: String, engineData: String, matched: Int
    ) {
        self.protocolText = protocolText
        self.proto = proto
        self.client = client
        self.clientPort = clientPort
        self.virtual = virtual
        self.virtualPort = virtualPort
        self.destination = destination
        self.destinationPort = destinationPort
        self.state = state
        self.expires = expires
        self.engine = engine
        self.engineData = engineData
        self.matched = matched
    }

    /// The fast reading of a line in the kernel's format, nil for any other. Hot path (once per
    /// connection of tables of hundreds of thousands): one pass over the bytes, no closure, no
    /// string made for a word the table repeats.
    private static func kernelLine(_ bytes: UnsafeRawBufferPointer, _ texts: inout ConnectionTexts) -> ConnectionLine? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var words = WordCursor(base: base, end: bytes.count)
        func word(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
        }
        guard let w0 = words.next() else { return nil }
        let client: IPAddress, clientPort: UInt16, virtual: IPAddress, virtualPort: UInt16
        let destination: IPAddress, destinationPort: UInt16
        if let fixed = fixedIPv4(base, at: words.at, end: bytes.count) {
            (client, clientPort, virtual, virtualPort, destination, destinationPort) = fixed
            words.at += 42
        } else {
            guard let w1 = words.next(), let w2 = words.next(), let w3 = words.next(), let w4 = words.next(),
                let w5 = words.next(), let w6 = words.next(),
                let c = address(word(w1)), let v = address(word(w3)), c.family == v.family,
                let d = address(word(w5)), d.family == c.family,
                let cp = port(word(w2)), let vp = port(word(w4)), let dp = port(word(w6))
            else { return nil }
            (client, clientPort, virtual, virtualPort, destination, destinationPort) = (c, cp, v, vp, d, dp)
        }
        guard let w7 = words.next(), let w8 = words.next(), let expires = seconds(word(w8)) else { return nil }
        let w9 = words.next()
        let w10 = w9 == nil ? nil : words.next()
        guard words.restIsClean() else { return nil }
        let protocolText = texts.text(word(w0))
        return ConnectionLine(
            protocolText: protocolText, proto: ConnectionLine.protocolNumber(word(w0)), client: client,
            clientPort: clientPort, virtual: virtual, virtualPort: virtualPort, destination: destination,
            destinationPort: destinationPort, state: texts.text(word(w7)), expires: expires,
            engine: w9.map { texts.text(word($0)) } ?? "",
            engineData: w10.map { String(decoding: word($0), as: UTF8.self) } ?? "",
            matched: w10 != nil ? 11 : (w9 != nil ? 10 : 9))
    }

    /// The six words after the protocol as the kernel prints an IPv4 connection
    /// (`" %08X %04X %08X %04X %08X %04X"`, 42 bytes from `at`, then white space): the ends
    /// and their ports, read where they must be; nil when the bytes are not exactly that (the
    /// words are then read one by one, with the same result for the same words).
    private static func fixedIPv4(
        _ base: UnsafePointer<UInt8>, at: Int, end: Int
    ) -> (IPAddress, UInt16, IPAddress, UInt16, IPAddress, UInt16)? {
        guard at + 42 < end, WordCursor.isSpace(base[at + 42]) else { return nil }
        let p = base + at
        guard p[0] == 0x20, p[9] == 0x20, p[14] == 0x20, p[23] == 0x20, p[28] == 0x20, p[37] == 0x20,
            let client = hex(p + 1, 8), let clientPort = hex(p + 10, 4), let virtual = hex(p + 15, 8),
            let virtualPort = hex(p + 24, 4), let destination = hex(p + 29, 8), let destinationPort = hex(p + 38, 4)
        else { return nil }
        return (
            IPAddress(ipv4: client), UInt16(truncatingIfNeeded: clientPort), IPAddress(ipv4: virtual),
            UInt16(truncatingIfNeeded: virtualPort), IPAddress(ipv4: destination), UInt16(truncatingIfNeeded: destinationPort)
        )
    }

    /// `count` (at most 8) hexadecimal digits at `p`.
    @inline(__always) private static func hex(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt32? {
        var value: UInt32 = 0
        for index in 0..<count {
            guard let digit = hexDigit(p[index]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// `IPProtocolNumber(kernelName:)` of a word's bytes.
    private static func protocolNumber(_ word: UnsafeBufferPointer<UInt8>) -> IPProtocolNumber {
        switch (word.count, word.first) {
        case (3, 0x54) where word[1] == 0x43 && word[2] == 0x50: return .tcp  // TCP
        case (3, 0x55) where word[1] == 0x44 && word[2] == 0x50: return .udp  // UDP
        case (4, 0x53) where word[1] == 0x43 && word[2] == 0x54 && word[3] == 0x50: return .sctp  // SCTP
        default: return IPProtocolNumber(rawValue: 0)
        }
    }

    /// The words of a piece, as `sscanf`'s `%s` finds them (separated by isspace's white
    /// space), and whether every byte so far is ASCII other than NUL (the fast reading's
    /// condition).
    private struct WordCursor {
        let base: UnsafePointer<UInt8>
        let end: Int
        var at = 0
        var clean = true

        @inline(__always) static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte &- 0x09 < 5 }

        /// The next word's range, nil at the end of the piece.
        mutating func next() -> Range<Int>? {
            while at < end && WordCursor.isSpace(base[at]) { at += 1 }
            guard at < end else { return nil }
            let start = at
            while at < end {
                let byte = base[at]
                if WordCursor.isSpace(byte) { break }
                if byte == 0 || byte >= 0x80 { clean = false }
                at += 1
            }
            return start..<at
        }

        /// Whether the words read and the rest of the piece are ASCII without NUL.
        mutating func restIsClean() -> Bool {
            while clean && at < end {
                let byte = base[at]
                if byte == 0 || byte >= 0x80 { clean = false }
                at += 1
            }
            return clean
        }
    }

    /// 8 hexadecimal digits (the kernel's `%08X` of an IPv4 address), or an IPv6 address.
    private static func address(_ word: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if word.count == 8, let base = word.baseAddress {
            return hex(base, 8).map(IPAddress.init(ipv4:))
        }
        guard word.contains(0x3a) else { return nil }
        return IPAddress.parseIPv6(word)
    }

    /// 1 to 4 hexadecimal digits.
    private static func port(_ word: UnsafeBufferPointer<UInt8>) -> UInt16? {
        guard (1...4).contains(word.count), let base = word.baseAddress else { return nil }
        return hex(base, word.count).map { UInt16(truncatingIfNeeded: $0) }
    }

    /// 1 to 9 decimal digits.
    private static func seconds(_ word: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard (1...9).contains(word.count) else { return nil }
        var value: Int32 = 0
        for byte in word {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int32(byte - 0x30)
        }
        return value
    }

    @inline(__always) private static func hexDigit(_ byte: UInt8) -> UInt8? {
        let decimal = byte &- 0x30
        if decimal < 10 { return decimal }
        let letter = (byte | 0x20) &- 0x61  // a-f and A-F
        return letter < 6 ? letter &+ 10 : nil
    }

    /// The leading hexadecimal digits of a word, as `%X`/`strtoul(…, 16)` read them.
    static func hexPrefix(_ word: Substring) -> UInt32? {
        var body = word
        if body.hasPrefix("0x") || body.hasPrefix("0X") { body = body.dropFirst(2) }
        let digits = body.prefix { $0.isHexDigit }
        guard !digits.isEmpty else { return nil }
        return UInt32(truncatingIfNeeded: UInt64(digits.suffix(16), radix: 16) ?? 0)
    }
}

/// `-c`: the kernel's connection table re-printed as ipvsadm does, with names unless `-n`,
/// and the persistence-engine columns with `--persistent-conn`.
struct ConnectionRenderer {
    let renderer: ListRenderer

    var header: String {
        if renderer.format.persistentConn {
            return "IPVS connection entries\npro expire " + TextFormat.left("state", 11) + " "
                + TextFormat.left("source", 18) + " " + TextFormat.left("virtual", 18) + " "
                + TextFormat.left("destination", 18) + " " + TextFormat.left("pe name", 16) + " pe_data\n"
        }
        return "IPVS connection entries\npro expire " + TextFormat.left("state", 11) + " "
            + TextFormat.left("source", 18) + " " + TextFormat.left("virtual", 18) + " destination\n"
    }

    /// One row, appended to `out`.
    func append(_ c: ConnectionLine, into out: inout TextBuffer) {
        if renderer.names.numeric { return appendNumeric(c, into: &out) }
        out.append(c.protocolText, left: 3)
        out.append(byte: 0x20)
        expire(c.expires, left: 6, into: &out)
        out.append(byte: 0x20)
        out.append(c.state, left: 11)
        out.append(byte: 0x20)
        let names = renderer.names
        endpoint(c.client, c.clientPort, c.proto, names, left: 18, into: &out)
        out.append(byte: 0x20)
        endpoint(c.virtual, c.virtualPort, c.proto, names, left: 18, into: &out)
        out.append(byte: 0x20)
        if renderer.format.persistentConn && c.matched == 11 {
            endpoint(c.destination, c.destinationPort, c.proto, names, left: 18, into: &out)
            out.append(byte: 0x20)
            out.append(c.engine, left: 16)
            out.append(byte: 0x20)
            out.append(c.engineData)
        } else {
            endpoint(c.destination, c.destinationPort, c.proto, names, left: 0, into: &out)
        }
        out.append(byte: 0x0a)
    }

    /// `append` with `-n` (hot path: a row per connection of tables of hundreds of thousands),
    /// written in place: the same bytes.
    private func appendNumeric(_ c: ConnectionLine, into out: inout TextBuffer) {
        // The words of one piece (255 bytes, each replaced byte 3) and three IPv6 endpoints
        // with the padding.
        let capacity = c.protocolText.utf8.count + c.state.utf8.count + c.engine.utf8.count + c.engineData.utf8.count + 320
        let persistent = renderer.format.persistentConn && c.matched == 11
        out.appendRow(capacity: capacity) { row in
            row.text(c.protocolText, left: 3)
            row.byte(0x20)
            ConnectionRenderer.expire(c.expires, left: 6, into: &row)
            row.byte(0x20)
            row.text(c.state, left: 11)
            row.byte(0x20)
            ConnectionRenderer.numeric(c.client, c.clientPort, left: 18, into: &row)
            row.byte(0x20)
            ConnectionRenderer.numeric(c.virtual, c.virtualPort, left: 18, into: &row)
            row.byte(0x20)
            if persistent {
                ConnectionRenderer.numeric(c.destination, c.destinationPort, left: 18, into: &row)
                row.byte(0x20)
                row.text(c.engine, left: 16)
                row.byte(0x20)
                row.text(c.engineData)
            } else {
                ConnectionRenderer.numeric(c.destination, c.destinationPort, left: 0, into: &row)
            }
            row.byte(0x0a)
        }
    }

    /// `ADDR:PORT` (`[ADDR6]:PORT`), as `EndpointNames` writes it with `-n`, padded to `width`.
    private static func numeric(_ address: IPAddress, _ port: UInt16, left width: Int, into row: inout RowWriter) {
        let start = row.count
        EndpointNames.writeNumeric(address, port: port, into: &row)
        row.pad(from: start, to: width)
    }

    /// `--conn-summary`: a title with the totals, then a line per group.
    func append(_ summary: ConnectionSummary, into out: inout TextBuffer) {
        out.append("IPVS connection summary: ")
        out.append(decimal: summary.total)
        out.append(summary.total == 1 ? " connection in " : " connections in ")
        out.append(decimal: summary.groups.count)
        out.append(summary.groups.count == 1 ? " group\n" : " groups\n")
        out.append("pro ")
        out.append("virtual", left: 18)
        out.append(" ")
        out.append("destination", left: 18)
        out.append(" ")
        out.append("state", left: 11)
        out.append(" connections soonest latest\n")
        let names = renderer.names
        for (group, counts) in summary.sorted {
            out.append(group.protocolText, left: 3)
            out.append(byte: 0x20)
            endpoint(group.virtual, group.virtualPort, group.proto, names, left: 18, into: &out)
            out.append(byte: 0x20)
            endpoint(group.destination, group.destinationPort, group.proto, names, left: 18, into: &out)
            out.append(byte: 0x20)
            out.append(group.state, left: 11)
            out.append(byte: 0x20)
            out.append(decimal: counts.connections, right: 11)
            out.append(byte: 0x20)
            expire(counts.soonest, left: 7, into: &out)
            out.append(byte: 0x20)
            expire(counts.latest, left: 0, into: &out)
            out.append(byte: 0x0a)
        }
    }

    /// `expire`, appended to a text buffer (the summary and rows with names).
    private func expire(_ seconds: Int32, left width: Int, into out: inout TextBuffer) {
        out.appendRow(capacity: 32) { ConnectionRenderer.expire(seconds, left: width, into: &$0) }
    }

    /// `%02d:%02d` of the seconds as the kernel printed them (unsigned), padded to `width`
    /// (at most 11 bytes and the padding).
    private static func expire(_ seconds: Int32, left width: Int, into row: inout RowWriter) {
        let expires = UInt32(bitPattern: seconds)
        let start = row.count
        if expires / 60 < 10 { row.byte(0x30) }
        row.decimal(expires / 60)
        row.byte(0x3a)
        if expires % 60 < 10 { row.byte(0x30) }
        row.decimal(expires % 60)
        row.pad(from: start, to: width)
    }

    private func endpoint(
        _ address: IPAddress, _ port: UInt16, _ proto: IPProtocolNumber, _ names: EndpointNames, left width: Int,
        into out: inout TextBuffer
    ) {
        let start = out.count
        names.append(address, port: port, protocol: proto, into: &out)
        out.spaces(width - (out.count - start))
    }
}

/// The words a connection table repeats on every line (protocols, states, engine names), made
/// into strings once: a word of up to 16 bytes is compared with the few met before and their
/// string reused. Holds at most 64 words, whatever the table.
struct ConnectionTexts {
    private struct Known {
        var high: UInt64
        var low: UInt64
        var count: Int
        var text: String
    }

    private var known: [Known] = []
    private static let limit = 64

    /// The word as a string.
    mutating func text(_ word: UnsafeBufferPointer<UInt8>) -> String {
        guard word.count <= 16 else { return String(decoding: word, as: UTF8.self) }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<word.count {
            if index < 8 {
                high |= UInt64(word[index]) << (8 * UInt64(index))
            } else {
                low |= UInt64(word[index]) << (8 * UInt64(index - 8))
            }
        }
        for index in known.indices
        where known[index].high == high && known[index].low == low && known[index].count == word.count {
            return known[index].text
        }
        let text = String(decoding: word, as: UTF8.self)
        if known.count < ConnectionTexts.limit { known.append(Known(high: high, low: low, count: word.count, text: text)) }
        return text
    }
}
