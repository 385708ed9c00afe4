import Glibc
import IPVS
import IPVSAdm
import IPVSNetlink

let status = IPVSAdm.run(
    program: CommandLine.arguments.first ?? "ipvsadm", arguments: Array(CommandLine.arguments.dropFirst()),
    stdin: StandardInput(), stdout: FileDescriptorSink(descriptor: 1, buffered: true),
    stderr: FileDescriptorSink(descriptor: 2, buffered: false), resolver: SystemResolver(),
    openBackend: { namespace throws(IPVSError) in try NetlinkBackend.open(namespace: namespace) })
exit(status)
