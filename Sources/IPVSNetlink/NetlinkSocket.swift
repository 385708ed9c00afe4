import CIPVSNetlink
import Glibc
import IPVS

/// The process's generic-netlink socket for the IPVS family, opened by the C shim (libnl
/// resolves the family), then read and written here with plain system calls. The only Swift
/// code that touches the shim.
final class NetlinkSocket: NetlinkTransport {
    private let handle: OpaquePointer
    private let descriptor: Int32
    /// The IPVS family's id.
    let family: UInt16
    /// Our netlink port id.
    let port: UInt32

    /// No reply within this long is a failure, not a hang.
    static let receiveTimeoutSeconds: Int32 = 60

    /// Opens the socket and resolves the "IPVS" family (`protocolNotAvailable` when it is not
    /// registered, as libipvs reports it).
    init(readSize: Int) throws(Errno) {
        var handle: OpaquePointer?
        let rc = ipvs_nl_open(
            readSize, NetlinkClient.receiveBufferBytes, NetlinkClient.batchBytes + 64 * 1024,
            NetlinkSocket.receiveTimeoutSeconds, &handle)
        guard rc == 0, let handle else { throw Errno(rawValue: rc > 0 ? rc : Errno.invalidArgument.rawValue) }
        self.handle = handle
        descriptor = ipvs_nl_descriptor(handle)
        family = ipvs_nl_family(handle)
        port = ipvs_nl_port(handle)
    }

    deinit { ipvs_nl_close(handle) }

    func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        let descriptor = self.descriptor
        let sent = try Errno.retryingInterrupts { Glibc.send(descriptor, bytes.baseAddress, bytes.count, 0) }
        // A netlink datagram is taken whole or refused.
        guard sent == bytes.count else { throw .messageTooLong }
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let descriptor = self.descriptor
        // MSG_TRUNC: the datagram's whole length even when the buffer is smaller.
        return try Errno.retryingInterrupts { recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC)) }
    }

    /// Moves the calling thread into the network namespace that `descriptor` (an open
    /// `/proc/PID/ns/net` or `/run/netns/NAME`) names; sockets opened afterwards work there.
    static func enterNetworkNamespace(_ descriptor: Int32) throws(Errno) {
        let rc = ipvs_nl_enter_network_namespace(descriptor)
        if rc != 0 { throw Errno(rawValue: rc) }
    }
}
