import Glibc
import IPVS
import IPVSAdm
import IPVSHealth
import IPVSNetlink
import ProcessStreams

// ipvsadm-health: the process's streams, the real kernel, the real clock and checks, exit.

// The process's streams as ipvsadm's main has them (ProcessStreams): a message is written at
// once (one per transition at most, so a sink per message costs nothing that matters).
func say(_ fd: Int32, _ text: String) {
    let sink = fd == 1 ? StandardStreams.output() : StandardStreams.error()
    sink.write(text)
    _ = sink.flush()
}

func log(_ line: String) { say(2, "ipvsadm-health: " + line + "\n") }

// A one-shot path probe (Docs/Health.md, "The path check"): `--probe-path VIP:PORT RS dr|tun [TIMEOUT]`.
if CommandLine.arguments.dropFirst().first == "--probe-path" {
    exit(PathProbe.runOnce(arguments: Array(CommandLine.arguments.dropFirst(2))))
}

let commandLine: HealthCommandLine
switch HealthCommandLine.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(let parsed):
    commandLine = parsed
case .failure(let error):
    log(error.message)
    say(2, HealthCommandLine.usage)
    exit(2)
}

switch commandLine.mode {
case .help:
    say(1, HealthCommandLine.usage)
    exit(0)
case .convertKeepalived(let path):
    exit(KeepalivedConverter.runCommandLine(
        arguments: [path], stdin: StandardStreams.input(), stdout: StandardStreams.output(),
        stderr: StandardStreams.error()))
case .checkConfig:
    do {
        let declarations = try HealthDaemon.declarations(path: commandLine.rules, read: HealthDaemon.readRulesFile)
        let servers = declarations.services.flatMap(\.servers)
        say(1, "\(commandLine.rules): \(declarations.services.count) services, \(servers.count) real servers, \(servers.filter { $0.check != nil }.count) checked\n")
        exit(0)
    } catch {
        log(error.message)
        exit(1)
    }
case .run:
    break
}

// The declarations first: a bad file changes nothing, not even the kernel's module list.
do {
    _ = try HealthDaemon.declarations(path: commandLine.rules, read: HealthDaemon.readRulesFile)
} catch {
    log(error.message)
    exit(1)
}
let backend: NetlinkBackend
do {
    backend = try NetlinkBackend.open(namespace: commandLine.namespace)
} catch {
    log("cannot open the kernel's IPVS: \(error.message)")
    exit(1)
}
HealthDaemon.keepHeap()
let clock = SystemHealthClock()
let daemon = HealthDaemon(
    rulesPath: commandLine.rules, backend: backend, prober: SystemProber(clock: clock), clock: clock,
    host: SystemHost(), manager: SystemdManager(), log: log)
do {
    try daemon.start()
} catch {
    log(error.message)
    exit(1)
}
exit(daemon.run())
