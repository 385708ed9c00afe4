import IPVS

/// A rules file as `--doctor --rules` reads it: its services and real servers, with what the
/// kernel does not keep (a `-g`/`-i` real server's port as written, and the word it was
/// written in, for the fix).
struct DoctorRules {
    struct Server {
        var service: VirtualService
        var destination: Destination
        var portWritten: UInt16?
        var word: String?
        var line: Int
    }

    let path: String
    var services: [VirtualService] = []
    var servers: [Server] = []
    /// The sync daemons its `--start-daemon` lines start.
    var daemons: [SyncDaemon] = []

    /// Reads the file through the host, each line with the parser of `-R` (comments and blank
    /// lines skipped, other commands ignored). A missing file or a bad line is a usage error.
    static func read(_ path: String, host: any Host, parser: Parser) throws(Termination) -> DoctorRules {
        let bytes: [UInt8]?
        do {
            bytes = try host.readFile(path)
        } catch {
            throw DoctorRequest.usage("cannot read rules file \(path): \(error.text)")
        }
        guard let bytes else { throw DoctorRequest.usage("cannot read rules file \(path): \(Errno.noSuchFileOrDirectory.text)") }
        var rules = DoctorRules(path: path)
        try RulesFileLines.forEach(bytes, parser: parser, refused: { number, message in
            DoctorRequest.usage("\(path) line \(number): \(message)")
        }) { (number, entry, words) throws(Termination) in
            switch entry.command {
            case .add:
                rules.services.append(entry.service.model)
            case .addDest:
                rules.servers.append(Server(
                    service: entry.service.model, destination: entry.destinationModel,
                    portWritten: entry.destinationPortWritten, word: realServerWord(words), line: number))
            case .startDaemon:
                rules.daemons.append(entry.daemon)
            default:
                break
            }
        }
        return rules
    }

    /// The word that gave `-r` its value, as written.
    private static func realServerWord(_ words: Words) -> String? {
        let strings = words.strings
        for (index, word) in strings.enumerated() {
            if (word == "-r" || word == "--real-server") && index + 1 < strings.count { return strings[index + 1] }
            if word.hasPrefix("--real-server=") { return String(word.dropFirst("--real-server=".count)) }
            if word.hasPrefix("-r") && !word.hasPrefix("--") && word.count > 2 { return String(word.dropFirst(2)) }
        }
        return nil
    }
}
