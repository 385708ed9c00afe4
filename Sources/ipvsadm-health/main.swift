import IPVSHealth
// ipvsadm-health (health-daemon replaces this file).
import Glibc; import IPVSAdm; import ProcessStreams  // --convert-keepalived (health-convert): before anything else
if CommandLine.arguments.dropFirst().first == "--convert-keepalived" { exit(KeepalivedConverter.runCommandLine(
    arguments: Array(CommandLine.arguments.dropFirst()), stdin: StandardStreams.input(), stdout: StandardStreams.output(), stderr: StandardStreams.error())) }
