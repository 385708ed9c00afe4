import IPVS

/// One line of the watch view, and how it is drawn.
public struct WatchLine: Equatable, Sendable {
    public enum Style: Sendable { case title, header, plain }
    public var text: String
    public var style: Style
}

/// The watch view as lines of text: the same for the terminal (cut to its size) and for the
/// plain frames written when standard output is not a terminal. Columns that do not fit the
/// width are left out, least needed first; the address column is never narrower than 22.
struct WatchLayout {
    let names: EndpointNames
    /// Seconds between refreshes, as asked.
    let interval: Double

    private enum Item {
        case service(WatchFrame.Service)
        case server(WatchFrame.Server)
    }

    private struct Column: Sendable {
        let header: String
        /// Left out first: the highest.
        let dropOrder: Int
        let value: @Sendable (Item) -> String
    }

    static let keyHelp = "keys: q quit  p pause  c/r/w/a sort  f/F filter  k kernel rates"
    static let minimumNameWidth = 22

    /// The lines of `frame` as `state` arranges it. `width` nil: every column, no cut (plain
    /// frames); `height` nil: every row. `terminal`: with the keys line.
    func lines(_ frame: WatchFrame, state: WatchState, width: Int?, height: Int?, terminal: Bool) -> [WatchLine] {
        var out = [WatchLine(text: title(frame, state: state), style: .title)]
        out.append(WatchLine(text: status(state), style: .plain))
        if terminal { out.append(WatchLine(text: WatchLayout.keyHelp, style: .plain)) }
        let services = state.arranged(frame)
        var items: [Item] = []
        for service in services {
            items.append(.service(service))
            for server in service.servers { items.append(.server(server)) }
        }
        let columns = chosenColumns(frame, state: state, items: items, width: width)
        let nameWidth = columns.nameWidth
        let fullHeader = "Prot LocalAddress:Port Scheduler"
        var header = WatchLayout.padded(fullHeader.count <= nameWidth ? fullHeader : "Prot LocalAddress:Port", nameWidth)
        for column in columns.columns { header += WatchLayout.right(column.header, column.header.count + 1) }
        out.append(WatchLine(text: header, style: .header))
        out.append(WatchLine(text: "  -> RemoteAddress:Port", style: .header))
        if let filter = state.filter, services.isEmpty {
            out.append(WatchLine(text: "\(HealthRecord.serviceText(filter)) is not in the table (F: all services)", style: .plain))
        } else if items.isEmpty {
            out.append(WatchLine(text: "(no virtual services)", style: .plain))
        }
        for item in items {
            // Too long for the column: the scheduler goes first, then the end of the address.
            let named = name(item)
            var line = WatchLayout.padded(named.full.count <= nameWidth ? named.full : named.address, nameWidth)
            for column in columns.columns { line += WatchLayout.right(column.value(item), column.header.count + 1) }
            out.append(WatchLine(text: line, style: .plain))
        }
        if let height, out.count > height, height > 0 {
            let hidden = out.count - height + 1
            out.removeLast(hidden)
            out.append(WatchLine(text: "... \(hidden) more lines (f: one service)", style: .plain))
        }
        if let width { return out.map { WatchLine(text: String($0.text.prefix(width)), style: $0.style) } }
        return out
    }

    /// How often, and what the rate columns are.
    private func title(_ frame: WatchFrame, state: WatchState) -> String {
        var text = "ipvsadm --watch: every \(WatchLayout.seconds(interval))s, "
        if state.kernelRates {
            text += "the kernel's rates (2s estimator)"
        } else if let elapsed = frame.elapsed {
            text += "rates from exact counters over \(HealthStateFile.fixed(elapsed, 2))s"
        } else {
            text += "rates from the next refresh"
        }
        if state.paused { text += "  [PAUSED]" }
        return text
    }

    /// The order and which services.
    private func status(_ state: WatchState) -> String {
        let shown = state.filter.map { "only " + HealthRecord.serviceText($0) } ?? "all services"
        return "sort: \(state.sort.rawValue), \(shown)"
    }

    /// The name column of a row: whole, and without the scheduler.
    private func name(_ item: Item) -> (full: String, address: String) {
        switch item {
        case .service(let s):
            let key = s.service.key
            let address: String
            switch key {
            case .firewallMark(let mark, let family):
                address = "FWM  \(mark)\(family == .inet6 ? " IPv6" : "")"
            case .address(let proto, let ip, let port):
                address = WatchLayout.padded(proto.kernelName ?? String(proto.rawValue), 4) + " "
                    + names.endpoint(ip, port: port, protocol: proto)
            }
            return (address + " " + s.service.scheduler, address)
        case .server(let s):
            let d = s.destination
            let text = "  -> " + names.endpoint(d.address, port: d.port, protocol: .tcp)
            return (text, text)
        }
    }

