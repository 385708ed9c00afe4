// `ipvsadm -R` without a kernel, for profiling (not installed): the rules on stdin go through
// ours exactly as in the product (the line reader, the parser, the modifications, the
// encoder, the pipelined sends and the matching of acknowledgements), to IPVSTestSupport's
// fake kernel in the world that takes every change (`FakeKernel.World.acknowledging`). Run it under
// `valgrind --tool=callgrind` to count the instructions per line natively, where this host
// has no IPVS. Prints, on stderr, the exit status, the number of requests and a checksum of
// their bytes (sequence numbers left out), which a change to the encoder must leave as it was.
// Arguments, if any, replace `-R` (to count what one command costs, `-a ...` for instance).
import Glibc
import IPVS
import IPVSAdm
@_spi(Testing) import IPVSTestSupport
import ProcessStreams

// GET_INFO is answered, so this cannot fail.
let (backend, sent) = try! FakeKernel.backend(.acknowledging)
let stderr = StandardStreams.error()
let status = IPVSAdm.run(
    program: "ipvsadm", arguments: CommandLine.arguments.count > 1 ? Array(CommandLine.arguments.dropFirst()) : ["-R"],
    stdin: StandardStreams.input(), stdout: StandardStreams.output(), stderr: stderr, resolver: SystemResolver(), openBackend: { _ in backend })
let (requests, checksum) = sent()
stderr.write("status \(status), \(requests) requests, checksum \(String(checksum, radix: 16))\n")
exit(status)
