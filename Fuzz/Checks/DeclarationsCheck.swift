import IPVS
import IPVSAdm
import IPVSTestSupport

/// `checks`: the input is a rules file with `--check` declarations (Docs/Health.md).
/// - `HealthDeclarations.read` gives the declarations or an error naming a line of the input;
///   it never traps;
/// - every word of the input that `CheckDeclaration.parse` reads, re-encoded by
///   `CheckDeclaration.word`, parses to the same declaration; a word it refuses is refused with
///   a `--check:` message;
/// - such a declaration resolves, as a service's and as a server's, to a check whose periods
///   and counts are positive, or to an error.
enum DeclarationsCheck {
    static func run(_ input: [UInt8]) throws(FuzzFailure) {
        let text = String(decoding: input, as: UTF8.self)
        // Lines as the readers count them: by LF bytes (to Swift "\r\n" is one Character, no "\n").
        let lineCount = input.reduce(1) { $1 == 0x0a ? $0 + 1 : $0 }
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
            let encoded = declaration.word
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
}
