/// printf-style padding and ipvsadm's number formats, without Foundation.
enum TextFormat {
    /// `%-Ns`: left-justified in `width` bytes.
    static func left(_ text: String, _ width: Int) -> String {
        let count = text.utf8.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    /// `%Ns`: right-justified in `width` bytes.
    static func right(_ text: String, _ width: Int) -> String {
        let count = text.utf8.count
        return count >= width ? text : String(repeating: " ", count: width - count) + text
    }

    /// The first `limit` bytes of an ASCII-compatible text (C's `buf[limit] = '\0'`).
    static func truncated(_ text: String, _ limit: Int) -> String {
        text.utf8.count <= limit ? text : String(decoding: text.utf8.prefix(limit), as: UTF8.self)
    }

    /// `print_largenum`: 9 characters, scaled to K/M/G/T with truncation unless exact.
    static func largeNumber(_ value: UInt64, exact: Bool) -> String {
        if exact {
            let digits = String(value)
            return right(digits, digits.utf8.count <= 8 ? 9 : digits.utf8.count + 1)
        }
        switch value {
        case ..<100_000_000: return right(String(value), 9)
        case ..<1_000_000_000: return right(String(value / 1000), 8) + "K"
        case ..<100_000_000_000: return right(String(value / 1_000_000), 8) + "M"
        case ..<100_000_000_000_000: return right(String(value / 1_000_000_000), 8) + "G"
        default: return right(String(value / 1_000_000_000_000), 8) + "T"
        }
    }
}
