import IPVS

/// `-S --checks-from FILE`: the `--check` words of a rules file, by the service and real
/// server of their lines, so that a save of the kernel's table keeps them.
struct SavedChecks {
    /// The -A lines' words.
    var services: [ServiceKey: String] = [:]
    /// The -a lines' words.
    var servers: [ServiceKey: [DestinationKey: String]] = [:]
    /// Every real server FILE declares (a sorry server the checker added is not one of them).
    var declared: [ServiceKey: Set<DestinationKey>] = [:]
}

extension Runner {
    /// Reads FILE's -A and -a lines as `--apply` reads them (other lines are ignored); an
    /// unreadable file or a bad line ends the save before anything is written, status 2: a
    /// save must not lose the checks.
    func readChecks(from path: String) throws(Termination) -> SavedChecks {
        func fail(_ message: String) -> Termination {
            .process(status: 2, stderr: "ipvsadm: --checks-from \(path): \(message)\n")
        }
        let read: [UInt8]?
        do throws(Errno) {
            read = try host.readFile(path)
        } catch {
            throw fail(error.text)
        }
        guard let bytes = read else { throw fail(Errno.noSuchFileOrDirectory.text) }
        let parser = rulesParser
        var reader = CheckReader()
        var checks = SavedChecks()
        try RulesFileLines.forEach(bytes, parser: parser, refused: { number, message in fail("line \(number): \(message)") }) {
            (number, entry, _) throws(Termination) in
            do throws(HealthDeclarationError) {
                try reader.read(entry, line: number)
            } catch {
                throw fail(error.text)
            }
            let key = entry.service.key
            switch entry.command {
            case .add:
                if let word = entry.check { checks.services[key] = word }
            case .addDest:
                let server = DestinationKey(entry.destinationModel)
                checks.declared[key, default: []].insert(server)
                if let word = entry.check { checks.servers[key, default: [:]][server] = word }
            default:
                break
            }
        }
        return checks
    }
}

extension RuleRenderer {
    /// `render`, with FILE's `--check` words on their lines, the declared weight of the real
    /// servers the health checker holds out (not the weight it gave them), and without the
    /// sorry servers it added.
    func render(
        _ service: VirtualService, _ destinations: [Destination], checks: SavedChecks, health: HealthView?,
        into out: inout TextBuffer
    ) {
        let key = service.key
        let label = serviceOptions(key)
        append(service, command: "-A", label: label, into: &out)
        RuleRenderer.appendCheck(checks.services[key], into: &out)
        let serviceText = health.map { _ in HealthRecord.serviceText(key) }
        let declared = checks.declared[key]
        let words = checks.servers[key]
        Sorting.forEach(destinations, sorted: true) { d in
            var saved = d
            if let serviceText, let record = health?.record(service: serviceText, d) {
                if record.sorry && declared?.contains(DestinationKey(d)) != true { return }
                if HealthView.holdsOut(record) { saved.weight = record.declaredWeight }
            }
            append(saved, of: key, command: "-a", label: label, into: &out)
            RuleRenderer.appendCheck(words?[DestinationKey(d)], into: &out)
        }
    }

    /// ` --check WORD` before the line's newline.
    private static func appendCheck(_ word: String?, into out: inout TextBuffer) {
        guard let word else { return }
        out.removeLast()
        out.append(" --check ")
        out.append(word)
        out.append(byte: 0x0a)
    }
}
