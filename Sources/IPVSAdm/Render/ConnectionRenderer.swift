import Glibc
import IPVS

/// `-c`: the kernel's connection table (`/proc/net/ip_vs_conn`) re-printed as ipvsadm does,
/// with names unless `-n`, and the persistence-engine columns with `--persistent-conn`.
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

    /// One line of the kernel's table, read the way ipvsadm's `sscanf` reads it
    /// (`%s %s %hX %s %hX %s %hX %s %d %s %s`); nil for a line with no field at all.
    func row(_ line: Substring) -> String? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard !words.isEmpty else { return nil }
        var matched = 0
        var numbers: [Int: UInt32] = [:]
        for (index, word) in words.prefix(11).enumerated() {
            if [2, 4, 6].contains(index) {
                guard let value = ConnectionRenderer.hexPrefix(word) else { break }
                numbers[index] = value & 0xffff
            } else if index == 8 {
                guard let value = Int64(word.prefix { $0.isNumber || $0 == "-" }) else { break }
                numbers[index] = UInt32(truncatingIfNeeded: value)
            }
            matched += 1
        }
        func text(_ i: Int) -> String { i < words.count && i < matched ? String(words[i]) : "" }
        let protocolText = text(0)
        let proto: IPProtocolNumber
        switch protocolText {
        case "TCP": proto = .tcp
        case "UDP": proto = .udp
        case "SCTP": proto = .sctp
        default: proto = IPProtocolNumber(rawValue: 0)
        }
        let client: IPAddress
        let virtual: IPAddress
        if let v6 = IPAddress.parseIPv6(text(1)) {
            client = v6
            virtual = IPAddress.parseIPv6(text(3)) ?? IPAddress(family: .inet6, high: 0, low: 0)
        } else if let v4 = IPAddress.parseIPv4Strict(text(1)) {
            client = v4
            virtual = IPAddress.parseIPv4Strict(text(3)) ?? IPAddress(ipv4: 0)
        } else {
            client = IPAddress(ipv4: ConnectionRenderer.hexPrefix(Substring(text(1))) ?? 0)
            virtual = IPAddress(ipv4: ConnectionRenderer.hexPrefix(Substring(text(3))) ?? 0)
        }
        let destination = IPAddress.parseIPv6(text(5)) ?? IPAddress.parseIPv4Strict(text(5))
            ?? IPAddress(ipv4: ConnectionRenderer.hexPrefix(Substring(text(5))) ?? 0)
        let expires = numbers[8] ?? 0
        let expire = ConnectionRenderer.twoDigits(expires / 60) + ":" + ConnectionRenderer.twoDigits(expires % 60)
        let source = renderer.names.endpoint(client, port: UInt16(numbers[2] ?? 0), protocol: proto)
        let target = renderer.names.endpoint(virtual, port: UInt16(numbers[4] ?? 0), protocol: proto)
        let server = renderer.names.endpoint(destination, port: UInt16(numbers[6] ?? 0), protocol: proto)
        var out = TextFormat.left(protocolText, 3) + " " + TextFormat.left(expire, 6) + " "
            + TextFormat.left(text(7), 11) + " " + TextFormat.left(source, 18) + " " + TextFormat.left(target, 18) + " "
        if renderer.format.persistentConn && matched == 11 {
            out += TextFormat.left(server, 18) + " " + TextFormat.left(text(9), 16) + " " + text(10)
        } else {
            out += server
        }
        return out + "\n"
    }

    private static func twoDigits(_ value: UInt32) -> String {
        let text = String(Int32(bitPattern: value))
        return text.utf8.count < 2 ? "0" + text : text
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
