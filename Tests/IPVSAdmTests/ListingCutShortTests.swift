import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// A listing the kernel cuts short (a service deleted while it is listed) ends with the
/// kernel's message and status 1 in every format; what each format shows of it before
/// (`ListingRenderer.abandon`) is its own.
@Suite struct ListingCutShortTests {
    /// The in-memory kernel, refusing the real servers of every service after the first.
    final class FailingBackend: IPVSBackend {
        let inner = ApplyTests.loaded(JSONListingTests.rules)
        var dumps = 0
        func info() throws(IPVSError) -> IPVSInfo { try inner.info() }
        func apply(_ modification: Modification) throws(IPVSError) { try inner.apply(modification) }
        func services() throws(IPVSError) -> [VirtualService] { try inner.services() }
        func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService { try inner.service(key) }
        func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
            dumps += 1
            guard dumps == 1 else { throw IPVSError(.getDestinations, errno: .noSuchProcess) }
            return try inner.destinations(of: service)
        }
        func timeouts() throws(IPVSError) -> Timeouts { try inner.timeouts() }
        func daemons() throws(IPVSError) -> [SyncDaemon] { try inner.daemons() }
        func connectionTable() throws(Errno) -> String { try inner.connectionTable() }
    }

    static func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let outcome = CLI.run(arguments, on: FailingBackend())
        return (outcome.status, outcome.stdout, outcome.stderr)
    }

    @Test func textShowsWhatCameBefore() {
        let result = Self.run(["-Ln"])
        #expect(result.status == 1 && result.err == "No such service\n")
        #expect(result.out == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.1.0.1:80 sh (sh-port) persistent 300 mask 255.255.255.0
              -> 10.2.0.1:8080                Masq    3      0          0         

            """)
    }

    @Test func rulesShowWhatCameBefore() {
        let result = Self.run(["-Sn"])
        #expect(result.status == 1 && result.err == "No such service\n")
        #expect(result.out.hasPrefix("-A -t 10.1.0.1:80 -s sh -p 300 -M 255.255.255.0 -b sh-port,flag-3\n"))
        #expect(!result.out.contains("-f 7"))
    }

    @Test(arguments: [["-Ln", "--json"], ["-L", "--metrics"], ["-L", "--metrics=services"]])
    func programsGetNoPartDocument(_ arguments: [String]) {
        let result = Self.run(arguments)
        #expect(result.status == 1 && result.err == "No such service\n" && result.out.isEmpty)
    }
}
