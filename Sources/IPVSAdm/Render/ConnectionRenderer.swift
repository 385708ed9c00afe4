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
    /// hexadecimal, the expiry as decimal digits) are read from the bytes directly; anything
    /// else is read as `init(_:)` reads text, so both read every piece the same way.
    init?(bytes: UnsafeRawBufferPointer) {
        if let fast = ConnectionLine.kernelLine(bytes) {
            self = fast
        } else {
            self.init(Substring(String(decoding: bytes, as: UTF8.self)))
        }
    }

    private init(
        protocolText: String, client: IPAddress, clientPort: UInt16, virtual: IPAddress, virtualPort: UInt16,
        destination: IPAddress, destinationPort: UInt16, state: String, expires: Int32, engine: String,
        engineData: String, matched: Int
    ) {
        self.protocolText = protocolText
        proto = IPProtocolNumber(kernelName: protocolText) ?? IPProtocolNumber(rawValue: 0)
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

    /// The fast reading of a line in the kernel's format, nil for any other.
    private static func kernelLine(_ bytes: UnsafeRawBufferPointer) -> ConnectionLine? {
        // Word boundaries of up to 11 words; ASCII without NUL only.
        var starts: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var ends = starts
        var count = 0
        var index = 0
        let total = bytes.count
        withUnsafeMutableBytes(of: &starts) { startBuffer in
            withUnsafeMutableBytes(of: &ends) { endBuffer in
                let startWords = startBuffer.bindMemory(to: Int.self)
                let endWords = endBuffer.bindMemory(to: Int.self)
                while index < total {
                    let byte = bytes[index]
                    if byte == 0x20 || (byte >= 0x09 && byte <= 0x0d) { index += 1; continue }
                    if byte == 0 || byte >= 0x80 { count = -1; return }
                    let start = index
                    while index < total {
                        let b = bytes[index]
                        if b == 0x20 || (b >= 0x09 && b <= 0x0d) { break }
                        if b == 0 || b >= 0x80 { count = -1; return }
                        index += 1
                    }
                    if count < 11 {
                        startWords[count] = start
                        endWords[count] = index
                        count += 1
                    }
                }
            }
        }
        guard count >= 9 else { return nil }
        return withUnsafeBytes(of: starts) { startBuffer in
            withUnsafeBytes(of: ends) { endBuffer -> ConnectionLine? in
                let startWords = startBuffer.bindMemory(to: Int.self)
                let endWords = endBuffer.bindMemory(to: Int.self)
                func word(_ i: Int) -> UnsafeRawBufferPointer {
                    UnsafeRawBufferPointer(rebasing: bytes[startWords[i]..<endWords[i]])
                }
                guard let client = address(word(1)), let virtual = address(word(3)), client.family == virtual.family,
                    let destination = address(word(5)), destination.family == client.family,
                    let clientPort = port(word(2)), let virtualPort = port(word(4)), let destinationPort = port(word(6)),
                    let expires = seconds(word(8))
                else { return nil }
                func text(_ i: Int) -> String { i < count ? String(decoding: word(i), as: UTF8.self) : "" }
                return ConnectionLine(
                    protocolText: text(0), client: client, clientPort: clientPort, virtual: virtual,
                    virtualPort: virtualPort, destination: destination, destinationPort: destinationPort,
                    state: text(7), expires: expires, engine: text(9), engineData: text(10), matched: count)
            }
        }
    }

    /// 8 hexadecimal digits (the kernel's `%08X` of an IPv4 address), or an IPv6 address.
    private static func address(_ word: UnsafeRawBufferPointer) -> IPAddress? {
        if word.count == 8 {
            var value: UInt32 = 0
            for byte in word {
                guard let digit = hexDigit(byte) else { return nil }
                value = value << 4 | UInt32(digit)
            }
            return IPAddress(ipv4: value)
        }
        guard word.contains(0x3a) else { return nil }
        return IPAddress.parseIPv6(word.bindMemory(to: UInt8.self))
    }

    /// 1 to 4 hexadecimal digits.
    private static func port(_ word: UnsafeRawBufferPointer) -> UInt16? {
        guard (1...4).contains(word.count) else { return nil }
        var value: UInt16 = 0
        for byte in word {
            guard let digit = hexDigit(byte) else { return nil }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// 1 to 9 decimal digits.
    private static func seconds(_ word: UnsafeRawBufferPointer) -> Int32? {
        guard (1...9).contains(word.count) else { return nil }
        var value: Int32 = 0
        for byte in word {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int32(byte - 0x30)
        }
        return value
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
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

    /// `%02d:%02d` of the seconds as the kernel printed them (unsigned), padded to `width`.
    private func expire(_ seconds: Int32, left width: Int, into out: inout TextBuffer) {
        let expires = UInt32(bitPattern: seconds)
        let start = out.count
        let minutes = expires / 60
        if minutes < 10 { out.append(byte: 0x30) }
        out.append(decimal: Int32(bitPattern: minutes))
        out.append(byte: 0x3a)
        if expires % 60 < 10 { out.append(byte: 0x30) }
        out.append(decimal: expires % 60)
        out.spaces(width - (out.count - start))
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
