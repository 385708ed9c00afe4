import Glibc
import IPVS
import IPVSAdm
import IPVSNetlink

let stdout = FileDescriptorSink(descriptor: 1, buffered: true)
let stderr = FileDescriptorSink(descriptor: 2, buffered: false)
let status = IPVSAdm.run(
    program: CommandLine.arguments.first ?? "ipvsadm", arguments: Array(CommandLine.arguments.dropFirst()),
    stdin: StandardInput(), stdout: stdout, stderr: stderr, resolver: SystemResolver(),
    openBackend: { () throws(IPVSError) in try NetlinkBackend.open() })
stdout.flush()
exit(status)
