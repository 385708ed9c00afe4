import IPVS

extension NetlinkBackend {
    /// A backend over a stand-in for the kernel's socket (the profile harness's
    /// `AcknowledgingTransport`, a test's scripted kernel), started as `open` starts: GET_INFO.
    @_spi(Benchmark)
    public convenience init(transport: some NetlinkTransport, family: UInt16, port: UInt32) throws(IPVSError) {
        try self.init(client: NetlinkClient(transport: transport, family: family, port: port))
    }
}