    /// The columns that fit `width` (all when nil), and the width of the address column.
    private func chosenColumns(
        _ frame: WatchFrame, state: WatchState, items: [Item], width: Int?
    ) -> (columns: [Column], nameWidth: Int) {
        var columns = WatchLayout.counts
        columns += state.kernelRates ? WatchLayout.kernelRateColumns : WatchLayout.exactRateColumns
        if frame.health != nil { columns.append(WatchLayout.healthColumn) }
        let longest = items.reduce("Prot LocalAddress:Port Scheduler".count) { max($0, name($1).full.count) }
        guard let width else { return (columns, longest) }
        var nameWidth = min(longest, max(WatchLayout.minimumNameWidth, width - total(columns)))
        while total(columns) + nameWidth > width, let drop = columns.indices.max(by: { columns[$0].dropOrder < columns[$1].dropOrder }),
            columns[drop].dropOrder > 0
        {
            columns.remove(at: drop)
            nameWidth = min(longest, max(WatchLayout.minimumNameWidth, width - total(columns)))
        }
        return (columns, nameWidth)
    }

    private func total(_ columns: [Column]) -> Int { columns.reduce(0) { $0 + $1.header.count + 1 } }

    private static let counts: [Column] = [
        Column(header: "Weight", dropOrder: 0) { item in
            if case .server(let s) = item { return String(s.destination.weight) }
            return ""
        },
        Column(header: "ActConn", dropOrder: 0) { item in
            switch item {
            case .service(let s): return count(s.activeConnections)
            case .server(let s): return count(UInt64(s.destination.activeConnections))
            }
        },
        Column(header: "InActConn", dropOrder: 0) { item in
            switch item {
            case .service(let s): return count(s.inactiveConnections)
            case .server(let s): return count(UInt64(s.destination.inactiveConnections))
            }
        },
    ]

    private static let exactRateColumns: [Column] = [
        exactRate("Conn/s", dropOrder: 0) { $0.connections },
        exactRate("InPkt/s", dropOrder: 2) { $0.inPackets },
        exactRate("OutPkt/s", dropOrder: 4) { $0.outPackets },
        exactRate("InB/s", dropOrder: 1) { $0.inBytes },
        exactRate("OutB/s", dropOrder: 3) { $0.outBytes },
    ]

    private static let kernelRateColumns: [Column] = [
        kernelRate("CPS", dropOrder: 0) { $0.connectionRate },
        kernelRate("InPPS", dropOrder: 2) { $0.inPacketRate },
        kernelRate("OutPPS", dropOrder: 4) { $0.outPacketRate },
        kernelRate("InBPS", dropOrder: 1) { $0.inByteRate },
        kernelRate("OutBPS", dropOrder: 3) { $0.outByteRate },
    ]

    private static let healthColumn = Column(header: "Health ", dropOrder: 0) { item in
        guard case .server(let s) = item else { return "" }
        guard let record = s.health else { return "-" }
        return record.sorry ? "sorry" : record.state.rawValue
    }

    private static func exactRate(_ header: String, dropOrder: Int, _ field: @escaping @Sendable (WatchRates) -> Double) -> Column {
        Column(header: header, dropOrder: dropOrder) { item in
            let rates: WatchRates?
            switch item {
            case .service(let s): rates = s.rates
            case .server(let s): rates = s.rates
            }
            return rates.map { rate(field($0)) } ?? "-"
        }
    }

    private static func kernelRate(_ header: String, dropOrder: Int, _ field: @escaping @Sendable (Statistics) -> UInt64) -> Column {
        Column(header: header, dropOrder: dropOrder) { item in
            switch item {
            case .service(let s): return count(field(s.service.stats))
            case .server(let s): return count(field(s.destination.stats))
            }
        }
    }

    // MARK: Numbers

    /// A rate in at most 6 characters: `0.5`, `99.9`, `1234`, `12.3K`, `4.5M`, `1.2G`.
    static func rate(_ value: Double) -> String {
        guard value.isFinite, value >= 0 else { return "-" }
        if value < 100 { return HealthStateFile.fixed(value, 1) }
        if value < 10_000 { return String(Int(value.rounded())) }
        return compact(value)
    }

    /// A count in at most 7 characters: whole up to 999999, then `1.2M`, `3.4G`.
    static func count(_ value: UInt64) -> String {
        value < 1_000_000 ? String(value) : compact(Double(value))
    }

    private static func compact(_ value: Double) -> String {
        var value = value
        for suffix in ["K", "M", "G", "T", "P"] {
            value /= 1000
            if value < 999.95 { return HealthStateFile.fixed(value, 1) + suffix }
        }
        return HealthStateFile.fixed(value, 0) + "E"
    }

    /// Seconds as given: `2`, `0.5`.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : HealthStateFile.fixed(value, 1)
    }

    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
    }

    static func right(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
