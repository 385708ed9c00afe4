import Glibc
import IPVS
import Testing
@testable import IPVSHealth

/// systemd's notification protocol as SystemdManager speaks it (no libsystemd): a datagram to
/// NOTIFY_SOCKET, the watchdog from WATCHDOG_USEC and WATCHDOG_PID.
@Suite(.serialized) struct SystemdManagerTests {
    /// A manager that sees `variables` as its environment.
    func manager(_ variables: [String: String]) -> SystemdManager {
        SystemdManager(variable: { variables[$0] })
    }

    /// A datagram socket bound to `name` (a path, or `@abstract`).
    func receiver(_ name: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        return fd
    }

    func received(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count < 0 ? nil : String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    @Test func notifiesAPathAndAnAbstractSocket() {
        let path = "/tmp/ipvsadm-health-notify-\(getpid())"
        unlink(path)
        let onPath = receiver(path)
        defer { close(onPath); unlink(path) }
        manager(["NOTIFY_SOCKET": path]).notify("READY=1")
        #expect(received(onPath) == "READY=1")
        let abstract = "@ipvsadm-health-notify-\(getpid())"
        let onAbstract = receiver(abstract)
        defer { close(onAbstract) }
        let notifier = manager(["NOTIFY_SOCKET": abstract])
        notifier.notify("WATCHDOG=1")
        notifier.notify("STOPPING=1")
        #expect(received(onAbstract) == "WATCHDOG=1")
        #expect(received(onAbstract) == "STOPPING=1")
        // Unset: nothing is sent, nothing fails.
        manager([:]).notify("READY=1")
    }

    @Test func watchdogPeriod() {
        #expect(manager(["WATCHDOG_USEC": "2500000"]).watchdogPeriod == 2.5)
        #expect(manager(["WATCHDOG_USEC": "2500000", "WATCHDOG_PID": "\(getpid())"]).watchdogPeriod == 2.5)
        // Meant for another process (a parent that did not clear it).
        #expect(manager(["WATCHDOG_USEC": "2500000", "WATCHDOG_PID": "1"]).watchdogPeriod == nil)
        #expect(manager(["WATCHDOG_USEC": "0"]).watchdogPeriod == nil)
        #expect(manager([:]).watchdogPeriod == nil)
    }
}
