import IPVS

/// `-d ... --drain`, and the wait that `--apply --drain` makes before its deletions: let the
/// connections of what goes finish first.
extension Runner {
    /// `-d ... --drain[=SECONDS]`: weight 0, the wait, then the deletion.
    func drainAndDelete(_ entry: CommandEntry, seconds: UInt32) throws(Termination) -> Int32 {
        let target = destination(entry)
        let service = entry.service.model
        let current: Destination?
        do {
            current = try backend.destinations(of: service).first { DestinationKey($0) == DestinationKey(target) }
        } catch {
            stderr.write(error.message + "\n")
            return 255
        }
        if var idle = current, idle.weight != 0 {
            idle.weight = 0
            do {
                try backend.apply(.updateDestination(idle, in: service))
            } catch {
                stderr.write(error.message + "\n")
                return 255
            }
        }
        if let current { waitForConnections([(service, current)], seconds: seconds) }
        do {
            try backend.apply(.deleteDestination(target, from: service))
        } catch {
            stderr.write(error.message + "\n")
            return 255
        }
        return 0
    }

    /// Polls the real servers once a second until none has an active or inactive
    /// connection, or `seconds` have passed; shows how it goes on a terminal.
    func waitForConnections(_ draining: [(service: VirtualService, destination: Destination)], seconds: UInt32) {
        var byService: [ServiceKey: (VirtualService, Set<DestinationKey>)] = [:]
        for (service, destination) in draining {
            byService[service.key, default: (service, [])].1.insert(DestinationKey(destination))
        }
        let deadline = clock.now + Double(seconds)
        var shown = false
        while true {
            var servers = 0
            var active = 0
            var inactive = 0
            for (service, keys) in byService.values {
                for d in (try? backend.destinations(of: service)) ?? [] where keys.contains(DestinationKey(d)) {
                    let busy = Int(d.activeConnections) + Int(d.inactiveConnections)
                    if busy > 0 { servers += 1 }
                    active += Int(d.activeConnections)
                    inactive += Int(d.inactiveConnections)
                }
            }
            let left = deadline - clock.now
            if stderr.isTerminal {
                stderr.write("\rdraining: \(servers) real servers, \(active) active and \(inactive) inactive "
                    + "connections, \(max(0, Int(left.rounded(.up)))) s left \u{1b}[K")
                shown = true
            }
            if servers == 0 { break }
            if left <= 0 {
                if shown { stderr.write("\n") }
                shown = false
                stderr.write("--drain: time is up: \(active) active and \(inactive) inactive connections "
                    + "on \(servers) real servers are cut\n")
                break
            }
            clock.sleep(seconds: min(1, left))
        }
        if shown { stderr.write("\n") }
    }
}
