import Glibc
import IPVS
import IPVSAdm
import IPVSNetlink
import ProcessStreams
import WatchScreen

let status = IPVSAdm.run(
    program: CommandLine.arguments.first ?? "ipvsadm", arguments: Array(CommandLine.arguments.dropFirst()),
    stdin: StandardStreams.input(), stdout: StandardStreams.output(), stderr: StandardStreams.error(),
    resolver: SystemResolver(), clock: SystemClock(), host: SystemHost(), terminal: { CursesTerminal.open() },
    enterNamespace: { namespace throws(IPVSError) in try NetlinkBackend.enterNetworkNamespace(namespace) },
    openBackend: { namespace throws(IPVSError) in try NetlinkBackend.open(namespace: namespace) })
exit(status)
