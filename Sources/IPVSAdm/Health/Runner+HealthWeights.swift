import IPVS

extension Runner {
    /// `--apply` with a health checker: a real server the checker holds out of service
    /// (`HealthView.holdsOut`: down, rising, ramping, or a weight other than the declared one)
    /// keeps the kernel's current weight, not the file's (or, when the kernel does not have
    /// it, the checker's), so that a reload never puts a dead server back. Each one is said on
    /// standard error, one line per server (the plan on standard output stays `-R` input).
    /// Without a state file, nothing changes (one failed open).
    func keepHealthWeights(_ desired: inout TableState, current: TableState) {
        guard let health = readHealthState() else { return }
        let rules = RuleRenderer(names: EndpointNames(numeric: true, resolver: resolver))
        var kernel: [ServiceKey: [DestinationKey: Destination]] = [:]
        for entry in current.entries {
            var servers: [DestinationKey: Destination] = [:]
            for d in entry.destinations { servers[DestinationKey(d)] = d }
            kernel[entry.service.key] = servers
        }
        for index in desired.entries.indices {
            let key = desired.entries[index].service.key
            let serviceText = HealthRecord.serviceText(key)
            for position in desired.entries[index].destinations.indices {
                let d = desired.entries[index].destinations[position]
                guard let record = health.record(service: serviceText, d), HealthView.holdsOut(record) else { continue }
                let now = kernel[key]?[DestinationKey(d)]
                let weight = now?.weight ?? record.weight
                guard weight != d.weight else { continue }
                desired.entries[index].destinations[position].weight = weight
                stderr.write("ipvsadm: --apply: \(rules.serviceOptions(key)) -r "
                    + HealthRecord.serverText(d.address, port: d.port)
                    + " is held out by ipvsadm-health (\(record.state.rawValue)): it keeps weight \(weight) "
                    + "(\(now == nil ? "the checker's" : "the kernel's")), not the file's \(d.weight)\n")
            }
        }
    }
}
