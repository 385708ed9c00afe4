import Glibc
import IPVS

/// Host and service name lookups, as ipvsadm makes them.
///
/// Injected so that tests can pin names; `SystemResolver` asks the C library
/// (`/etc/hosts`, DNS, `/etc/services`) exactly like ipvsadm does.
public protocol NameResolver: AnyObject {
    /// `gethostbyname`: the first IPv4 address of a host name, nil if none.
    func ipv4Address(ofHost name: String) -> IPAddress?
    /// `gethostbyaddr`: the official name of an address, nil if none.
    func hostName(of address: IPAddress) -> String?
    /// `getservbyname`: the port (host order) of a named service for a protocol.
    func port(ofService name: String, protocol: IPProtocolNumber) -> UInt16?
    /// `getservbyport`: the name of a port (host order) for a protocol.
    func serviceName(ofPort port: UInt16, protocol: IPProtocolNumber) -> String?
}

/// The C library's resolver. Caches answers: a listing asks about the same addresses
/// and ports again and again.
public final class SystemResolver: NameResolver {
    private var hostCache: [IPAddress: String?] = [:]
    private var serviceCache: [UInt32: String?] = [:]

    public init() {}

    public func ipv4Address(ofHost name: String) -> IPAddress? {
        guard let entry = gethostbyname(name) else { return nil }
        guard entry.pointee.h_addrtype == AF_INET, entry.pointee.h_length == 4,
              let list = entry.pointee.h_addr_list, let first = list[0]
        else { return nil }
        let raw = UnsafeRawPointer(first).assumingMemoryBound(to: UInt8.self)
        return IPAddress(family: .inet, bytes: UnsafeBufferPointer(start: raw, count: 4))
    }

    public func hostName(of address: IPAddress) -> String? {
        if let cached = hostCache[address] { return cached }
        var bytes = address.bytes
        let length: socklen_t = address.family == .inet ? 4 : 16
        let af: Int32 = address.family == .inet ? AF_INET : AF_INET6
        let entry = bytes.withUnsafeMutableBytes { gethostbyaddr($0.baseAddress, length, af) }
        let name = entry.flatMap { $0.pointee.h_name.map { String(cString: $0) } }
        hostCache[address] = name
        return name
    }

    // The services database is read with the reentrant `getserv*_r` calls: the answer of
    // `getservbyname` lives in a static buffer that another thread's call (the parallel
    // golden-replay tests) can overwrite before it is read.

    public func port(ofService name: String, protocol proto: IPProtocolNumber) -> UInt16? {
        guard let protoName = proto.name else { return nil }
        return SystemResolver.withServiceEntry({ entry, buffer, size, result in
            getservbyname_r(name, protoName, entry, buffer, size, result)
        }) { UInt16(bigEndian: UInt16(truncatingIfNeeded: $0.s_port)) }
    }

    public func serviceName(ofPort port: UInt16, protocol proto: IPProtocolNumber) -> String? {
        let key = UInt32(proto.rawValue) << 16 | UInt32(port)
        if let cached = serviceCache[key] { return cached }
        var name: String?
        if let protoName = proto.name {
            name = SystemResolver.withServiceEntry({ entry, buffer, size, result in
                getservbyport_r(Int32(UInt16(port).bigEndian), protoName, entry, buffer, size, result)
            }) { String(cString: $0.s_name) }
        }
        serviceCache[key] = name
        return name
    }

    /// Runs a `getserv*_r` lookup with a buffer that grows while it reports ERANGE, and reads
    /// the entry found; nil when there is none.
    private static func withServiceEntry<T>(
        _ lookup: (
            UnsafeMutablePointer<servent>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<servent>?>
        ) -> Int32,
        _ read: (servent) -> T
    ) -> T? {
        var size = 1024
        while size <= 1 << 20 {
            var entry = servent()
            var result: UnsafeMutablePointer<servent>?
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let rc = lookup(&entry, buffer, size, &result)
            if rc == ERANGE {
                size *= 4
                continue
            }
            guard rc == 0, let found = result else { return nil }
            return read(found.pointee)
        }
        return nil
    }
}
