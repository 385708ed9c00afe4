/// `ipvsadm-health`'s arguments.
public struct HealthCommandLine: Equatable, Sendable {
    public enum Mode: Equatable, Sendable {
        case run
        case checkConfig
        case convertKeepalived(String)
        case help
    }

    public var mode: Mode = .run
    public var rules = "/etc/ipvsadm.rules"
    public var namespace: String?

    public static let usage = """
        Usage:
          ipvsadm-health [--rules FILE] [--netns NAME]
          ipvsadm-health --check-config [--rules FILE]
          ipvsadm-health --convert-keepalived FILE
          ipvsadm-health --probe-path VIP:PORT REAL-SERVER dr|tun [TIMEOUT]
        Checks the real servers declared with --check in FILE (default /etc/ipvsadm.rules) and
        sets their weights: 0 after `fall` failures, the declared weight after `rise` successes.
        Logs one line per transition to standard error. See ipvsadm-health(8).

        """

    /// Reads argv (without the program's name); the message of a usage error.
    public static func parse(_ arguments: [String]) -> Result<HealthCommandLine, UsageError> {
        var line = HealthCommandLine()
        var index = 0
        func value(_ option: String) -> Result<String, UsageError> {
            index += 1
            guard index < arguments.count else { return .failure(UsageError("option \(option) requires an argument")) }
            return .success(arguments[index])
        }
        while index < arguments.count {
            let argument = arguments[index]
            var name = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            func take() -> Result<String, UsageError> { inline.map { .success($0) } ?? value(name) }
            switch name {
            case "--rules", "-f":
                switch take() {
                case .success(let path): line.rules = path
                case .failure(let error): return .failure(error)
                }
            case "--netns":
                switch take() {
                case .success(let namespace): line.namespace = namespace
                case .failure(let error): return .failure(error)
                }
            case "--check-config":
                line.mode = .checkConfig
            case "--convert-keepalived":
                switch take() {
                case .success(let path): line.mode = .convertKeepalived(path)
                case .failure(let error): return .failure(error)
                }
            case "--help", "-h":
                line.mode = .help
            default:
                return .failure(UsageError("unknown argument '\(argument)'"))
            }
            index += 1
        }
        return .success(line)
    }

    public struct UsageError: Error, Equatable, Sendable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }
}
