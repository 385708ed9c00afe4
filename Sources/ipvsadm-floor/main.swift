// The floor of `ipvsadm -Ln`, for Scripts/bench: the same kernel requests, issued back to back
// by this process through our netlink layer (one socket, the family resolved once, GET_INFO,
// the services dump, one destinations dump per service), with no decoding of the real
// servers and no output but one line: "<services> services, <messages> messages".
import Glibc
import IPVS
@_spi(Benchmark) import IPVSNetlink

do throws(IPVSError) {
    let backend = try NetlinkBackend.open()
    let (services, messages) = try backend.issueListingRequests()
    print("\(services) services, \(messages) messages")
} catch {
    print("ipvsadm-floor: \(error.message)")
    exit(1)
}
