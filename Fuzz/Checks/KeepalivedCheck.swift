import IPVS
import IPVSAdm
import IPVSTestSupport

/// `keepalived`: the input is a keepalived.conf for `ipvsadm-health --convert-keepalived`.
/// - the converter never traps; input it refuses is refused with a line of the input (or, for
///   input without any virtual_server, with no line);
/// - rules it writes are read back by `HealthDeclarations.read` (the project's parser and the
///   declarations' rules), one service per `-A` line and one server per `-a` line;
/// - the rules without comments load with our `-R` silently, and without their `--check`
///   words too (as /sbin/ipvsadm reads them), into the same table (a kernel that takes
///   unicast real servers and every scheduler);
/// - every warning names a line and is a comment at the top of the rules.
enum KeepalivedCheck {
    static func run(_ input: [UInt8]) throws(FuzzFailure) {
        let text = String(decoding: input, as: UTF8.self)
        let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
        let conversion: KeepalivedConverter.Conversion
        do throws(KeepalivedConverter.Failure) {
            conversion = try KeepalivedConverter.convert(text)
        } catch {
            if let line = error.line {
                try expect((1...lineCount).contains(line), "an error at line \(line) of \(lineCount): \(quoted(error.message))")
            } else {
                try expect(error.message == "nothing to convert: no virtual_server block with a real server", "an error without its line: \(quoted(error.message))")
            }
            return
        }
        let rules = conversion.rules
        for warning in conversion.warnings {
            try expect(warning.hasPrefix("line "), "a warning without its line: \(quoted(warning))")
        }
        let lines = rules.split(separator: "\n", omittingEmptySubsequences: false)
        try expect(
            lines.prefix(conversion.warnings.count).map(String.init) == conversion.warnings.map { "# " + $0 },
            "the warnings are not the first lines:\n\(rules)")

        switch Result(catching: { () throws(HealthDeclarationError) in
            try HealthDeclarations.read(text: rules, resolver: HostsResolver.shared)
        }) {
        case .success(let declarations):
            let services = lines.filter { $0.hasPrefix("-A ") }.count
            let servers = lines.filter { $0.hasPrefix("-a ") }.count
            try expect(
                declarations.services.count == services && declarations.services.map(\.servers.count).reduce(0, +) == servers,
                "read back as \(declarations.services.count) services and their servers:\n\(rules)")
        case .failure(let error):
            throw FuzzFailure("the rules are not read back: \(error.text)\n\(rules)")
        }

        let withChecks = kernel()
        let restored = CLI.run(["-R"], on: withChecks, stdin: TextSource(lines.filter { !$0.hasPrefix("#") }.joined(separator: "\n")))
        try expect(restored == Outcome(status: 0, stdout: "", stderr: ""), "our -R refuses the rules: \(restored)\n\(rules)")
        let plain = kernel()
        let oracleForm = CLI.run(["-R"], on: plain, stdin: TextSource(KeepalivedConverter.withoutChecks(rules)))
        try expect(
            oracleForm == Outcome(status: 0, stdout: "", stderr: ""),
            "-R refuses the rules without their checks: \(oracleForm)\n\(KeepalivedConverter.withoutChecks(rules))")
        let (a, b) = (TableSnapshot(withChecks), TableSnapshot(plain))
        try expect(a == b, "the checks change the table: \(b.difference(from: a))")
    }

    static func kernel() -> InMemoryBackend {
        let backend = InMemoryBackend()
        backend.isRoutable = InMemoryBackend.isUnicast
        backend.schedulers = nil  // keepalived's list has schedulers newer than the fake's (twos)
        return backend
    }
}
