import IPVS

extension Runner {
    /// `--doctor` on the director: the live table (and `--rules FILE`) against the host.
    func doctor(_ entry: CommandEntry) throws(Termination) -> Int32 {
        let rules = try entry.rulesFile.map { (path) throws(Termination) in
            try DoctorRules.read(path, host: host, parser: rulesParser)
        }
        let report: DoctorReport
        do throws(DoctorFailure) {
            report = try DirectorDoctor(backend: backend, reader: HostReader(host: host), rules: rules).examine()
        } catch {
            throw Runner.doctorFailure(error)
        }
        DoctorOutput.write(report, json: entry.options.contains(.json), to: stdout)
        return report.status
    }

    static func doctorFailure(_ failure: DoctorFailure) -> Termination {
        switch failure {
        case .kernel(let error): .process(status: 255, stderr: error.message + "\n")
        case .network(let error): .process(status: 255, stderr: "ipvsadm: --doctor: cannot read the network configuration: \(error.text)\n")
        }
    }

    /// `--doctor` on a real server: no kernel table, only the host.
    static func realServerDoctor(
        _ entry: CommandEntry, host: any Host, parser: Parser, stdout: any OutputSink
    ) throws(Termination) -> Int32 {
        var targets: [(vip: IPAddress, method: ForwardingMethod)] = entry.vips.map { ($0, entry.destination.forwarding) }
        if let path = entry.rulesFile {
            let rules = try DoctorRules.read(path, host: host, parser: parser)
            let address = entry.destinationModel.address
            let mine = rules.servers.filter { $0.destination.address == address }
            guard !mine.isEmpty else { throw DoctorRequest.usage("\(address.text) is not a real server in \(path)") }
            for server in mine where server.service.key.fwmark == 0 {
                let target = (vip: server.service.key.address, method: server.destination.forwarding)
                if !targets.contains(where: { $0.vip == target.vip && $0.method == target.method }) { targets.append(target) }
            }
            guard !targets.isEmpty else {
                throw DoctorRequest.usage("\(address.text) serves only firewall-mark services in \(path): give the VIPs with --vip")
            }
            if entry.director == nil && targets.contains(where: { $0.method == .masquerading }) {
                throw DoctorRequest.usage("\(address.text) is a NAT real server in \(path): give --director ADDRESS (its gateway)")
            }
        }
        let report: DoctorReport
        do throws(DoctorFailure) {
            report = try RealServerDoctor(
                reader: HostReader(host: host), targets: targets, director: entry.director, clients: entry.clients
            ).examine()
        } catch {
            throw doctorFailure(error)
        }
        DoctorOutput.write(report, json: entry.options.contains(.json), to: stdout)
        return report.status
    }

    /// The report when IPVS cannot be opened at all.
    static func missingIPVS(_ error: IPVSError, json: Bool, stdout: any OutputSink) -> Int32 {
        var report = DoctorReport(mode: .director)
        report.add(
            .error, .ipvsModuleMissing, "ip_vs",
            "IPVS cannot be reached (\(error.message)), so no virtual service exists and nothing is balanced.",
            fix: ["modprobe ip_vs"])
        DoctorOutput.write(report, json: json, to: stdout)
        return report.status
    }
}
