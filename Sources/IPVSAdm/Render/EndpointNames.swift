import IPVS

/// How listings, rules and connections name an address and port: `addr:port`, brackets
/// around IPv6, host and service names unless numeric (ipvsadm's `addrport_to_anyname`).
struct EndpointNames {
    let numeric: Bool
    let resolver: any NameResolver

    /// At most 59 bytes (ipvsadm formats into a 60-byte buffer).
    func endpoint(_ address: IPAddress, port: UInt16, protocol proto: IPProtocolNumber) -> String {
        var out = TextBuffer()
        append(address, port: port, protocol: proto, into: &out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// `endpoint`, appended to `out`.
    func append(_ address: IPAddress, port: UInt16, protocol proto: IPProtocolNumber, into out: inout TextBuffer) {
        if numeric {
            return out.appendRow(capacity: 64) { EndpointNames.writeNumeric(address, port: port, into: &$0) }
        }
        let bracketed = address.family != .inet
        let host = resolver.hostName(of: address) ?? address.text
        let service = resolver.serviceName(ofPort: port, protocol: proto) ?? String(port)
        let open = bracketed ? "[" : ""
        let close = bracketed ? "]" : ""
        out.append(TextFormat.truncated(open + host + close + ":" + service, 59))
    }

    /// `ADDR:PORT`, `[ADDR6]:PORT`: the numeric form, at most 47 bytes.
    static func writeNumeric(_ address: IPAddress, port: UInt16, into row: inout RowWriter) {
        if address.family == .inet {
            row.dottedQuad(address.ipv4)
        } else {
            row.byte(0x5b)
            row.text(address.text)
            row.byte(0x5d)
        }
        row.byte(0x3a)
        row.decimal(UInt32(port))
    }
}
