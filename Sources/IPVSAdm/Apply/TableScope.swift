import IPVS

/// The part of the table `--apply`, `-S` and `-L` deal with (`--scope`, `--owner`): a service
/// is in it when it matches any of the prefixes, the fwmark ranges or the owned keys. With
/// none of them it is the whole table. A service outside it is never read into a comparison,
/// edited, deleted or listed.
struct TableScope {
    /// One `--scope` word.
    enum Item: Equatable, Sendable {
        /// Non-fwmark services whose virtual address lies in the prefix.
        case prefix(IPAddress, length: Int)
        /// Fwmark services (either family) whose mark is in the range.
        case marks(ClosedRange<UInt32>)
    }

    var items: [Item] = []
    /// `--owner`: the services the input names and those of the owner's record; nil without.
    var owned: Set<ServiceKey>?

    /// Whether no scope was given: the whole table.
    var isWholeTable: Bool { items.isEmpty && owned == nil }

    func contains(_ key: ServiceKey) -> Bool {
        if isWholeTable || owned?.contains(key) == true { return true }
        for item in items {
            switch (item, key) {
            case (.prefix(let prefix, let length), .address(_, let address, _)):
                if address.family == prefix.family && TableScope.masked(address, length) == TableScope.masked(prefix, length) {
                    return true
                }
            case (.marks(let range), .firewallMark(let mark, _)):
                if range.contains(mark) { return true }
            default:
                break
            }
        }
        return false
    }

    /// The first `length` bits of the address (both families keep theirs from the top).
    private static func masked(_ address: IPAddress, _ length: Int) -> (UInt64, UInt64) {
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? ~0 : ~0 << UInt64(64 - bits) }
        return (address.high & mask(length), address.low & mask(length - 64))
    }

    /// Reads a `--scope` word: `ADDRESS/LEN`, a bare `ADDRESS` (one address), `fwmark:N` or
    /// `fwmark:N-M` (decimal or 0x hex, inclusive).
    static func item(_ text: String) -> Item? {
        if text.hasPrefix("fwmark:") {
            let range = text.dropFirst(7)
            let bounds = range.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = mark(bounds[0]) else { return nil }
            guard bounds.count == 2 else { return .marks(low...low) }
            guard let high = mark(bounds[1]), low <= high else { return nil }
            return .marks(low...high)
        }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        let address = addressText.contains(":")
            ? IPAddress.parse(addressText, with: IPAddress.parseIPv6)
            : IPAddress.parse(addressText, with: IPAddress.parseIPv4Strict)
        guard let address else { return nil }
        let bits = address.family == .inet ? 32 : 128
        guard parts.count == 2 else { return .prefix(address, length: bits) }
        guard let length = Parser.number(String(parts[1]), 0...bits), parts[1].allSatisfy(\.isASCIIDigit) else {
            return nil
        }
        return .prefix(address, length: length)
    }

    private static func mark(_ text: Substring) -> UInt32? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt32(text.dropFirst(2), radix: 16) }
        guard text.allSatisfy(\.isASCIIDigit) else { return nil }
        return UInt32(text, radix: 10)
    }

    static func invalid(_ text: String) -> Termination {
        .fail("ipvsadm: invalid scope `\(text)' (ADDRESS[/LEN] or fwmark:N[-M])")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// `--owner NAME`'s record: the services an `--apply --owner NAME` of this namespace applied,
/// one key per line in `-A` form, at `$IPVSADM_STATE_DIR/owners/<namespace>/<NAME>`.
struct OwnerRecord {
    let owner: String
    let path: String

    static let defaultStateDirectory = "/var/lib/ipvsadm"

    /// Whether `name` can name an owner: letters, digits, `.`, `_`, `-`, and not a path.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    init(owner: String, namespace: String?, stateDirectory: String?) {
        self.owner = owner
        // `default` without --netns; a path's slashes become `%` (one file name per namespace).
        let space = namespace.map { String($0.map { $0 == "/" ? "%" : $0 }) } ?? "default"
        let directory = stateDirectory.flatMap { $0.isEmpty ? nil : $0 } ?? OwnerRecord.defaultStateDirectory
        path = directory + "/owners/" + space + "/" + owner
    }

    /// The keys the record lists; none when it does not exist. A line that is not a service
    /// key (a damaged record) is skipped.
    func read(from host: any Host, parser: Parser) throws(Termination) -> [ServiceKey] {
        let contents: [UInt8]?
        do {
            contents = try host.readFile(path)
        } catch {
            throw .process(status: 1, stderr: "ipvsadm: cannot read the ownership record \(path): \(error.text)\n")
        }
        guard let contents else { return [] }
        var keys: [ServiceKey] = []
        for line in String(decoding: contents, as: UTF8.self).split(separator: "\n") {
            let words = RestoreLine.words(String(line))
            guard !words.isEmpty, !words[0].hasPrefix("#"),
                let entry = try? parser.parse(Words(["-D"] + words)), entry.command == .delete
            else { continue }
            keys.append(entry.service.key)
        }
        return keys
    }

    /// The record's text for `keys`, in their order.
    static func text(_ keys: [ServiceKey], resolver: any NameResolver) -> String {
        let rules = RuleRenderer(names: EndpointNames(numeric: true, resolver: resolver))
        return keys.map { rules.serviceOptions($0) + "\n" }.joined()
    }
}
