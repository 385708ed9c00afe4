import CHealthSocket
import CLibCurl
import Glibc
import IPVS
import IPVSAdm

/// The write end of the self-pipe the signal handler writes the signal's number to.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

private let signalHandler: @convention(c) (Int32) -> Void = { signal in
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: signal)
    _ = write(signalPipeWrite, &byte, 1)
    errno = saved
}

/// The real checks, all in one poll: TCP checks as SYNs on one raw socket (SYNProbe; `mode=connect`,
/// IPv6, or a process without CAP_NET_RAW: non-blocking connects), HTTP(S) through libcurl's
/// multi interface (once there is an HTTP check, the poll is curl's, which also waits on the
/// connects and the signal pipe; before, a plain poll), misc commands
/// as child processes killed at their timeout. Nothing here blocks on a server: one that never
/// answers only runs into its own timeout.
public final class SystemProber: Prober {
    private struct Connect {
        var id: Int
        var fd: Int32
        var started: Double
        var deadline: Double
    }

    private struct Command {
        var id: Int
        var pid: pid_t
        var started: Double
        var deadline: Double
        var timeout: Double
    }

    private let clock: any HealthClock
    /// libcurl, opened (dlopen) and initialized, and its multi handle made, at the first HTTP
    /// check: a daemon with TCP checks only never maps curl and its libraries (about 4 MB of
    /// RSS). `curlError` when it cannot be opened: every HTTP check fails with it.
    private var curlLibrary: CurlLibrary?
    private var curlError: String?
    private var curl: UnsafeMutableRawPointer?
    private let signalPipeRead: Int32
    private var connects: [Connect] = []
    private var commands: [Command] = []
    /// Killed at their timeout, not yet reaped.
    private var killed: [pid_t] = []
    /// HTTP checks, one curl handle per server, reused check after check.
    private var transfers: [Int: CurlTransfer] = [:]
    private var commandLines: [Int: CommandLine] = [:]
    /// Results known at start (a connect refused at once), handed out by the next wait.
    private var immediate: [(id: Int, result: ProbeResult)] = []
    private var pollSet: [curl_waitfd] = []
    /// The path check (`via=vip`), opened at its first use (after `--netns`).
    private var pathProbe: PathProbe?
    private var pathProbeError: String?
    /// Checks with a path probe: the main check's result and the probe's, joined when both
    /// are in (the round passes only when both pass).
    private var joined: [Int: (main: ProbeResult?, path: ProbeResult?, started: Double)] = [:]
    private var pathsInFlight = 0
    /// The TCP checks' SYN probe, opened at the first one; nil after it could not be (the
    /// checks connect then).
    private var synProbe: SYNProbe?
    private var synProbeOpened = false
    private var synFinished: [SYNProbe.Finished] = []
    private let spawnAttributes: UnsafeMutablePointer<posix_spawnattr_t>
    private let spawnActions: UnsafeMutablePointer<posix_spawn_file_actions_t>

