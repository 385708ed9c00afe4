/// A popt-compatible reader of ipvsadm's argument vector.
///
/// It yields options one at a time, exactly as `poptGetNextOpt` does for ipvsadm's table:
/// short options may be bundled (`-Ln`) and take an attached argument (`-t10.0.0.1:80`) or
/// the next word (even one starting with `-`); long options take `--name value` or
/// `--name=value` and are never abbreviated; words that are not options are kept as
/// leftovers, wherever they stand; `--` ends option processing.
struct Tokenizer {
    /// A popt error, with the text `poptStrerror` gives for it.
    enum Failure: Error, Equatable {
        case unknownOption
        case missingArgument
        case unwantedArgument

        var text: String {
            switch self {
            case .unknownOption: return "unknown option"
            case .missingArgument: return "missing argument"
            case .unwantedArgument: return "option does not take an argument"
            }
        }
    }

    struct Option {
        let spec: OptionSpec
        let argument: String?
    }

    private let words: [String]
    private var next = 0
    /// The rest of a bundle of short options still to be read (`n` after `-L` in `-Ln`).
    private var bundle: Substring = ""
    private var onlyLeftovers = false
    private(set) var leftovers: [String] = []

    init(_ words: [String]) {
        self.words = words
    }

    /// The word popt would blame for an error: the last one consumed
    /// (`poptBadOption(ctx, POPT_BADOPTION_NOALIAS)`).
    var lastWord: String {
        next > 0 ? words[next - 1] : ""
    }

    /// The first option with this letter (a scan: a process parses a few options once, so
    /// building lookup tables would cost more than it saves).
    private static func byShort(_ letter: Character) -> OptionSpec? {
        optionTable.first { $0.short == letter }
    }

    /// The first option with this long name.
    private static func byLong(_ name: Substring) -> OptionSpec? {
        optionTable.first { $0.long.map { name == $0[...] } ?? false }
    }

    /// The next option, nil at the end of the words, or a popt failure.
    mutating func nextOption() throws(Failure) -> Option? {
        if !bundle.isEmpty { return try nextShort() }
        while next < words.count {
            let word = words[next]
            next += 1
            if onlyLeftovers || !word.hasPrefix("-") || word == "-" {
                leftovers.append(word)
                continue
            }
            if word == "--" {
                onlyLeftovers = true
                continue
            }
            if word.hasPrefix("--") {
                return try longOption(word.dropFirst(2))
            }
            bundle = word.dropFirst()
            return try nextShort()
        }
        return nil
    }

    private mutating func longOption(_ body: Substring) throws(Failure) -> Option {
        var name = body
        var attached: Substring?
        if let equals = body.firstIndex(of: "=") {
            name = body[..<equals]
            attached = body[body.index(after: equals)...]
        }
        guard let spec = Tokenizer.byLong(name) else { throw .unknownOption }
        switch spec.argument {
        case .none:
            if attached != nil { throw .unwantedArgument }
            return Option(spec: spec, argument: nil)
        case .required:
            if let attached { return Option(spec: spec, argument: String(attached)) }
            guard next < words.count else { throw .missingArgument }
            next += 1
            return Option(spec: spec, argument: words[next - 1])
        case .optional:
            if let attached { return Option(spec: spec, argument: String(attached)) }
            return Option(spec: spec, argument: takeOptionalWord())
        }
    }

    private mutating func nextShort() throws(Failure) -> Option {
        let letter = bundle.removeFirst()
        guard let spec = Tokenizer.byShort(letter) else {
            bundle = ""
            throw .unknownOption
        }
        switch spec.argument {
        case .none:
            return Option(spec: spec, argument: nil)
        case .required:
            if !bundle.isEmpty {
                defer { bundle = "" }
                return Option(spec: spec, argument: String(bundle))
            }
            guard next < words.count else { throw .missingArgument }
            next += 1
            return Option(spec: spec, argument: words[next - 1])
        case .optional:
            if !bundle.isEmpty {
                defer { bundle = "" }
                return Option(spec: spec, argument: String(bundle))
            }
            return Option(spec: spec, argument: takeOptionalWord())
        }
    }

    private mutating func takeOptionalWord() -> String? {
        guard next < words.count, !words[next].hasPrefix("-") else { return nil }
        next += 1
        return words[next - 1]
    }
}
