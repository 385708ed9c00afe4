import IPVS

extension HealthDeclarations {
    /// The -A and -a lines of a rules file, read as `--apply` reads them (the project's
    /// parser, every line form ipvsadm accepts, then the kernel's rules on an empty
    /// in-memory table: a real server of a service not defined, a duplicate, are errors), with
    /// each server's resolved check. Blank lines and lines starting with `#` are skipped;
    /// other commands (`--set`, `--start-daemon`, ...) are ignored. Errors name the line.
    public static func read(text: String) throws(HealthDeclarationError) -> HealthDeclarations {
        try read(text: text, resolver: SystemResolver())
    }

    /// The same, with host and service names looked up by `resolver`.
    public static func read(text: String, resolver: any NameResolver) throws(HealthDeclarationError)
        -> HealthDeclarations
    {
        let parser = Parser(program: "ipvsadm", resolver: resolver, readsRules: true)
        let validator = InMemoryBackend()
        validator.schedulers = nil
        validator.persistenceEngines = nil
        validator.interfaces = nil
        var checks = CheckReader()
        var services: [Service] = []
        var position: [ServiceKey: Int] = [:]
        // By bytes: "\r\n" is one Character, and a CR is a blank to -R.
        try RulesFileLines.forEach(text.utf8, parser: parser, refused: { HealthDeclarationError(line: $0, message: $1) }) {
            (number, entry, _) throws(HealthDeclarationError) in
            func fail(_ message: String) -> HealthDeclarationError { HealthDeclarationError(line: number, message: message) }
            switch entry.command {
            case .add:
                let service = entry.service.model
                do throws(IPVSError) {
                    try validator.apply(.addService(service))
                } catch {
                    throw fail(error.message)
                }
                let declaration = try checks.service(service.key, entry.check, line: number)
                let policy: ServiceHealthPolicy
                do throws(HealthDeclarationError) {
                    policy = try ServiceHealthPolicy.resolve(declaration)
                } catch {
                    throw error.at(line: number)
                }
                position[service.key] = services.count
                services.append(Service(service: service, policy: policy, servers: [], line: number))
            case .addDest:
                let service = entry.service.model
                let destination = entry.destinationModel
                do throws(IPVSError) {
                    try validator.apply(.addDestination(destination, to: service))
                } catch {
                    throw fail(error.message)
                }
                let check = try checks.server(of: service.key, entry.check, line: number)
                guard let index = position[service.key] else { return }
                services[index].servers.append(Server(destination: destination, check: check, line: number))
            default:
                break
            }
        }
        return HealthDeclarations(services: services)
    }
}

/// The `--check` words of a rules file as its lines are read (`-R`, `--apply`,
/// `HealthDeclarations`): each checked as it comes, a server's against its service's.
///
/// Hot path (`-R`, every line): a line without `--check`, of a file without any, costs a
/// nil test and an empty-dictionary test.
struct CheckReader {
    /// The declarations of the services that have one.
    private var declared: [ServiceKey: CheckDeclaration] = [:]

    /// An -A line's `--check`: read, and its default check resolved (so that an error in it
    /// names this line, not its first server's). A service defined again (an error the
    /// caller reports) keeps its first declaration.
    mutating func service(_ key: ServiceKey, _ word: String?, line: Int) throws(HealthDeclarationError)
        -> CheckDeclaration?
    {
        guard let word else { return nil }
        do throws(HealthDeclarationError) {
            let declaration = try CheckDeclaration.parse(word)
            if declaration.kind != nil { _ = try CheckSpec.resolve(service: declaration, server: nil) }
            _ = try ServiceHealthPolicy.resolve(declaration)
            if declared[key] == nil { declared[key] = declaration }
            return declaration
        } catch {
            throw error.at(line: line)
        }
    }

    /// Whether a service declared a check: then every -a line is resolved.
    var hasDeclarations: Bool { !declared.isEmpty }

    /// The `--check` of a parsed -A or -a line (`-R`, `--apply`), read and checked.
    mutating func read(_ entry: CommandEntry, line: Int) throws(HealthDeclarationError) {
        switch entry.command {
        case .add: _ = try service(entry.service.key, entry.check, line: line)
        case .addDest: _ = try server(of: entry.service.key, entry.check, line: line)
        default: break
        }
    }

    /// An -a line's resolved check (nil: not checked).
    func server(of service: ServiceKey, _ word: String?, line: Int) throws(HealthDeclarationError) -> CheckSpec? {
        if word == nil && declared.isEmpty { return nil }
        do throws(HealthDeclarationError) {
            let declaration = try word.map { (text) throws(HealthDeclarationError) in try CheckDeclaration.parse(text) }
            return try CheckSpec.resolve(service: declared[service], server: declaration)
        } catch {
            throw error.at(line: line)
        }
    }
}
