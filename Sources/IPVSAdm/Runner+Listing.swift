import IPVS

/// `-L` in all its forms and formats, and `-S`.
extension Runner {
    /// `-L`: one `Listing`, in the format the command line asks for.
    func list(_ entry: CommandEntry) throws(Termination) {
        if let seconds = entry.watchSeconds { return try watch(entry, seconds: seconds) }
        let listing = Listing(entry)
        let sorted = !entry.format.noSort
        let scope = try listingScope(entry)
        let showsHealth = entry.options.contains(.health)
        if entry.options.contains(.json) {
            // The checker's state whenever it has one (no file: one failed open).
            let health = listing.hasServices ? readHealthState() : nil
            var json = JSONRenderer(to: stdout, info: info, format: entry.format, health: health)
            try list(listing, sorted: sorted, scope: scope, filter: entry.connectionFilter, with: &json)
        } else if let metricsScope = entry.metrics {
            var metrics = MetricsRenderer(scope: metricsScope, to: stdout, health: readHealthState())
            try list(listing, sorted: sorted, scope: scope, filter: entry.connectionFilter, with: &metrics)
        } else {
            // The text listing reads the state only when asked (ipvsadm's listings unchanged).
            let health = showsHealth ? readHealthState() : nil
            var text = TextListing(
                format: entry.format, resolver: resolver, info: info, to: stdout,
                health: showsHealth ? healthLine(health) : nil, view: health)
            try list(listing, sorted: sorted, scope: scope, filter: entry.connectionFilter, with: &text)
        }
    }

    /// `--health`'s line above the table: whose state it shows, and how fresh it is (on
    /// standard output: a listing that worked writes nothing on standard error).
    private func healthLine(_ health: HealthView?) -> String {
        guard let health else {
            return "Health: no checker state (\(healthStatePath() ?? "no network namespace")): is ipvsadm-health running?\n"
        }
        return "Health: ipvsadm-health pid \(health.file.pid) \(health.running ? "running" : "NOT RUNNING"), "
            + "state written \(HealthView.age(health.now - health.file.heartbeat)) ago\n"
    }

    /// Reads what `listing` shows from the kernel and hands it to `renderer`. A failure before
    /// anything is rendered ends the listing with nothing shown; one part-way, with what the
    /// format shows of a listing cut short (`abandon`). The status is 1, with the kernel's
    /// message where ipvsadm prints one.
    private func list<Renderer: ListingRenderer>(
        _ listing: Listing, sorted: Bool, scope: TableScope, filter: ConnectionFilter = ConnectionFilter(),
        with renderer: inout Renderer
    ) throws(Termination) {
        switch listing {
        case .connections, .connectionSummary:
            try listConnections(listing, filter: filter, with: &renderer)
        case .timeouts:
            guard let timeouts = try? backend.timeouts() else { throw .process(status: 1) }
            renderer.begin(listing)
            renderer.timeouts(timeouts)
        case .daemons:
            guard let daemons = try? backend.daemons() else { throw .process(status: 1) }
            renderer.begin(listing)
            renderer.daemons(daemons)
        case .service(let key):
            let (service, destinations) = try oneService(key)
            renderer.begin(listing)
            renderer.service(service, destinations)
        case .services:
            renderer.begin(listing)
            do {
                try eachService(sorted: sorted, scope: scope) { renderer.service($0, $1) }
            } catch {
                renderer.abandon(listing)
                throw error
            }
        }
        renderer.end(listing)
    }

    /// `-S`: the rules, and with `--complete` the timeouts and sync daemons before them.
    func save(_ entry: CommandEntry) throws(Termination) {
        let scope = try listingScope(entry)
        // `--checks-from`: read before anything is written (a bad file ends the save).
        let checks = try entry.checksFrom.map { (path) throws(Termination) in try readChecks(from: path) }
        let health = checks == nil ? nil : readHealthState()
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
        do {
            try eachService(sorted: true, scope: scope) { service, destinations in
                if let checks {
                    renderer.render(service, destinations, checks: checks, health: health, into: &out)
                } else {
                    renderer.render(service, destinations, into: &out)
                }
                out.writeOutIfLarge(to: stdout)
            }
        } catch {
            out.writeOut(to: stdout)
            throw error
        }
        out.writeOut(to: stdout)
    }

