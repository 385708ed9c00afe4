import IPVS
import IPVSAdm
import IPVSTestSupport

/// `checks`: the input is a rules file with `--check` declarations (Docs/Health.md).
/// - `HealthDeclarations.read` gives the declarations or an error naming a line of the input;
///   it never traps;
/// - every word of the input that `CheckDeclaration.parse` reads is re-encoded (kind, then
///   `key=value` with `%`, `,`, `=`, blanks, control and non-ASCII bytes as `%XX`), and the
///   encoding parses to the same declaration; a word it refuses is refused with a `--check:`
///   message;
/// - such a declaration resolves, as a service's and as a server's, to a check whose periods
///   and counts are positive, or to an error.
enum DeclarationsCheck {
    static func run(_ input: [UInt8]) throws(FuzzFailure) {
        let text = String(decoding: input, as: UTF8.self)
        let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
        switch Result(catching: { () throws(HealthDeclarationError) in
            try HealthDeclarations.read(text: text, resolver: HostsResolver.shared)
        }) {
        case .success(let declarations):
            for service in declarations.services {
                try expect((1...lineCount).contains(service.line), "a service at line \(service.line) of \(lineCount)")
                try expect(
                    service.policy.threshold >= 0 && service.policy.threshold <= 1,
                    "threshold \(service.policy.threshold) out of 0...1")
                for server in service.servers { try checkSpec(server.check) }
            }
        case .failure(let error):
            guard let line = error.line else { throw FuzzFailure("an error without its line: \(quoted(error.message))") }
            try expect((1...lineCount).contains(line), "an error at line \(line) of \(lineCount): \(quoted(error.message))")
        }

        var words = Set<Substring>()
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }) where words.count < 64 {
            words.insert(word)
        }
        for word in words {
            let declaration: CheckDeclaration
            do throws(HealthDeclarationError) {
                declaration = try CheckDeclaration.parse(String(word))
            } catch {
                try expect(error.message.hasPrefix("--check: "), "\(quoted(String(word))) refused with \(quoted(error.message))")
                continue
            }
            let encoded = encode(declaration)
            switch Result(catching: { () throws(HealthDeclarationError) in try CheckDeclaration.parse(encoded) }) {
            case .success(let again):
                try expect(again == declaration, "\(quoted(String(word))) re-encoded as \(quoted(encoded)) parses differently")
            case .failure(let error):
                throw FuzzFailure("\(quoted(String(word))) re-encoded as \(quoted(encoded)) is refused: \(error.message)")
            }
            if declaration.kind != nil {
                if let spec = try? CheckSpec.resolve(service: declaration, server: nil) { try checkSpec(spec) }
            }
            if let spec = try? CheckSpec.resolve(service: CheckDeclaration(kind: .tcp, settings: []), server: declaration) {
                try checkSpec(spec)
            }
            _ = try? ServiceHealthPolicy.resolve(declaration)
        }
    }

    static func checkSpec(_ spec: CheckSpec?) throws(FuzzFailure) {
        guard let spec else { return }
        try expect(
            spec.interval > 0 && spec.timeout > 0 && (spec.retryInterval ?? 1) > 0 && spec.rise >= 1 && spec.fall >= 1
                && spec.ramp >= 0 && !spec.statuses.isEmpty,
            "a check that cannot run: \(spec)")
        if spec.kind == .misc { try expect(spec.command != nil, "a misc check without a command: \(spec)") }
    }

    /// A declaration as one `--check` word.
    static func encode(_ declaration: CheckDeclaration) -> String {
        var items: [String] = declaration.kind.map { [$0.rawValue] } ?? []
        for (key, value) in declaration.settings { items.append(key + "=" + percentEncoded(value)) }
        return items.joined(separator: ",")
    }

    static func percentEncoded(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in value.utf8 {
            if byte <= 0x20 || byte >= 0x7f || byte == UInt8(ascii: "%") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "=") {
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
