import IPVS

/// The full-screen view `--watch` draws through, given to `IPVSAdm.run` by `main` (ncurses,
/// in the `WatchTerminal` module). Everything it shows is made here, as lines
/// (`WatchLayout`); the terminal only draws them and reads keys.
public protocol WatchTerminal: AnyObject {
    /// Rows and columns now.
    var size: (rows: Int, columns: Int) { get }
    /// Replaces the screen with `lines`, each cut to the width.
    func draw(_ lines: [WatchLine])
    /// The next key, waiting at most `seconds` for it; nil when none came.
    func nextKey(waitingUpTo seconds: Double) -> WatchKey?
    /// Gives the terminal back as it was.
    func stop()
}

extension Runner {
    /// `--watch[=SECONDS]`: the table again every interval. On a terminal that `main` can drive,
    /// the full-screen view with its keys; otherwise one frame per interval on standard output,
    /// as text (a blank line after each) or, with `--json`, one JSON document per line. Ends
    /// with `q`, or when standard output is closed (a reader that stopped).
    func watch(_ entry: CommandEntry, seconds: Double) throws(Termination) {
        let scope = try listingScope(entry)
        let layout = WatchLayout(names: EndpointNames(numeric: entry.format.numeric, resolver: resolver), interval: seconds)
        var state = WatchState()
        state.kernelRates = entry.format.rate
        if entry.options.contains(.service) { state.filter = entry.service.key }
        let wantsScreen = !entry.options.contains(.json) && stdout.isTerminal
        if wantsScreen, let terminal = openTerminal?() {
            defer { terminal.stop() }
            try watchOnScreen(terminal, layout: layout, state: state, scope: scope, seconds: seconds)
            return
        }
        var previous: WatchSnapshot?
        var due = clock.now
        while true {
            let current = try watchSnapshot(scope)
            let frame = WatchFrame(previous: previous, current: current, health: readHealthState())
            if entry.options.contains(.json) {
                WatchJSON.write(frame, interval: seconds, wallClock: host.wallClock(), state: state, to: stdout)
            } else {
                var text = ""
                for line in layout.lines(frame, state: state, width: nil, height: nil, terminal: false) {
                    text += line.text + "\n"
                }
                stdout.write(text + "\n")
            }
            // A reader that went away (or a full disk) ends the watch; `IPVSAdm.run` says which.
            if stdout.flush() != nil { return }
            previous = current
            due += seconds
            let now = clock.now
            if due > now { clock.sleep(seconds: due - now) } else { due = now }
        }
    }

    private func watchOnScreen(
        _ terminal: any WatchTerminal, layout: WatchLayout, state: WatchState, scope: TableScope, seconds: Double
    ) throws(Termination) {
        var state = state
        var previous: WatchSnapshot?
        var frame: WatchFrame?
        var due = clock.now
        func draw() {
            guard let frame else { return }
            let size = terminal.size
            terminal.draw(layout.lines(frame, state: state, width: size.columns, height: size.rows, terminal: true))
        }
        while true {
            if !state.paused && clock.now >= due {
                let current = try watchSnapshot(scope)
                frame = WatchFrame(previous: previous, current: current, health: readHealthState())
                previous = current
                due = current.time + seconds
                draw()
            }
            // Paused, keys are still read (a second at a time).
            let wait = state.paused ? 1 : max(0, due - clock.now)
            guard let key = terminal.nextKey(waitingUpTo: wait) else { continue }
            switch state.handle(key, services: frame?.services.map(\.service.key) ?? []) {
            case .quit: return
            case .redraw: draw()
            case .refresh: due = clock.now
            case .nothing: break
            }
        }
    }

    /// The table now, in ipvsadm's order. A service deleted between the two reads is left
    /// out (it is gone); a table that cannot be read ends the watch with the kernel's message.
    private func watchSnapshot(_ scope: TableScope) throws(Termination) -> WatchSnapshot {
        var services: [VirtualService]
        do {
            services = try backend.services()
        } catch {
            throw .process(status: 1, stderr: error.message + "\n")
        }
        if !scope.isWholeTable { services.removeAll { !scope.contains($0.key) } }
        var entries: [WatchSnapshot.Entry] = []
        for index in Sorting.sortedOrder(services, key: Sorting.ServiceOrderKey.init) {
            guard let destinations = try? backend.destinations(of: services[index]) else { continue }
            var sorted: [Destination] = []
            sorted.reserveCapacity(destinations.count)
            Sorting.forEach(destinations, sorted: true) { sorted.append($0) }
            entries.append(WatchSnapshot.Entry(service: services[index], destinations: sorted))
        }
        return WatchSnapshot(time: clock.now, entries: entries)
    }
}

/// `--watch --json`: one frame as one line of JSON (`Docs/JSON.md`, "The watch frames").
enum WatchJSON {
    static func write(_ frame: WatchFrame, interval: Double, wallClock: Double, state: WatchState, to sink: any OutputSink) {
        let json = JSONWriter(to: sink)
        json.beginObject()
        json.member("time", number: HealthStateFile.fixed(wallClock, 3))
        json.member("interval", number: HealthStateFile.fixed(interval, 3))
        if let elapsed = frame.elapsed {
            json.member("elapsed", number: HealthStateFile.fixed(elapsed, 3))
        } else {
            json.member("elapsed", number: "null")
        }
        json.key("services")
        json.beginArray()
        for service in state.arranged(frame) {
            json.beginObject()
            JSONRenderer.serviceKeyMembers(service.service.key, into: json)
            json.member("scheduler", service.service.scheduler)
            json.member("active_connections", service.activeConnections)
            json.member("inactive_connections", service.inactiveConnections)
            counters(service.service.stats, service.rates, into: json)
            json.key("real_servers")
            json.beginArray()
            for server in service.servers {
                let d = server.destination
                json.beginObject()
                JSONRenderer.destinationMembers(d, into: json)
                counters(d.stats, server.rates, into: json)
                if let record = server.health { json.member("health", record.sorry ? "sorry" : record.state.rawValue) }
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.finish()
    }

    /// `stats` (the exact totals), `rates` (per second between the two reads, null on the
    /// first frame or after a counter went down), `kernel_rates` (the kernel's estimator).
    private static func counters(_ stats: Statistics, _ rates: WatchRates?, into json: JSONWriter) {
        JSONRenderer.counterObject("stats", stats.totals, into: json)
        if let rates {
            json.key("rates")
            json.beginObject()
            json.member("connections", number: HealthStateFile.fixed(rates.connections, 3))
            json.member("packets_in", number: HealthStateFile.fixed(rates.inPackets, 3))
            json.member("packets_out", number: HealthStateFile.fixed(rates.outPackets, 3))
            json.member("bytes_in", number: HealthStateFile.fixed(rates.inBytes, 3))
            json.member("bytes_out", number: HealthStateFile.fixed(rates.outBytes, 3))
            json.endObject()
        } else {
            json.member("rates", number: "null")
        }
        JSONRenderer.counterObject("kernel_rates", stats.rates, into: json)
    }
}