    /// Installs the handlers of `signals` (and SIGCHLD); SIGPIPE is ignored.
    public init(clock: any HealthClock, signals: [Int32] = [SIGHUP, SIGTERM, SIGINT]) {
        self.clock = clock
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        signalPipeRead = fds[0]
        signalPipeWrite = fds[1]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = signalHandler
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART | SA_NOCLDSTOP
        for signal in signals + [SIGCHLD] { sigaction(signal, &action, nil) }
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigaction(SIGPIPE, &ignore, nil)

        // A command runs in its own process group (killed whole at its timeout), with default
        // signal handling, no signal blocked, and /dev/null for its standard streams (its
        // output would be one log line per check).
        spawnAttributes = .allocate(capacity: 1)
        posix_spawnattr_init(spawnAttributes)
        posix_spawnattr_setflags(
            spawnAttributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(spawnAttributes, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(spawnAttributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in signals + [SIGCHLD, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(spawnAttributes, &defaults)
        spawnActions = .allocate(capacity: 1)
        posix_spawn_file_actions_init(spawnActions)
        posix_spawn_file_actions_addopen(spawnActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(spawnActions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(spawnActions, 1, 2)
    }

    // MARK: Starting

    public func start(_ target: ProbeTarget, now: Double) {
        if target.spec.viaVIP, target.forwarding == .directRouting || target.forwarding == .tunnel,
            case .address(_, let vip, let port) = target.service
        {
            startPath(target, vip: vip, port: port, now: now)
        }
        switch target.spec.kind {
        case .tcp: startConnect(target, now: now)
        case .http, .https: startTransfer(target, now: now)
        case .misc: startCommand(target, now: now)
        }
    }

    /// The text of each errno met, made once (hot path: a refused server fails every second).
    private var reasons: [Int32: String] = [:]

    private func reason(_ error: Int32) -> String {
        if let text = reasons[error] { return text }
        let text = SystemProber.reason(error)
        reasons[error] = text
        return text
    }

    private func fail(_ id: Int, _ message: String, started: Double) {
        immediate.append((id, ProbeResult(ok: false, message: message, duration: clock.monotonic - started)))
    }

    private func startConnect(_ target: ProbeTarget, now: Double) {
        if target.spec.tcpMode == .syn, target.address.family == .inet {
            if !synProbeOpened {
                synProbeOpened = true
                synProbe = try? SYNProbe()
            }
            if let synProbe {
                if let outcome = synProbe.send(
                    token: target.id, to: target.address.ipv4, port: target.port, now: now,
                    deadline: now + target.spec.timeout)
                {
                    immediate.append((target.id, result(outcome, duration: clock.monotonic - now)))
                }
                return
            }
        }
        let family = target.address.family == .inet ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return fail(target.id, reason(errno), started: now) }
        // Closed with a reset: a check leaves no TIME_WAIT behind (a thousand a second would).
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        let result = SystemProber.withSocketAddress(target.address, port: target.port) { connect(fd, $0, $1) }
        if result == 0 {
            close(fd)
            immediate.append((target.id, ProbeResult(ok: true, message: "connected", duration: clock.monotonic - now)))
        } else if errno == EINPROGRESS {
            connects.append(Connect(id: target.id, fd: fd, started: now, deadline: now + target.spec.timeout))
        } else {
            let error = errno
            close(fd)
            fail(target.id, reason(error), started: now)
        }
    }

    private func startTransfer(_ target: ProbeTarget, now: Double) {
        if curlLibrary == nil && curlError == nil {
            do {
                let library = try CurlLibrary()
                curlLibrary = library
                curl = library.functions.multi_init()
                if curl == nil { curlError = "libcurl: cannot make a multi handle" }
            } catch {
                curlError = error.text
            }
        }
        guard let curlLibrary, let curl else { return fail(target.id, curlError ?? "", started: now) }
        let transfer: CurlTransfer
        if let cached = transfers[target.id] {
            transfer = cached
        } else {
            guard let made = CurlTransfer(target, library: curlLibrary) else {
                return fail(target.id, "cannot make a curl handle", started: now)
            }
            transfer = made
            transfers[target.id] = made
        }
        transfer.reset(now: now)
        _ = curlLibrary.functions.multi_add_handle(curl, transfer.handle)
        transfer.running = true
    }

    private func startCommand(_ target: ProbeTarget, now: Double) {
        let line: CommandLine
        if let cached = commandLines[target.id] {
            line = cached
        } else {
            line = CommandLine(target)
            commandLines[target.id] = line
        }
        guard let program = line.arguments[0] else { return fail(target.id, "empty command", started: now) }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, program, spawnActions, spawnAttributes, line.arguments, line.environment)
        guard status == 0 else { return fail(target.id, SystemProber.reason(status), started: now) }
        commands.append(Command(id: target.id, pid: pid, started: now, deadline: now + target.spec.timeout, timeout: target.spec.timeout))
    }

    /// The path probe of a `via=vip` check (DR and TUN servers; NAT ones have no such path).
    private func startPath(_ target: ProbeTarget, vip: IPAddress, port: UInt16, now: Double) {
        if pathProbe == nil && pathProbeError == nil {
            do {
                pathProbe = try PathProbe()
            } catch {
                pathProbeError = "the path probe cannot open its sockets: \(error)"
            }
        }
        joined[target.id] = (nil, nil, now)
        guard let pathProbe else {
            joined[target.id]?.path = ProbeResult(ok: false, message: pathProbeError ?? "", duration: 0)
            return
        }
        let method: PathProbe.Method = target.forwarding == .tunnel ? .tunnel : .directRouting
        if let outcome = pathProbe.send(
            token: target.id, vip: vip, port: port, realServer: target.server, method: method,
            deadline: now + target.spec.timeout)
        {
            joined[target.id]?.path = SystemProber.result(outcome, duration: clock.monotonic - now)
        } else {
            pathsInFlight += 1
        }
    }

    private func result(_ outcome: SYNProbe.Outcome, duration: Double) -> ProbeResult {
        switch outcome {
        case .listening: return ProbeResult(ok: true, message: "SYN-ACK", duration: duration)
        case .refused: return ProbeResult(ok: false, message: reason(ECONNREFUSED), duration: duration)
        case .timedOut: return ProbeResult(ok: false, message: "timed out", duration: duration)
        case .failed(let error): return ProbeResult(ok: false, message: reason(error), duration: duration)
        }
    }

    static func result(_ outcome: PathProbe.Outcome, duration: Double) -> ProbeResult {
        switch outcome {
        case .passed: return ProbeResult(ok: true, message: "passed", duration: duration)
        case .refused: return ProbeResult(ok: false, message: "refused by the VIP", duration: duration)
        case .timedOut: return ProbeResult(ok: false, message: "timed out", duration: duration)
        case .failed(let reason): return ProbeResult(ok: false, message: reason, duration: duration)
        }
    }

    public func forget(id: Int) {
        if let entry = joined.removeValue(forKey: id), entry.path == nil { pathsInFlight -= 1 }
        synProbe?.forget(id)
        if let index = connects.firstIndex(where: { $0.id == id }) {
            close(connects[index].fd)
            connects.remove(at: index)
        }
        if let index = commands.firstIndex(where: { $0.id == id }) {
            kill(-commands[index].pid, SIGKILL)
            killed.append(commands[index].pid)
            commands.remove(at: index)
        }
        if let transfer = transfers.removeValue(forKey: id), transfer.running, let curl, let curlLibrary {
            _ = curlLibrary.functions.multi_remove_handle(curl, transfer.handle)
        }
        commandLines[id] = nil
        immediate.removeAll { $0.id == id }
    }

    // MARK: Waiting

    @discardableResult
    public func wait(now before: Double, timeout: Double, results: inout [(id: Int, result: ProbeResult)], signals: inout [Int32]) -> Double {
        // The SYNs of the checks started since the last wait, and the resends due, in one batch.
        if let synProbe, synProbe.hasPending {
            synProbe.flush(into: &synFinished)
            for (id, outcome, started) in synFinished {
                immediate.append((id, result(outcome, duration: before - started)))
            }
            synFinished.removeAll(keepingCapacity: true)
        }
        var limit = immediate.isEmpty ? timeout : 0
        // The path probe resends its SYNs from expire(now:): at least 4 turns a second.
        if pathsInFlight > 0 { limit = min(limit, 0.25) }
        for connect in connects { limit = min(limit, connect.deadline - before) }
        for command in commands { limit = min(limit, command.deadline - before) }
        let synInFlight = synProbe?.inFlight ?? false
        if synInFlight, let synProbe { limit = min(limit, synProbe.nextEventTime - before) }
        // Rounded up: a wait that ends just before a deadline would spin.
        let milliseconds = Int32(min(max(limit, 0) * 1000, 60_000).rounded(.up))

        pollSet.removeAll(keepingCapacity: true)
        pollSet.append(curl_waitfd(fd: signalPipeRead, events: Int16(POLLIN), revents: 0))
        for connect in connects { pollSet.append(curl_waitfd(fd: connect.fd, events: Int16(POLLOUT), revents: 0)) }
        let synIndex = pollSet.count
        if synInFlight, let synProbe { pollSet.append(curl_waitfd(fd: synProbe.descriptor, events: Int16(POLLIN), revents: 0)) }
        let pathIndex = pollSet.count
        if pathsInFlight > 0, let pathProbe {
            for fd in pathProbe.descriptors { pollSet.append(curl_waitfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        }
        if let curl, let curlLibrary {
            pollSet.withUnsafeMutableBufferPointer { set in
                _ = curlLibrary.functions.multi_poll(curl, set.baseAddress, UInt32(set.count), milliseconds, nil)
            }
            var running: Int32 = 0
            _ = curlLibrary.functions.multi_perform(curl, &running)
        } else {
            // curl_waitfd is struct pollfd's layout (int, short, short).
            pollSet.withUnsafeMutableBufferPointer { set in
                _ = set.baseAddress!.withMemoryRebound(to: pollfd.self, capacity: set.count) {
                    poll($0, nfds_t(set.count), milliseconds)
                }
            }
        }
        let now = clock.monotonic

        let first = results.count
        results.append(contentsOf: immediate)
        immediate.removeAll(keepingCapacity: true)
        collectTransfers(now: now, into: &results)
        collectConnects(now: now, into: &results)
        if synInFlight, let synProbe {
            if pollSet[synIndex].revents != 0 { synProbe.receive(into: &synFinished) }
            synProbe.expire(now: now, into: &synFinished)
            for (id, outcome, started) in synFinished { results.append((id, result(outcome, duration: now - started))) }
            synFinished.removeAll(keepingCapacity: true)
        }
        if !commands.isEmpty || !killed.isEmpty { collectCommands(now: now, into: &results) }
        if !joined.isEmpty { join(now: now, pathIndex: pathIndex, results: &results, from: first) }
        if pollSet[0].revents != 0 { readSignals(into: &signals) }
        return now
    }

    /// Holds back the main result of a check with a path probe until the probe's is in, and
    /// hands out the two joined: failed if either failed.
    private func join(now: Double, pathIndex: Int, results: inout [(id: Int, result: ProbeResult)], from first: Int) {
        if pathsInFlight > 0, let pathProbe {
            let readable = pollSet[pathIndex...].contains { $0.revents != 0 }
            var outcomes = readable ? pathProbe.receive() : []
            outcomes += pathProbe.expire(now: now)
            for (token, outcome) in outcomes {
                guard let entry = joined[token], entry.path == nil else { continue }
                joined[token]?.path = SystemProber.result(outcome, duration: now - entry.started)
                pathsInFlight -= 1
            }
        }
        var index = first
        while index < results.count {
            let (id, result) = results[index]
            if joined[id] != nil {
                joined[id]?.main = result
                results.remove(at: index)
            } else {
                index += 1
            }
        }
        for (id, entry) in joined {
            guard let main = entry.main, let path = entry.path else { continue }
            joined[id] = nil
            let duration = max(main.duration, path.duration)
            let result: ProbeResult
            if !main.ok {
                result = main
            } else if !path.ok {
                result = ProbeResult(ok: false, message: "path via the VIP: " + path.message, duration: duration)
            } else {
                result = ProbeResult(ok: true, message: main.message + ", path passed", duration: duration)
            }
            results.append((id, result))
        }
    }

    private func collectTransfers(now: Double, into results: inout [(id: Int, result: ProbeResult)]) {
        guard let curl, let curlLibrary else { return }
        var left: Int32 = 0
        while let message = curlLibrary.functions.multi_info_read(curl, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                let context = ipvs_curl_private(curlLibrary.table, handle)
            else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            let code = message.pointee.data.result
            _ = curlLibrary.functions.multi_remove_handle(curl, handle)
            transfer.running = false
            results.append((transfer.id, transfer.verdict(code, duration: now - transfer.started)))
        }
    }

    private func collectConnects(now: Double, into results: inout [(id: Int, result: ProbeResult)]) {
        guard !connects.isEmpty else { return }
        var kept = 0
        for index in connects.indices {
            let connect = connects[index]
            let events = pollSet[index + 1].revents
            if events != 0 {
                // Writable without an error or a hang-up: connected (no getsockopt; hot path).
                var error: Int32 = 0
                if events & Int16(POLLERR | POLLHUP) != 0 {
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(connect.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    if error == 0 { error = ENOTCONN }
                }
                close(connect.fd)
                let result = error == 0
                    ? ProbeResult(ok: true, message: "connected", duration: now - connect.started)
                    : ProbeResult(ok: false, message: reason(error), duration: now - connect.started)
                results.append((connect.id, result))
            } else if now >= connect.deadline {
                close(connect.fd)
                results.append((connect.id, ProbeResult(ok: false, message: "timed out", duration: now - connect.started)))
            } else {
                connects[kept] = connect
                kept += 1
            }
        }
        connects.removeLast(connects.count - kept)
    }

    private func collectCommands(now: Double, into results: inout [(id: Int, result: ProbeResult)]) {
        var status: Int32 = 0
        killed.removeAll { waitpid($0, &status, WNOHANG) != 0 }
        var kept = 0
        for index in commands.indices {
            let command = commands[index]
            if waitpid(command.pid, &status, WNOHANG) == command.pid {
                let signal = status & 0x7f
                let code = (status >> 8) & 0xff
                let result = signal == 0
                    ? ProbeResult(ok: code == 0, message: "exit \(code)", duration: now - command.started)
                    : ProbeResult(ok: false, message: "killed by signal \(signal)", duration: now - command.started)
                results.append((command.id, result))
            } else if now >= command.deadline {
                kill(-command.pid, SIGKILL)
                killed.append(command.pid)
                results.append((command.id, ProbeResult(ok: false, message: "timed out after \(format(command.timeout)) s, killed", duration: now - command.started)))
            } else {
                commands[kept] = command
                kept += 1
            }
        }
        commands.removeLast(commands.count - kept)
    }

    private func readSignals(into signals: inout [Int32]) {
        var buffer: (UInt64, UInt64) = (0, 0)
        while true {
            let count = withUnsafeMutableBytes(of: &buffer) { read(signalPipeRead, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            withUnsafeBytes(of: &buffer) { bytes in
                for byte in bytes.prefix(count) where Int32(byte) != SIGCHLD { signals.append(Int32(byte)) }
            }
        }
    }

    // MARK: Helpers

    /// "connection refused": the C library's text, lower-cased as a log line continues it.
    static func reason(_ error: Int32) -> String {
        var text = Errno(rawValue: error).text
        if let first = text.first, first.isUppercase, !text.dropFirst().prefix(1).allSatisfy(\.isUppercase) {
            text = first.lowercased() + text.dropFirst()
        }
        return text
    }

    /// The `sockaddr_in`/`sockaddr_in6` of an address and port, built without an allocation.
    static func withSocketAddress<R>(
        _ address: IPAddress, port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R {
        if address.family == .inet {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            socketAddress.sin_addr.s_addr = address.ipv4.bigEndian
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var socketAddress = sockaddr_in6()
        socketAddress.sin6_family = sa_family_t(AF_INET6)
        socketAddress.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &socketAddress.sin6_addr) {
            $0.storeBytes(of: address.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            $0.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }
}

/// A misc check's argv and environment as C strings, made once per server.
private final class CommandLine {
    let arguments: [UnsafeMutablePointer<CChar>?]
    let environment: [UnsafeMutablePointer<CChar>?]

    init(_ target: ProbeTarget) {
        let command = target.spec.command ?? ""
        let words: [String] = target.spec.shell
            ? ["/bin/sh", "-c", command]
            : command.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        arguments = words.map { strdup($0) } + [nil]
        var variables: [UnsafeMutablePointer<CChar>?] = []
        var index = 0
        // The daemon's environment but its own IPVS_* and systemd's notification settings (a
        // command is not the service's main process).
        let dropped = ["IPVS_", "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="]
        while let entry = environ[index] {
            if !dropped.contains(where: { strncmp(entry, $0, strlen($0)) == 0 }) { variables.append(strdup(entry)) }
            index += 1
        }
        environment = variables + target.environment.map { strdup($0) } + [nil]
    }

    deinit {
        for pointer in arguments { free(pointer) }
        for pointer in environment { free(pointer) }
    }
}

private let discardBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    _, size, count, _ in size * count
}

private let keepBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    let total = size * count
    guard let data, let context else { return total }
    Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
        .receive(UnsafeRawBufferPointer(start: data, count: total))
    return total
}

/// One server's HTTP(S) check: a curl handle configured once and reused for every check.
final class CurlTransfer {
    let id: Int
    let handle: UnsafeMutableRawPointer
    private let library: CurlLibrary
    private let statuses: [ClosedRange<Int>]
    private let body: [UInt8]?
    private var received: [UInt8] = []
    private var resolve: UnsafeMutablePointer<curl_slist>?
    var started = 0.0
    var running = false
    /// A body is searched within its first MiB.
    private static let bodyLimit = 1 << 20

    init?(_ target: ProbeTarget, library: CurlLibrary) {
        guard let handle = library.functions.easy_init() else { return nil }
        self.id = target.id
        self.handle = handle
        self.library = library
        let spec = target.spec
        statuses = spec.statuses
        body = spec.body.map { Array($0.utf8) }
        let literal = target.address.family == .inet ? target.address.text : "[" + target.address.text + "]"
        let name = spec.host ?? literal
        let path = spec.path.hasPrefix("/") ? spec.path : "/" + spec.path
        let url = (spec.kind == .https ? "https://" : "http://") + name + ":\(target.port)" + path
        // host=NAME: the Host header and SNI say NAME; the connection goes to the address
        // without asking DNS.
        if spec.host != nil { resolve = library.functions.slist_append(nil, name + ":\(target.port):" + literal) }
        let context = Unmanaged.passUnretained(self).toOpaque()
        let milliseconds = max(1, Int(spec.timeout * 1000))
        let table = library.table
        _ = ipvs_curl_set_string(table, handle, CURLOPT_URL, url)
        if let resolve { _ = ipvs_curl_set_pointer(table, handle, CURLOPT_RESOLVE, resolve) }
        _ = ipvs_curl_set_long(table, handle, CURLOPT_TIMEOUT_MS, milliseconds)
        _ = ipvs_curl_set_long(table, handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds)
        _ = ipvs_curl_set_long(table, handle, CURLOPT_NOSIGNAL, 1)
        // Each check opens its own connection, as a client would.
        _ = ipvs_curl_set_long(table, handle, CURLOPT_FORBID_REUSE, 1)
        _ = ipvs_curl_set_long(table, handle, CURLOPT_FRESH_CONNECT, 1)
        _ = ipvs_curl_set_long(table, handle, CURLOPT_SSL_VERIFYPEER, spec.verifyTLS ? 1 : 0)
        _ = ipvs_curl_set_long(table, handle, CURLOPT_SSL_VERIFYHOST, spec.verifyTLS ? 2 : 0)
        _ = ipvs_curl_set_string(table, handle, CURLOPT_USERAGENT, "ipvsadm-health")
        _ = ipvs_curl_set_pointer(table, handle, CURLOPT_PRIVATE, context)
        _ = ipvs_curl_set_pointer(table, handle, CURLOPT_WRITEDATA, context)
        _ = ipvs_curl_set_write_function(table, handle, body == nil ? discardBody : keepBody)
    }

    deinit {
        library.functions.easy_cleanup(handle)
        if let resolve { library.functions.slist_free_all(resolve) }
    }

    func reset(now: Double) {
        started = now
        received.removeAll(keepingCapacity: true)
    }

    func receive(_ bytes: UnsafeRawBufferPointer) {
        let room = CurlTransfer.bodyLimit - received.count
        if room > 0 { received.append(contentsOf: bytes.prefix(room)) }
    }

    func verdict(_ code: CURLcode, duration: Double) -> ProbeResult {
        guard code == CURLE_OK else {
            let message: String
            if code == CURLE_OPERATION_TIMEDOUT {
                message = "timed out"
            } else if code == CURLE_COULDNT_CONNECT, case let error = ipvs_curl_os_errno(library.table, handle), error != 0 {
                message = SystemProber.reason(Int32(error))
            } else {
                message = String(cString: library.functions.easy_strerror(code)!)
            }
            return ProbeResult(ok: false, message: message, duration: duration)
        }
        let status = ipvs_curl_response_code(library.table, handle)
        guard statuses.contains(where: { $0.contains(status) }) else {
            return ProbeResult(ok: false, message: "status \(status)", duration: duration)
        }
        if let body, !CurlTransfer.contains(received, body) {
            return ProbeResult(ok: false, message: "status \(status), body without the expected text", duration: duration)
        }
        return ProbeResult(ok: true, message: "status \(status)", duration: duration)
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// libcurl's functions (Sources/CLibCurl/curl.h), from libcurl.so.4 opened with dlopen and
/// initialized (and OpenSSL with it) once; never closed (curl cannot be unloaded safely).
final class CurlLibrary {
    /// The C table, for the typed wrappers of curl's variadic calls.
    let table: UnsafeMutablePointer<ipvs_curl_api>
    let functions: Functions

    /// The table's non-variadic entries, unwrapped once (ipvs_curl_load fills them all or fails).
    struct Functions {
        let multi_init: @convention(c) () -> UnsafeMutableRawPointer?
        let multi_add_handle: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> CURLMcode
        let multi_remove_handle: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> CURLMcode
        let multi_poll: @convention(c) (
            UnsafeMutableRawPointer?, UnsafeMutablePointer<curl_waitfd>?, UInt32, Int32, UnsafeMutablePointer<Int32>?
        ) -> CURLMcode
        let multi_perform: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> CURLMcode
        let multi_info_read: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> UnsafeMutablePointer<CURLMsg>?
        let easy_init: @convention(c) () -> UnsafeMutableRawPointer?
        let easy_cleanup: @convention(c) (UnsafeMutableRawPointer?) -> Void
        let easy_strerror: @convention(c) (CURLcode) -> UnsafePointer<CChar>?
        let slist_append: @convention(c) (UnsafeMutablePointer<curl_slist>?, UnsafePointer<CChar>?) -> UnsafeMutablePointer<curl_slist>?
        let slist_free_all: @convention(c) (UnsafeMutablePointer<curl_slist>?) -> Void
    }

    /// Throws "libcurl: <dlerror's text>" when the library or one of its functions is missing.
    init() throws(CurlLibraryError) {
        let table = UnsafeMutablePointer<ipvs_curl_api>.allocate(capacity: 1)
        table.initialize(to: ipvs_curl_api())
        var error = [UInt8](repeating: 0, count: 256)
        let status = error.withUnsafeMutableBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { ipvs_curl_load(table, $0.baseAddress, $0.count) }
        }
        self.table = table
        guard status == 0 else {
            table.deallocate()
            throw CurlLibraryError(text: "libcurl: " + String(decoding: error.prefix { $0 != 0 }, as: UTF8.self))
        }
        let api = table.pointee
        functions = Functions(
            multi_init: api.multi_init!, multi_add_handle: api.multi_add_handle!,
            multi_remove_handle: api.multi_remove_handle!, multi_poll: api.multi_poll!,
            multi_perform: api.multi_perform!, multi_info_read: api.multi_info_read!, easy_init: api.easy_init!,
            easy_cleanup: api.easy_cleanup!, easy_strerror: api.easy_strerror!, slist_append: api.slist_append!,
            slist_free_all: api.slist_free_all!)
        _ = api.global_init!(Int(CURL_GLOBAL_DEFAULT))
    }
}

struct CurlLibraryError: Error {
    let text: String
}
