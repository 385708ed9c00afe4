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

    init(
        program: String, backend: any IPVSBackend, info: IPVSInfo, resolver: any NameResolver,
        stdin: any InputSource, stdout: any OutputSink, stderr: any OutputSink
    ) {
        self.program = program
        self.backend = backend
        self.info = info
        self.resolver = resolver
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }

    private var parser: Parser { Parser(program: program, resolver: resolver) }

    /// One command line (`process_options`): 0, or 255 when the kernel or popt refused it.
    func process(_ arguments: [String], readingStdin: Bool = false) throws(Termination) -> Int32 {
        let entry: CommandEntry
        do {
            entry = try parser.parse(arguments)
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
        return try inspect(entry, readingStdin: readingStdin)
    }

    /// A line that popt refused: its message, and the line's status 255. Anything else ends
    /// the process.
    private func lineStatus(_ termination: Termination) throws(Termination) -> Int32 {
        guard case .line(let message) = termination else { throw termination }
        stderr.write(message + "\n")
        return 255
    }

    /// The change a command line asks of the kernel, nil for the commands that read
    /// (`-L`, `-S`) or that read stdin (`-R`).
    private func modification(for entry: CommandEntry) -> Modification? {
        let service = entry.service.model
        switch entry.command {
        case .list, .save, .restore: return nil
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

    /// `-L`, `-S` and `-R`.
    private func inspect(_ entry: CommandEntry, readingStdin: Bool) throws(Termination) -> Int32 {
        switch entry.command {
        case .list:
            try list(entry)
        case .save:
            var format = entry.format
            format.rule = true
            try listAll(format)
        case .restore:
            if readingStdin { throw Termination.tryHelp(program) }
            return try restore()
        default:
            break
        }
        return 0
    }

    private func destination(_ entry: CommandEntry) -> Destination {
        var destination = entry.destination
        if let family = entry.destinationFamily, destination.address.family != family {
            destination.address = IPAddress(family: family, high: destination.address.high, low: destination.address.low)
        }
        return destination
    }

    // MARK: - Listing

    private func list(_ entry: CommandEntry) throws(Termination) {
        let options = entry.options
        if options.contains(.connection) {
            try listConnections(entry.format)
        } else if options.contains(.service) {
            try listService(entry.service.key, entry.format)
        } else if options.contains(.timeout) {
            guard let timeouts = try? backend.timeouts() else { throw .process(status: 1) }
            stdout.write(InfoText.timeoutLine(timeouts))
        } else if options.contains(.daemon) {
            guard let daemons = try? backend.daemons() else { throw .process(status: 1) }
            stdout.write(InfoText.daemonLines(daemons))
        } else {
            try listAll(entry.format)
        }
    }

    private func listConnections(_ format: ListFormat) throws(Termination) {
        guard let table = try? backend.connectionTable() else {
            throw Termination.process(status: 1, stderr: "cannot open file /proc/net/ip_vs_conn\n")
        }
        var lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        if table.hasSuffix("\n") { lines.removeLast() }
        guard !lines.isEmpty else {
            throw Termination.process(status: 1, stderr: "unexpected input from /proc/net/ip_vs_conn\n")
        }
        let connections = ConnectionRenderer(renderer: ListRenderer(format: format, resolver: resolver))
        var out = connections.header
        for line in lines.dropFirst() {
            // ipvsadm ends silently on a line with no field at all (sscanf returns EOF).
            guard let row = connections.row(line) else {
                stdout.write(out)
                throw Termination.process(status: 1)
            }
            out += row
        }
        stdout.write(out)
    }

    private func listService(_ key: ServiceKey, _ format: ListFormat) throws(Termination) {
        let renderer = ListRenderer(format: format, resolver: resolver)
        let service: VirtualService
        let destinations: [Destination]
        do {
            service = try backend.service(key)
            destinations = try backend.destinations(of: service)
        } catch {
            throw Termination.process(status: 1, stderr: error.message + "\n")
        }
        var out = TextBuffer()
        out.append(renderer.title)
        renderer.render(service, destinations, into: &out)
        stdout.write(utf8: out.bytes)
    }

    private func listAll(_ format: ListFormat) throws(Termination) {
        if !format.rule { stdout.write(InfoText.versionLine(info)) }
        let services: [VirtualService]
        do {
            services = try backend.services()
        } catch {
            throw Termination.process(status: 1, stderr: error.message + "\n")
        }
        let order = format.noSort
            ? Array(services.indices)
            : Sorting.sortedOrder(services, key: Sorting.ServiceOrderKey.init)
        let renderer = ListRenderer(format: format, resolver: resolver)
        var out = TextBuffer()
        out.append(renderer.title)
        // As ipvsadm does: the real servers of each service are fetched when it is printed,
        // so the table is never held whole with all its real servers; a failure ends the
        // listing there, after what was printed before it.
        for index in order {
            let service = services[index]
            let destinations: [Destination]
            do {
                destinations = try backend.destinations(of: service)
            } catch {
                stdout.write(utf8: out.bytes)
                throw Termination.process(status: 1, stderr: error.message + "\n")
            }
            renderer.render(service, destinations, into: &out)
            if out.count > 1 << 16 {
                stdout.write(utf8: out.bytes)
                out.removeAll()
            }
        }
        stdout.write(utf8: out.bytes)
    }

    // MARK: - Restore

    /// How many changes `-R` queues before it hands them to the kernel.
    static let restoreBatch = 1024

    /// `-R`: every line of stdin is a command line of its own; the status is the last line's.
    ///
    /// Kernel changes are queued and handed over together (the netlink backend pipelines
    /// them); the queue is emptied, and its errors printed in order, before anything else
    /// is printed or read from the kernel, so output and status are those of one line at
    /// a time. Usage errors still end the restore at their line, after the lines before it.
    private func restore() throws(Termination) -> Int32 {
        var result: Int32 = 0
        var pending: [Modification] = []
        func flush() {
            guard !pending.isEmpty else { return }
            let results = backend.perform(pending)
            for case let error? in results { stderr.write(error.message + "\n") }
            result = results.last.map { $0 == nil ? 0 : 255 } ?? result
            pending.removeAll(keepingCapacity: true)
        }
        while let line = stdin.readLine() {
            let words = RestoreLine.words(line)
            if words.isEmpty { continue }
            let entry: CommandEntry
            do {
                entry = try parser.parse(words)
            } catch {
                flush()
                result = try lineStatus(error)
                continue
            }
            if let modification = modification(for: entry) {
                pending.append(modification)
                if pending.count >= Runner.restoreBatch { flush() }
                continue
            }
            flush()
            result = try inspect(entry, readingStdin: true)
        }
        flush()
        return result
    }
}

/// How `-R` splits a line: runs of characters other than space, tab, CR and LF; no quoting,
/// no comments; a word that is exactly `ipvsadm` is dropped wherever it stands.
enum RestoreLine {
    static func words(_ line: String) -> [String] {
        line.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d || $0 == 0x0a })
            .map { String(decoding: $0, as: UTF8.self) }
            .filter { $0 != "ipvsadm" }
    }
}
