import Glibc

/// The path of `Fixtures/<name>` beside this file.
func fixturePath(_ name: String, filePath: String = #filePath) -> String {
    let directory = filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return directory + "/Fixtures/" + name
}

/// The bytes of `Fixtures/<name>` (empty if it cannot be read).
func fixtureText(_ name: String, filePath: String = #filePath) -> [UInt8] {
    guard let file = fopen(fixturePath(name, filePath: filePath), "r") else { return [] }
    defer { fclose(file) }
    var text: [UInt8] = []
    while true {
        let c = fgetc(file)
        if c == EOF { break }
        text.append(UInt8(c))
    }
    return text
}

/// Reads `Fixtures/<name>`: hex bytes separated by white space; `#` starts a comment.
func fixtureBytes(_ name: String, filePath: String = #filePath) -> [UInt8] {
    let text = fixtureText(name, filePath: filePath)
    var bytes: [UInt8] = []
    for line in text.split(separator: UInt8(ascii: "\n")) {
        let content = line.prefix { $0 != UInt8(ascii: "#") }
        for word in content.split(whereSeparator: { $0 == 32 || $0 == 9 || $0 == 13 }) {
            guard let value = UInt8(String(decoding: word, as: UTF8.self), radix: 16) else { return [] }
            bytes.append(value)
        }
    }
    return bytes
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}
