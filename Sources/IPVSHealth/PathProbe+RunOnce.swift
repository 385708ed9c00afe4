import Glibc
import IPVS
import IPVSAdm

extension PathProbe {
    static let usage = "usage: ipvsadm-health --probe-path VIP:PORT REAL-SERVER dr|tun [TIMEOUT-SECONDS]"

    /// `ipvsadm-health --probe-path VIP:PORT REAL-SERVER dr|tun [TIMEOUT]` (`arguments` are
    /// the words after `--probe-path`): one probe along the traffic path, from this host and
    /// network namespace, waiting at most TIMEOUT seconds (default 3). Prints `passed`,
    /// `refused`, `timed out` or `failed: REASON`; the exit status is 0 only for `passed`,
    /// 1 otherwise, 2 for a usage error. A diagnostic one-shot: its output is the program's,
    /// so it writes to the process's streams itself.
    public static func runOnce(arguments: [String]) -> Int32 {
        guard let request = Request(arguments) else {
            standardError("\(usage)\n")
            return 2
        }
        let probe: PathProbe
        do {
            probe = try PathProbe()
        } catch {
            standardError("ipvsadm-health: --probe-path: \(error)\n")
            return 1
        }
        let clock = SystemClock()
        let deadline = clock.now + request.timeout
        var outcome = probe.send(
            token: 0, vip: request.vip, port: request.port, realServer: request.realServer, method: request.method,
            deadline: deadline)
        var polled = probe.descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while outcome == nil {
            let wait = max(0, min(deadline - clock.now, 0.25))
            _ = poll(&polled, nfds_t(polled.count), Int32((wait * 1000).rounded(.up)))
            outcome = probe.receive().first?.outcome ?? probe.expire(now: clock.now).first?.outcome
        }
        switch outcome {
        case .passed: print("passed")
        case .refused: print("refused")
        case .timedOut: print("timed out")
        case .failed(let reason): print("failed: \(reason)")
        case nil: break
        }
        return outcome == .passed ? 0 : 1
    }

    private static func standardError(_ text: String) {
        var text = text
        _ = text.withUTF8 { write(2, $0.baseAddress, $0.count) }
    }

    /// The one-shot's arguments.
    struct Request: Equatable {
        var vip: IPAddress
        var port: UInt16
        var realServer: IPAddress
        var method: Method
        var timeout: Double

        /// `VIP:PORT REAL-SERVER[:PORT] METHOD [TIMEOUT]`; METHOD is dr (-g, route, gatewaying)
        /// or tun (-i, tunnel, ipip). A real server's port is accepted and ignored: the probe
        /// goes to the VIP's port, as IPVS forwards DR and TUN packets unchanged.
        init?(_ arguments: [String]) {
            guard arguments.count == 3 || arguments.count == 4,
                  let colon = arguments[0].lastIndex(of: ":"),
                  let vip = IPAddress.parse(String(arguments[0][..<colon]), with: IPAddress.parseIPv4Strict),
                  let port = UInt16(arguments[0][arguments[0].index(after: colon)...]), port > 0
            else { return nil }
            let server = arguments[1].split(separator: ":").first.map(String.init) ?? ""
            guard let realServer = IPAddress.parse(server, with: IPAddress.parseIPv4Strict) else { return nil }
            switch arguments[2] {
            case "dr", "-g", "route", "gatewaying": method = .directRouting
            case "tun", "-i", "tunnel", "ipip": method = .tunnel
            default: return nil
            }
            if arguments.count == 4 {
                guard let timeout = Double(arguments[3]), timeout > 0, timeout <= 3600 else { return nil }
                self.timeout = timeout
            } else {
                timeout = 3
            }
            self.vip = vip
            self.port = port
            self.realServer = realServer
        }
    }
}
