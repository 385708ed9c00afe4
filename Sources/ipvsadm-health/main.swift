import IPVSHealth
// ipvsadm-health (health-daemon replaces this file).
import Glibc; import IPVSAdm; import ProcessStreams
// A one-shot path probe (Docs/Health.md, "The path check"): `--probe-path VIP:PORT RS dr|tun [TIMEOUT]`.
if CommandLine.arguments.dropFirst().first == "--probe-path" { exit(PathProbe.runOnce(arguments: Array(CommandLine.arguments.dropFirst(2)))) }
if CommandLine.arguments.dropFirst().first == "--convert-keepalived" { exit(KeepalivedConverter.runCommandLine(
    arguments: Array(CommandLine.arguments.dropFirst()), stdin: StandardStreams.input(), stdout: StandardStreams.output(), stderr: StandardStreams.error())) }
