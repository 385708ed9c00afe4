import IPVS

/// `-L` in all its forms, and `-S`.
extension Runner {
    func list(_ entry: CommandEntry) throws(Termination) {
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
            stdout.write(InfoText.versionLine(info))
            let renderer = ListRenderer(format: entry.format, resolver: resolver)
            var out = TextBuffer()
            out.append(renderer.title)
            try eachService(sorted: !entry.format.noSort, into: &out) { renderer.render($0, $1, into: &$2) }
        }
    }

    /// `-S`: the rules, and with `--complete` the timeouts and sync daemons before them.
    func save(_ entry: CommandEntry) throws(Termination) {
        var out = TextBuffer()
        if entry.options.contains(.complete) {
            do {
                out.append(RuleRenderer.timeoutsLine(try backend.timeouts()))
                for daemon in try backend.daemons() { out.append(RuleRenderer.daemonLine(daemon)) }
            } catch {
                throw .process(status: 1, stderr: error.message + "\n")
            }
        }
        let renderer = RuleRenderer(names: EndpointNames(numeric: entry.format.numeric, resolver: resolver))
        try eachService(sorted: true, into: &out) { renderer.render($0, $1, into: &$2) }
    }

    /// Every service with its real servers, in ipvsadm's order (or the kernel's), rendered
    /// by `body` into `out`, which is written out as it grows and at the end. As ipvsadm
    /// does, the real servers of each service are fetched when it is printed, so the table
    /// is never held whole with all its real servers; a failure ends the listing there,
    /// after what was printed before it.
    private func eachService(
        sorted: Bool, into out: inout TextBuffer, _ body: (VirtualService, [Destination], inout TextBuffer) -> Void
    ) throws(Termination) {
        let services: [VirtualService]
        do {
            services = try backend.services()
        } catch {
            stdout.write(utf8: out.bytes)
            throw .process(status: 1, stderr: error.message + "\n")
        }
        let order = sorted ? Sorting.sortedOrder(services, key: Sorting.ServiceOrderKey.init) : Array(services.indices)
        for index in order {
            let service = services[index]
            let destinations: [Destination]
            do {
                destinations = try backend.destinations(of: service)
            } catch {
                stdout.write(utf8: out.bytes)
                throw .process(status: 1, stderr: error.message + "\n")
            }
            body(service, destinations, &out)
            if out.count > 1 << 16 {
                stdout.write(utf8: out.bytes)
                out.removeAll()
            }
        }
        stdout.write(utf8: out.bytes)
    }

    private func listService(_ key: ServiceKey, _ format: ListFormat) throws(Termination) {
        let renderer = ListRenderer(format: format, resolver: resolver)
        let service: VirtualService
        let destinations: [Destination]
        do {
            service = try backend.service(key)
            destinations = try backend.destinations(of: service)
        } catch {
            throw .process(status: 1, stderr: error.message + "\n")
        }
        var out = TextBuffer()
        out.append(renderer.title)
        renderer.render(service, destinations, into: &out)
        stdout.write(utf8: out.bytes)
    }

    private func listConnections(_ format: ListFormat) throws(Termination) {
        guard let table = try? backend.connectionTable() else {
            throw .process(status: 1, stderr: "cannot open file /proc/net/ip_vs_conn\n")
        }
        var lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        if table.hasSuffix("\n") { lines.removeLast() }
        guard !lines.isEmpty else { throw .process(status: 1, stderr: "unexpected input from /proc/net/ip_vs_conn\n") }
        let connections = ConnectionRenderer(renderer: ListRenderer(format: format, resolver: resolver))
        var out = connections.header
        for line in lines.dropFirst() {
            // ipvsadm ends silently on a line with no field at all (sscanf returns EOF).
            guard let row = connections.row(line) else {
                stdout.write(out)
                throw .process(status: 1)
            }
            out += row
        }
        stdout.write(out)
    }
}
