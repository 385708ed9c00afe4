import Glibc
import IPVS
import IPVSAdm
import Testing
@testable import IPVSHealth

/// The real checks against the loopback interface: a listening socket (the kernel completes
/// the handshake without an accept), a closed port, commands, an HTTP server when python3 is
/// there to be one.
@Suite(.serialized) struct SystemProberTests {
    static let loopback = IPAddress(ipv4: 0x7f00_0001)

    /// A listening TCP socket on 127.0.0.1 and its port.
    static func listener(backlog: Int32 = 16) -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, backlog)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    static func target(_ id: Int, _ spec: CheckSpec, port: UInt16) -> ProbeTarget {
        ProbeTarget(
            id: id, spec: spec, address: loopback, port: port,
            service: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80), server: loopback,
            serverPort: port, forwarding: .masquerading,
            environment: ["IPVS_RS=127.0.0.1", "IPVS_WEIGHT=3"])
    }

    /// Waits until `count` results are in (at most 10 s).
    static func collect(_ prober: SystemProber, _ clock: SystemHealthClock, count: Int) -> [Int: ProbeResult] {
        var results: [(id: Int, result: ProbeResult)] = []
        var signals: [Int32] = []
        let end = clock.monotonic + 10
        while results.count < count && clock.monotonic < end {
            prober.wait(now: clock.monotonic, timeout: 0.2, results: &results, signals: &signals)
        }
        return Dictionary(results.map { ($0.id, $0.result) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func tcpConnectsAndRefusals() {
        let clock = SystemHealthClock()
        let prober = SystemProber(clock: clock, signals: [])
        let open = Self.listener()
        let closed = Self.listener()
        close(closed.fd)
        defer { close(open.fd) }
        var spec = CheckSpec(kind: .tcp)
        spec.timeout = 2
        prober.start(Self.target(1, spec, port: open.port), now: clock.monotonic)
        prober.start(Self.target(2, spec, port: closed.port), now: clock.monotonic)
        let results = Self.collect(prober, clock, count: 2)
        #expect(results[1]?.ok == true)
        #expect(results[1]?.message == "SYN-ACK")
        #expect(results[2]?.ok == false)
        #expect(results[2]?.message == "connection refused")
    }

    @Test func commandsTheirExitStatusAndTimeout() {
        let clock = SystemHealthClock()
        let prober = SystemProber(clock: clock, signals: [])
        var pass = CheckSpec(kind: .misc)
        pass.command = "/bin/true"
        var fail = CheckSpec(kind: .misc)
        fail.command = "false"
        var environment = CheckSpec(kind: .misc)
        environment.command = "test \"$IPVS_WEIGHT\" = 3"
        environment.shell = true
        var slow = CheckSpec(kind: .misc)
        slow.command = "sleep 30"
        slow.timeout = 0.3
        let start = clock.monotonic
        prober.start(Self.target(1, pass, port: 1), now: start)
        prober.start(Self.target(2, fail, port: 1), now: start)
        prober.start(Self.target(3, environment, port: 1), now: start)
        prober.start(Self.target(4, slow, port: 1), now: start)
        let results = Self.collect(prober, clock, count: 4)
        #expect(results[1]?.ok == true)
        #expect(results[2]?.ok == false)
        #expect(results[2]?.message == "exit 1")
        #expect(results[3]?.ok == true)
        #expect(results[4]?.ok == false)
        #expect(results[4]?.message.hasPrefix("timed out") == true)
        #expect(clock.monotonic - start < 5)
    }

    @Test func httpRefusedAndAHangingServerTimesOut() {
        let clock = SystemHealthClock()
        let prober = SystemProber(clock: clock, signals: [])
        let closed = Self.listener()
        close(closed.fd)
        // Accepts the connection (the kernel does) but never answers.
        let silent = Self.listener()
        defer { close(silent.fd) }
        var spec = CheckSpec(kind: .http)
        spec.timeout = 0.5
        let start = clock.monotonic
        prober.start(Self.target(1, spec, port: closed.port), now: start)
        prober.start(Self.target(2, spec, port: silent.port), now: start)
        let results = Self.collect(prober, clock, count: 2)
        #expect(results[1]?.ok == false)
        #expect(results[1]?.message == "connection refused")
        #expect(results[2]?.ok == false)
        #expect(results[2]?.message == "timed out")
        #expect(clock.monotonic - start < 3)
    }

    @Test(.enabled(if: access("/usr/bin/python3", X_OK) == 0)) func httpStatusAndBody() throws {
        let clock = SystemHealthClock()
        let prober = SystemProber(clock: clock, signals: [])
        // A python3 HTTP server on a free port, serving a directory with one file.
        let port = Self.listener()
        close(port.fd)
        let directory = "/tmp/ipvsadm-health-http-\(getpid())"
        mkdir(directory, 0o755)
        let fd = open(directory + "/health", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = write(fd, "all good\n", 9)
        close(fd)
        var pid: pid_t = 0
        let arguments = ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, "\(port.port)"]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        #expect(posix_spawn(&pid, argv[0]!, nil, nil, &argv, environ) == 0)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            unlink(directory + "/health")
            rmdir(directory)
        }
        // Until it listens.
        var ready = false
        for _ in 0..<100 where !ready {
            var tcp = CheckSpec(kind: .tcp)
            tcp.timeout = 1
            prober.start(Self.target(9, tcp, port: port.port), now: clock.monotonic)
            ready = Self.collect(prober, clock, count: 1)[9]?.ok == true
            if !ready { usleep(100_000) }
        }
        #expect(ready)
        var ok = CheckSpec(kind: .http)
        ok.path = "/health"
        ok.body = "good"
        var missing = CheckSpec(kind: .http)
        missing.path = "/nothing"
        var wrongBody = CheckSpec(kind: .http)
        wrongBody.path = "/health"
        wrongBody.body = "bad"
        var accepted404 = CheckSpec(kind: .http)
        accepted404.path = "/nothing"
        accepted404.statuses = [200...299, 404...404]
        accepted404.host = "example.test"
        for round in 0..<2 {  // twice: the handles are reused
            let now = clock.monotonic
            prober.start(Self.target(1, ok, port: port.port), now: now)
            prober.start(Self.target(2, missing, port: port.port), now: now)
            prober.start(Self.target(3, wrongBody, port: port.port), now: now)
            prober.start(Self.target(4, accepted404, port: port.port), now: now)
            let results = Self.collect(prober, clock, count: 4)
            #expect(results[1]?.ok == true, "round \(round)")
            #expect(results[1]?.message == "status 200")
            #expect(results[2]?.ok == false)
            #expect(results[2]?.message == "status 404")
            #expect(results[3]?.ok == false)
            #expect(results[4]?.ok == true)
        }
    }

    @Test(.enabled(if: access("/usr/bin/python3", X_OK) == 0 && access("/usr/bin/openssl", X_OK) == 0))
    func httpsWithoutVerificationAndWithHostName() throws {
        let clock = SystemHealthClock()
        let prober = SystemProber(clock: clock, signals: [])
        let port = Self.listener()
        close(port.fd)
        let directory = "/tmp/ipvsadm-health-https-\(getpid())"
        mkdir(directory, 0o755)
        defer {
            for file in ["key.pem", "cert.pem", "server.py"] { unlink(directory + "/" + file) }
            rmdir(directory)
        }
        func run(_ arguments: [String]) -> pid_t {
            var pid: pid_t = 0
            var argv = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            #expect(posix_spawn(&pid, argv[0]!, nil, nil, &argv, environ) == 0)
            return pid
        }
        var status: Int32 = 0
        waitpid(run([
            "/bin/sh", "-c",
            "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -keyout \(directory)/key.pem -out \(directory)/cert.pem -days 1 -subj /CN=example.test 2>/dev/null",
        ]), &status, 0)
        let script = """
            import http.server, ssl
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = ("host=" + self.headers.get("Host", "")).encode()
                    self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *a): pass
            s = http.server.HTTPServer(("127.0.0.1", \(port.port)), H)
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain("\(directory)/cert.pem", "\(directory)/key.pem")
            s.socket = c.wrap_socket(s.socket, server_side=True)
            s.serve_forever()
            """
        let fd = open(directory + "/server.py", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = script.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        let server = run(["/usr/bin/python3", directory + "/server.py"])
        defer {
            kill(server, SIGKILL)
            waitpid(server, &status, 0)
        }
        var ready = false
        for _ in 0..<100 where !ready {
            var tcp = CheckSpec(kind: .tcp)
            tcp.timeout = 1
            prober.start(Self.target(9, tcp, port: port.port), now: clock.monotonic)
            ready = Self.collect(prober, clock, count: 1)[9]?.ok == true
            if !ready { usleep(100_000) }
        }
        #expect(ready)
        var plain = CheckSpec(kind: .https)
        plain.timeout = 3
        var named = plain
        named.host = "example.test"
        named.body = "host=example.test"
        var verified = plain
        verified.verifyTLS = true
        prober.start(Self.target(1, plain, port: port.port), now: clock.monotonic)
        prober.start(Self.target(2, named, port: port.port), now: clock.monotonic)
        prober.start(Self.target(3, verified, port: port.port), now: clock.monotonic)
        let results = Self.collect(prober, clock, count: 3)
        #expect(results[1]?.ok == true)
        #expect(results[2]?.ok == true, "\(results[2]?.message ?? "")")
        // A self-signed certificate fails verification.
        #expect(results[3]?.ok == false)
    }
}
