import IPVS

/// The small files the doctor reads through the `Host`, each read once: sysctls, the loaded
/// and built-in modules, the kernel's release.
final class HostReader {
    let host: any Host
    private var loadedModules: Set<Substring>?
    private var moduleLists: [String: String] = [:]

    init(host: any Host) { self.host = host }

    func text(_ path: String) -> String? {
        guard let bytes = try? host.readFile(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A sysctl's integer value (`net.ipv4.ip_forward`), nil when it does not exist.
    func sysctl(_ key: String) -> Int? {
        guard let text = text(DoctorNames.path(key)) else { return nil }
        return Int(text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first ?? "")
    }

    /// `uname -r`.
    var release: String? { text("/proc/sys/kernel/osrelease")?.split(separator: "\n").first.map(String.init) }

    /// The kernel's major and minor version.
    var version: (Int, Int)? {
        guard let release else { return nil }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    /// Whether a module is loaded (/proc/modules) or built into the kernel (modules.builtin).
    func moduleLoaded(_ name: String) -> Bool {
        if loadedModules == nil {
            loadedModules = Set((text("/proc/modules") ?? "").split(separator: "\n").compactMap { $0.split(separator: " ").first })
        }
        if loadedModules?.contains(Substring(name)) == true { return true }
        return moduleListed(name, in: "modules.builtin")
    }

    /// Whether the kernel can load a module: loaded, built in, or installed (modules.dep).
    func moduleAvailable(_ name: String) -> Bool {
        moduleLoaded(name) || moduleListed(name, in: "modules.dep")
    }

    private func moduleListed(_ name: String, in list: String) -> Bool {
        guard let release else { return false }
        if moduleLists[list] == nil { moduleLists[list] = text("/lib/modules/\(release)/\(list)") ?? "" }
        let file = moduleLists[list] ?? ""
        // Module files spell '-' or '_' alike.
        return file.contains("/\(name).ko") || file.contains("/\(name.replacing("_", with: "-")).ko")
    }
}
