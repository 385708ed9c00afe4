import IPVS

/// Carries out parsed command lines against a backend, and writes what ipvsadm writes.
///
/// `IPVSAdm.run` opens the backend and reads its version; everything after that goes
/// through here. It never exits: a command line ends normally with a status (0, or 255 when
/// the kernel refused it), or by throwing `Termination` when ipvsadm would end the whole
/// process.
final class Runner {
    let program: String
    let backend: any IPVSBackend
    let info: IPVSInfo
    let resolver: any NameResolver
    let stdin: any InputSource
    let stdout: any OutputSink
    let stderr: any OutputSink
    let clock: any Clock
    let host: any Host
    /// `--netns` as given, nil for the caller's namespace: what names ownership records.
    let namespace: String?
    /// Opens the full-screen view of `--watch` (nil: no terminal driver, plain frames).
    var openTerminal: (() -> (any WatchTerminal)?)?
    /// Seconds between refreshes of `--watch` without a value.
    static let defaultWatchSeconds = 2.0

    init(
        program: String, backend: any IPVSBackend, info: IPVSInfo, resolver: any NameResolver,
        stdin: any InputSource, stdout: any OutputSink, stderr: any OutputSink, clock: any Clock,
        host: any Host, namespace: String?
    ) {
        self.clock = clock
        self.host = host
        self.namespace = namespace
        self.program = program
        self.backend = backend
        self.info = info
        self.resolver = resolver
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }

    var parser: Parser { Parser(program: program, resolver: resolver) }
    /// The parser of `-R` and `--apply` input: it takes `--check`.
    var rulesParser: Parser { Parser(program: program, resolver: resolver, readsRules: true) }

    /// One command line (`process_options`): 0, or 255 when the kernel or popt refused it.
    func process(_ arguments: [String], readingStdin: Bool = false) throws(Termination) -> Int32 {
        let entry: CommandEntry
        do {
            entry = try parser.parse(Words(arguments))
        } catch {
            return try lineStatus(error)
        }
        if let modification = modification(for: entry) {
            do {
                try backend.apply(modification)
            } catch {
                stderr.write(error.message + "\n")
                return 255
            }
            return 0
        }
        return try runMultiStep(entry, readingStdin: readingStdin)
    }

    /// A line that popt refused: its message, and the line's status 255. Anything else ends
    /// the process.
    func lineStatus(_ termination: Termination) throws(Termination) -> Int32 {
        guard case .line(let message) = termination else { throw termination }
        stderr.write(message + "\n")
        return 255
    }

    /// The change a command line asks of the kernel, nil for the commands that read
    /// (`-L`, `-S`) or that read stdin (`-R`, `--apply`), and for `-d --drain` (a change,
    /// a wait, then another).
    func modification(for entry: CommandEntry) -> Modification? {
        let service = entry.service.model
        switch entry.command {
        case .list, .save, .restore, .apply, .doctor, .sysctl: return nil
        case .deleteDest where entry.drainSeconds != nil: return nil
        case .flush: return .flush
        case .add: return .addService(service)
        case .edit: return .updateService(service)
        case .delete: return .deleteService(service)
        case .zero: return .zero(entry.service.isUnset ? nil : service)
        case .addDest: return .addDestination(destination(entry), to: service)
        case .editDest: return .updateDestination(destination(entry), in: service)
        case .deleteDest: return .deleteDestination(destination(entry), from: service)
        case .timeout: return .setTimeouts(entry.timeouts)
        case .startDaemon: return .startDaemon(entry.daemon)
        case .stopDaemon: return .stopDaemon(entry.daemon)
        }
    }

    /// The commands that are more than one change: the listings (`-L`, `-S`), those that read
    /// their changes from stdin (`-R`, `--apply`; not from a line of `-R`), and `-d --drain`
    /// (a change, a wait, another change).
    func runMultiStep(_ entry: CommandEntry, readingStdin: Bool) throws(Termination) -> Int32 {
        switch entry.command {
        case .deleteDest:
            if let seconds = entry.drainSeconds { return try drainAndDelete(entry, seconds: seconds) }
        case .apply:
            if readingStdin { throw Termination.tryHelp(program) }
            return try apply(entry)
        case .sysctl:
            if readingStdin { throw Termination.tryHelp(program) }
            return try sysctl(entry)
        case .list:
            try list(entry)
        case .save:
            try save(entry)
        case .doctor:
            if readingStdin { throw Termination.tryHelp(program) }
            return try doctor(entry)
        case .restore:
            if readingStdin { throw Termination.tryHelp(program) }
            let lock = try takeTableLock(wait: entry.lockWait, warnIfUnavailable: false)
            defer { lock?.release() }
            return try restore()
        default:
            break
        }
        return 0
    }

    func destination(_ entry: CommandEntry) -> Destination { entry.destinationModel }
}
