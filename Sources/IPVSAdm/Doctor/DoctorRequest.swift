import IPVS

/// What `--doctor` was asked, checked as the parser reads it: the usage errors of its options
/// (status 255, like every bad command line: 1 and 2 are the doctor's verdicts).
enum DoctorRequest {
    static func usage(_ message: String) -> Termination {
        .process(status: 255, stderr: "ipvsadm: --doctor: \(message)\n")
    }

    /// A bad command line of `--doctor` ends with 255, whichever check found it.
    static func usageStatus(_ termination: Termination) -> Termination {
        switch termination {
        case .process(let status, let out, let err) where status == 2: .process(status: 255, stdout: out, stderr: err)
        case .line(let message): .process(status: 255, stderr: message + "\n")
        default: termination
        }
    }

    /// `--vip A,B` and `--director A`: numeric addresses, IPv4 or IPv6.
    static func addresses(_ text: String, option: String) throws(Termination) -> [IPAddress] {
        var result: [IPAddress] = []
        for word in text.split(separator: ",", omittingEmptySubsequences: false) {
            let word = String(word)
            guard let address = IPAddress.parse(word, with: IPAddress.parseIPv4Strict)
                ?? IPAddress.parse(word, with: IPAddress.parseIPv6)
            else { throw usage("invalid \(option) `\(word)' (a numeric IPv4 or IPv6 address)") }
            result.append(address)
        }
        return result
    }

    /// Whether the command line examines this host as a real server (no IPVS needed).
    static func isRealServer(_ entry: CommandEntry) -> Bool {
        !entry.vips.isEmpty || entry.options.contains(.server)
    }

    /// The rules between `--doctor`'s options that the matrix cannot say.
    static func check(_ entry: CommandEntry) throws(Termination) {
        let options = entry.options
        if options.contains(.vip) && options.contains(.rules) {
            throw usage("give the VIPs either with --vip or with --rules FILE -r ADDRESS, not both")
        }
        if options.contains(.server) && !options.contains(.rules) {
            throw usage("-r names this real server in a rules file: give the file with --rules FILE")
        }
        if options.contains(.vip) && !options.contains(.forward) {
            throw usage("--vip needs the forwarding method: -g (DR), -i (TUN) or -m (NAT)")
        }
        if options.contains(.forward) && !options.contains(.vip) {
            throw usage("-g, -i and -m name the method of the VIPs given with --vip")
        }
        if options.contains(.vip) && entry.destination.forwarding == .masquerading && entry.director == nil {
            throw usage("-m needs --director ADDRESS (the director's address, the real servers' gateway)")
        }
        if options.contains(.client) && !options.contains(.director) {
            throw usage("--client names clients whose route goes through --director ADDRESS: give both")
        }
        if options.contains(.director) && !isRealServer(entry) {
            throw usage("--director is for a real server (with --vip or --rules FILE -r ADDRESS)")
        }
    }
}
