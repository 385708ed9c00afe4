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
        if let v6 = IPAddress.parseIPv6(text(1)) {
            client = v6
            virtual = IPAddress.parseIPv6(text(3)) ?? IPAddress(family: .inet6, high: 0, low: 0)
        } else if let v4 = IPAddress.parseIPv4Strict(text(1)) {
            client = v4
            virtual = IPAddress.parseIPv4Strict(text(3)) ?? IPAddress(ipv4: 0)
        } else {
            client = IPAddress(ipv4: ConnectionLine.hexPrefix(Substring(text(1))) ?? 0)
            virtual = IPAddress(ipv4: ConnectionLine.hexPrefix(Substring(text(3))) ?? 0)
        }
        destination = IPAddress.parseIPv6(text(5)) ?? IPAddress.parseIPv4Strict(text(5))
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

    /// The file as ipvsadm's `fgets` into a 256-byte buffer reads it: a line with its newline,
    /// or 255 bytes of a longer one, at a time (each then read as a line of its own).
    static func pieces(_ file: String) -> [Substring] {
        let bytes = Array(file.utf8)
        var pieces: [Substring] = []
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && end - start < 255 {
                end += 1
                if bytes[end - 1] == 0x0a { break }
            }
            pieces.append(Substring(String(decoding: bytes[start..<end], as: UTF8.self)))
            start = end
        }
        return pieces
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

    func row(_ c: ConnectionLine) -> String {
        let expires = UInt32(bitPattern: c.expires)
        let expire = ConnectionRenderer.twoDigits(expires / 60) + ":" + ConnectionRenderer.twoDigits(expires % 60)
        let names = renderer.names
        let source = names.endpoint(c.client, port: c.clientPort, protocol: c.proto)
        let target = names.endpoint(c.virtual, port: c.virtualPort, protocol: c.proto)
        let server = names.endpoint(c.destination, port: c.destinationPort, protocol: c.proto)
        var out = TextFormat.left(c.protocolText, 3) + " " + TextFormat.left(expire, 6) + " "
            + TextFormat.left(c.state, 11) + " " + TextFormat.left(source, 18) + " " + TextFormat.left(target, 18) + " "
        if renderer.format.persistentConn && c.matched == 11 {
            out += TextFormat.left(server, 18) + " " + TextFormat.left(c.engine, 16) + " " + c.engineData
        } else {
            out += server
        }
        return out + "\n"
    }

    private static func twoDigits(_ value: UInt32) -> String {
        let text = String(Int32(bitPattern: value))
        return text.utf8.count < 2 ? "0" + text : text
    }
}
