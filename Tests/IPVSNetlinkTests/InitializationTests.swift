import Glibc
import IPVS
import IPVSNetlink
import Testing

/// `IPVS_EXPECT_INIT_ERRNO=<n>` asserts that start-up fails with errno n, as ipvsadm's
/// `Can't initialize ipvs` does: 92 (ENOPROTOOPT) as root without the module, 1 (EPERM) as an
/// unprivileged user. Runs /sbin/modprobe, so it is opt-in.
private let expectedInitErrno: Errno? = getenv("IPVS_EXPECT_INIT_ERRNO").flatMap { Int32(String(cString: $0)) }
    .map { Errno(rawValue: $0) }

@Suite(.enabled(if: expectedInitErrno != nil, "set IPVS_EXPECT_INIT_ERRNO to run"))
struct InitializationTests {
    @Test func startUpFailureCarriesTheErrno() {
        do {
            _ = try NetlinkBackend.open()
            Issue.record("NetlinkBackend.open() succeeded")
        } catch {
            #expect(error.operation == .initialize)
            #expect(error.errno == expectedInitErrno)
        }
    }
}
