import IPVS

/// `-L` in all its forms, and `-S`.
extension Runner {
    func list(_ entry: CommandEntry) throws(Termination) {
        let options = entry.options
        if options.contains(.json) { return try listJSON(entry) }
        if let scope = entry.metrics { return try listMetrics(entry, scope: scope) }
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

    /// One service and its real servers, or ipvsadm's failure.
    private func oneService(_ key: ServiceKey) throws(Termination) -> (VirtualService, [Destination]) {
        do {
            let service = try backend.service(key)
            return (service, try backend.destinations(of: service))
        } catch {
            throw .process(status: 1, stderr: error.message + "\n")
        }
    }

    private func listService(_ key: ServiceKey, _ format: ListFormat) throws(Termination) {
        let renderer = ListRenderer(format: format, resolver: resolver)
        let (service, destinations) = try oneService(key)
        var out = TextBuffer()
        out.append(renderer.title)
        renderer.render(service, destinations, into: &out)
        stdout.write(utf8: out.bytes)
    }

    private func listConnections(_ format: ListFormat) throws(Termination) {
        let lines = try connectionLines()
        let connections = ConnectionRenderer(renderer: ListRenderer(format: format, resolver: resolver))
        var out = connections.header
        for line in lines {
            // ipvsadm ends silently on a line with no field at all (sscanf returns EOF).
            guard let connection = ConnectionLine(line) else {
                stdout.write(out)
                throw .process(status: 1)
            }
            out += connections.row(connection)
        }
        stdout.write(out)
    }

    /// The lines of `/proc/net/ip_vs_conn` after its header, as ipvsadm reads them (see
    /// `ConnectionLine.pieces`), or its failure.
    private func connectionLines() throws(Termination) -> [Substring] {
        guard let table = try? backend.connectionTable() else {
            throw .process(status: 1, stderr: "cannot open file /proc/net/ip_vs_conn\n")
        }
        let lines = ConnectionLine.pieces(table)
        guard !lines.isEmpty else { throw .process(status: 1, stderr: "unexpected input from /proc/net/ip_vs_conn\n") }
        return Array(lines.dropFirst())
    }

    // MARK: - For programs

    /// `--json` with any listing: one document, written out as it is made, 64 KiB at a time.
    /// A listing that fails part-way (a service deleted while it is listed) ends with the
    /// error and status 1, as the text listing does; what was written out before stays, and
    /// nothing more (a document under 64 KiB is then not written at all).
    private func listJSON(_ entry: CommandEntry) throws(Termination) {
        let options = entry.options
        let json = JSONWriter(to: stdout)
        if options.contains(.connection) {
            json.beginObject()
            json.key("connections")
            json.beginArray()
            for line in try connectionLines() {
                guard let connection = ConnectionLine(line) else { throw .process(status: 1) }
                JSONRenderer.connection(connection, into: json)
            }
            json.endArray()
        } else if options.contains(.timeout) {
            guard let timeouts = try? backend.timeouts() else { throw .process(status: 1) }
            json.beginObject()
            JSONRenderer.timeouts(timeouts, into: json)
        } else if options.contains(.daemon) {
            guard let daemons = try? backend.daemons() else { throw .process(status: 1) }
            json.beginObject()
            json.key("daemons")
            json.beginArray()
            for daemon in daemons { JSONRenderer.daemon(daemon, into: json) }
            json.endArray()
        } else {
            JSONRenderer.begin(json, info: info)
            json.key("services")
            json.beginArray()
            let format = entry.format
            if options.contains(.service) {
                let (service, destinations) = try oneService(entry.service.key)
                JSONRenderer.service(service, destinations, format: format, into: json)
            } else {
                var unused = TextBuffer()
                try eachService(sorted: !format.noSort, into: &unused) { service, destinations, _ in
                    JSONRenderer.service(service, destinations, format: format, into: json)
                }
            }
            json.endArray()
        }
        json.endObject()
        json.finish()
    }

    /// `--metrics[=servers|services]`: the counters in Prometheus' text format.
    private func listMetrics(_ entry: CommandEntry, scope: MetricsRenderer.Scope) throws(Termination) {
        var metrics = MetricsRenderer(scope: scope)
        if entry.options.contains(.service) {
            let (service, destinations) = try oneService(entry.service.key)
            metrics.add(service, destinations)
        } else {
            var unused = TextBuffer()
            try eachService(sorted: !entry.format.noSort, into: &unused) { service, destinations, _ in
                metrics.add(service, destinations)
            }
        }
        stdout.write(metrics.text())
    }
}