    /// Every service with its real servers, in ipvsadm's order (or the kernel's), handed to
    /// `body`. As ipvsadm does, the real servers of each service are fetched when it is
    /// printed, so the table is never held whole with all its real servers; a failure ends the
    /// listing there, after what was handed over before it.
    private func eachService(
        sorted: Bool, scope: TableScope, _ body: (VirtualService, [Destination]) -> Void
    ) throws(Termination) {
        var services: [VirtualService]
        do {
            services = try backend.services()
        } catch {
            throw .process(status: 1, stderr: error.message + "\n")
        }
        // Outside the scope: not even its real servers are read.
        if !scope.isWholeTable { services.removeAll { !scope.contains($0.key) } }
        let order = sorted ? Sorting.sortedOrder(services, key: Sorting.ServiceOrderKey.init) : Array(services.indices)
        for index in order {
            let service = services[index]
            let destinations: [Destination]
            do {
                destinations = try backend.destinations(of: service)
            } catch {
                throw .process(status: 1, stderr: error.message + "\n")
            }
            body(service, destinations)
        }
    }

    /// What `-L` and `-S` show: `--scope`'s services and those of `--owner`'s record; the
    /// whole table without either.
    func listingScope(_ entry: CommandEntry) throws(Termination) -> TableScope {
        var scope = TableScope(items: entry.scopes)
        if let owner = entry.owner {
            scope.owned = Set(try ownerRecord(owner).read(from: host, parser: parser))
        }
        return scope
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

    /// `-c`: `/proc/net/ip_vs_conn` read block by block and cut into the pieces ipvsadm's
    /// `fgets` reads (`PieceCutter`); after the header, each piece is a connection, listed if
    /// `filter` selects it (or counted, for the summary), and never held. ipvsadm ends silently,
    /// status 1, at a piece with no field at all (sscanf returns EOF).
    private func listConnections<Renderer: ListingRenderer>(
        _ listing: Listing, filter: ConnectionFilter, with renderer: inout Renderer
    ) throws(Termination) {
        var cutter = PieceCutter()
        var reading = ConnectionReading(renderer: renderer, listing: listing, filter: filter)
        do {
            try backend.readConnectionTable { cutter.feed($0, into: &reading) }
        } catch {
            throw .process(status: 1, stderr: "cannot open file /proc/net/ip_vs_conn\n")
        }
        cutter.finish(into: &reading)
        renderer = reading.renderer
        guard reading.header else { throw .process(status: 1, stderr: "unexpected input from /proc/net/ip_vs_conn\n") }
        if reading.ended {
            renderer.abandon(listing)
            throw .process(status: 1)
        }
        if reading.counts { renderer.connectionSummary(reading.summary) }
    }
}

/// `-c`'s work on each piece of the table: the first is the header (the listing begins),
/// each after it a connection, read, then listed if `filter` selects it (or counted, for the
/// summary) and never held. A piece with no field at all ends the listing (ipvsadm's `sscanf`
/// returns EOF there): what follows is not read.
private struct ConnectionReading<Renderer: ListingRenderer>: PieceTaker {
    var renderer: Renderer
    let listing: Listing
    let filter: ConnectionFilter
    let filters: Bool
    let counts: Bool
    var header = false
    var ended = false
    var summary = ConnectionSummary()
    var texts = ConnectionTexts()

    init(renderer: Renderer, listing: Listing, filter: ConnectionFilter) {
        self.renderer = renderer
        self.listing = listing
        self.filter = filter
        filters = !filter.isEmpty
        counts = listing == .connectionSummary
    }

    mutating func take(_ piece: UnsafeRawBufferPointer) {
        guard header else {
            header = true
            renderer.begin(listing)
            return
        }
        guard !ended else { return }
        guard let connection = ConnectionLine(bytes: piece, texts: &texts) else {
            ended = true
            return
        }
        if filters && !filter.matches(connection) { return }
        if counts {
            summary.add(connection)
        } else {
            renderer.connection(connection)
        }
    }
}

extension Listing {
    /// Whether it lists services and their real servers (what has a health).
    var hasServices: Bool {
        switch self {
        case .service, .services: return true
        case .connections, .connectionSummary, .timeouts, .daemons: return false
        }
    }

    /// What a `-L` command line lists.
    init(_ entry: CommandEntry) {
        let options = entry.options
        if options.contains(.connection) {
            self = options.contains(.connSummary) ? .connectionSummary : .connections
        } else if options.contains(.service) {
            self = .service(entry.service.key)
        } else if options.contains(.timeout) {
            self = .timeouts
        } else if options.contains(.daemon) {
            self = .daemons
        } else {
            self = .services
        }
    }
}
