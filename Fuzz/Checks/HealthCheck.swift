import IPVS
import IPVSAdm
import IPVSTestSupport

/// `health`: the input is a rules file with health checks (`--check`, Docs/Health.md), and the
/// health checker's state file. Whatever the bytes, nothing traps, and:
/// - `HealthDeclarations.read` (what `ipvsadm-health` reads) either gives declarations or an
///   error naming a line of the input;
/// - whatever `--apply` accepts, `read` accepts too, with the same services and real servers
///   (weights included): the checker sees the table the file programs;
/// - every `--check` word that parses gives back the same declaration from its `word`;
/// - the input read as a state file: a file that decodes encodes to text that decodes to it.
enum HealthCheck {
    /// - Parameter reader: the declarations' reader (tests pass a faulty one).
    static func run(
        _ input: [UInt8],
        reader: (String) throws(HealthDeclarationError) -> HealthDeclarations = { (text) throws(HealthDeclarationError) in
            try HealthDeclarations.read(text: text, resolver: HostsResolver.shared)
        }
    ) throws(FuzzFailure) {
        let text = String(decoding: input, as: UTF8.self)
        let lines = input.split(separator: 0x0a, omittingEmptySubsequences: false).count

        var read: HealthDeclarations?
        do throws(HealthDeclarationError) {
            read = try reader(text)
        } catch {
            try expect(error.line.map { (1...lines).contains($0) } ?? false, "an error naming no line: \(error.text)")
        }

        let backend = Harness.kernel()
        let applied = CLI.run(["--apply", "--allow-empty"], on: backend, stdin: TextSource(text))
        if applied.status == 0 {
            guard let read else { throw FuzzFailure("--apply accepted what HealthDeclarations.read refused: \(applied)") }
            let table = TableSnapshot(backend)
            let declared = read.services.map { service in
                "\(HealthRecord.serviceText(service.service.key)) \(service.service.scheduler) "
                    + service.servers.map { "\(HealthRecord.serverText($0.destination.address, port: $0.destination.port))"
                        + " w\($0.destination.weight)" }.sorted().joined(separator: " ")
            }.sorted()
            let programmed = zip(table.services, table.destinations).map { service, destinations in
                "\(HealthRecord.serviceText(service.key)) \(service.scheduler) "
                    + destinations.map { "\(HealthRecord.serverText($0.address, port: $0.port)) w\($0.weight)" }
                    .sorted().joined(separator: " ")
            }.sorted()
            try expect(declared == programmed, "read \(declared), --apply programmed \(programmed)")
        }

        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            for (index, word) in words.enumerated() {
                let spec: Substring
                if word == "--check", index + 1 < words.count {
                    spec = words[index + 1]
                } else if word.hasPrefix("--check=") {
                    spec = word.dropFirst(8)
                } else {
                    continue
                }
                let declaration: CheckDeclaration
                do throws(HealthDeclarationError) {
                    declaration = try CheckDeclaration.parse(String(spec))
                } catch {
                    try expect(error.message.hasPrefix("--check: "), "a declaration error without --check: \(error.text)")
                    continue
                }
                let again = try? CheckDeclaration.parse(declaration.word)
                try expect(
                    again == declaration,
                    "\(quoted(String(spec))) -> \(quoted(declaration.word)) -> \(again.map { "\($0)" } ?? "an error")")
            }
        }

        if let state = HealthStateFile.decode(text) {
            let encoded = state.encode()
            try expect(HealthStateFile.decode(encoded) == state, "state file \(quoted(encoded)) does not read back")
        }
    }
}
