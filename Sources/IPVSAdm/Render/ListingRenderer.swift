import IPVS

/// What `-L` lists. One of five, decided once from the command line (the matrix lets `-c`,
/// a service, `--timeout` and `--daemon` come one at a time), whatever the format.
enum Listing: Equatable {
    /// `-c`: the kernel's connection table (with `--conn-*` filters, the lines they select).
    case connections
    /// `-c --conn-summary`: the connections counted in groups (`ConnectionSummary`).
    case connectionSummary
    /// `--timeout`.
    case timeouts
    /// `--daemon`: the running sync daemons.
    case daemons
    /// `-t`, `-u`, `--sctp-service`, `-f`: one service and its real servers.
    case service(ServiceKey)
    /// The whole table, service by service.
    case services
}

/// A listing format: text for people, `--json`, `--metrics`. `Runner.list` reads the kernel
/// and hands a renderer what it read, in order: `begin`, the listing's items (`connection` per
/// line, `timeouts`, `daemons`, or `service` per service), then `end`; or, when the kernel
/// fails part-way, `abandon` instead of `end`. A renderer writes to its own output sink.
///
/// Hot path: `service` and `connection` run once per entry of tables with thousands of them.
/// `Runner.list` is generic over the renderer (no existential dispatch per entry), so each
/// format's listing is compiled for it.
protocol ListingRenderer {
    /// Before the first item; nothing of the listing is read yet for `.services`, everything
    /// else is.
    mutating func begin(_ listing: Listing)
    mutating func connection(_ connection: ConnectionLine)
    /// `.connectionSummary`'s one item, once the table is read.
    mutating func connectionSummary(_ summary: ConnectionSummary)
    mutating func timeouts(_ timeouts: Timeouts)
    mutating func daemons(_ daemons: [SyncDaemon])
    /// One service and its real servers, in the kernel's order (the renderer sorts them).
    mutating func service(_ service: VirtualService, _ destinations: [Destination])
    /// After the last item.
    mutating func end(_ listing: Listing)
    /// The kernel failed after `begin`: what the format shows of a listing cut short.
    mutating func abandon(_ listing: Listing)
}

extension ListingRenderer {
    mutating func connectionSummary(_ summary: ConnectionSummary) {}
}

/// The text listings, as ipvsadm prints them: the `-L` tables (`ListRenderer`), `-c`
/// (`ConnectionRenderer`), `--timeout` and `--daemon` (`InfoText`). Rendered as bytes into one
/// buffer, written out every 64 KiB; a listing cut short prints what it had before the failure.
struct TextListing: ListingRenderer {
    private let table: ListRenderer
    private let connections: ConnectionRenderer
    private let info: IPVSInfo
    private let stdout: any OutputSink
    private var out = TextBuffer()

    /// `--health`'s line above the table (nil without `--health`).
    private let healthLine: String?

    /// - Parameters:
    ///   - health: with `--health`, the line above the table; `view` is the checker's state
    ///     (nil when it has none).
    init(
        format: ListFormat, resolver: any NameResolver, info: IPVSInfo, to stdout: any OutputSink,
        health: String? = nil, view: HealthView? = nil
    ) {
        table = ListRenderer(format: format, resolver: resolver, showsHealth: health != nil, health: view)
        connections = ConnectionRenderer(renderer: table)
        self.info = info
        self.stdout = stdout
        healthLine = health
    }

    mutating func begin(_ listing: Listing) {
        switch listing {
        case .connections: out.append(connections.header)
        case .connectionSummary: break
        case .services:
            stdout.write(InfoText.versionLine(info))
            if let healthLine { out.append(healthLine) }
            out.append(table.title)
        case .service:
            if let healthLine { out.append(healthLine) }
            out.append(table.title)
        case .timeouts, .daemons: break
        }
    }

    mutating func connection(_ connection: ConnectionLine) {
        connections.append(connection, into: &out)
        out.writeOutIfLarge(to: stdout)
    }

    mutating func connectionSummary(_ summary: ConnectionSummary) {
        connections.append(summary, into: &out)
        out.writeOutIfLarge(to: stdout)
    }

    mutating func timeouts(_ timeouts: Timeouts) { out.append(InfoText.timeoutLine(timeouts)) }

    mutating func daemons(_ daemons: [SyncDaemon]) { out.append(InfoText.daemonLines(daemons)) }

    mutating func service(_ service: VirtualService, _ destinations: [Destination]) {
        table.render(service, destinations, into: &out)
        out.writeOutIfLarge(to: stdout)
    }

    mutating func end(_ listing: Listing) { out.writeOut(to: stdout) }

    mutating func abandon(_ listing: Listing) { out.writeOut(to: stdout) }
}
