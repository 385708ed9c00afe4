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
    /// The bundle of short options still to be read (`n` after `-L` in `-Ln`): the index of
    /// its word and the offset of its next letter in the word's UTF-8 bytes (0: no bundle).
    private var bundleWord = 0
    private var bundleOffset = 0
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

    // Words are read as popt reads them, as bytes (a letter is one byte, `-`, `--` and `=`
    // are found by byte), which also spares the grapheme breaking of `Character`s: reading the
    // options of a `-R` line by `Character` and a scan of the table was 7,500 instructions.

    /// For each ASCII letter, 1 + the index in `optionTable` of the first option with it (0:
    /// none); built at the first short option, faster than one scan of the table.
    private static let shortOptions: [UInt8] = {
        var index = [UInt8](repeating: 0, count: 128)
        for (row, spec) in optionTable.enumerated() {
            if let letter = spec.short?.asciiValue, index[Int(letter)] == 0 { index[Int(letter)] = UInt8(row + 1) }
        }
        return index
    }()

    /// The first option with this letter.
    private static func byShort(_ letter: UInt8) -> OptionSpec? {
        guard letter < 128 else { return nil }
        let row = Int(shortOptions[Int(letter)])
        return row == 0 ? nil : optionTable[row - 1]
    }

    /// The first option with this long name (`strcmp`).
    private static func byLong(_ name: Substring.UTF8View) -> OptionSpec? {
        optionTable.first { $0.long.map { name.elementsEqual($0.utf8) } ?? false }
    }

    /// Byte `offset` of `word` (UTF-8), nil past its end.
    private static func byte(_ word: String, _ offset: Int) -> UInt8? {
        let utf8 = word.utf8
        guard offset < utf8.count else { return nil }
        return utf8[utf8.index(utf8.startIndex, offsetBy: offset)]
    }

    /// `word` from byte `offset` on (always just after an ASCII byte, so a whole scalar).
    private static func rest(of word: String, from offset: Int) -> String {
        String(word.utf8.dropFirst(offset))!
    }

    /// The next option, nil at the end of the words, or a popt failure.
    mutating func nextOption() throws(Failure) -> Option? {
        if bundleOffset > 0 { return try nextShort() }
        while next < words.count {
            let word = words[next]
            next += 1
            let count = word.utf8.count
            if onlyLeftovers || Tokenizer.byte(word, 0) != 0x2d || count == 1 {
                leftovers.append(word)
                continue
            }
            if Tokenizer.byte(word, 1) == 0x2d {
                if count == 2 {
                    onlyLeftovers = true
                    continue
                }
                return try longOption(word)
            }
            bundleWord = next - 1
            bundleOffset = 1
            return try nextShort()
        }
        return nil
    }

    /// `--name`, `--name=value`.
    private mutating func longOption(_ word: String) throws(Failure) -> Option {
        let body = word.utf8.dropFirst(2)
        var name = Substring(body)
        var attached: String?
        if let equals = body.firstIndex(of: 0x3d) {
            name = Substring(body[..<equals])
            attached = String(body[body.index(after: equals)...])!
        }
        guard let spec = Tokenizer.byLong(name.utf8) else { throw .unknownOption }
        switch spec.argument {
        case .none:
            if attached != nil { throw .unwantedArgument }
            return Option(spec: spec, argument: nil)
        case .required:
            if let attached { return Option(spec: spec, argument: attached) }
            guard next < words.count else { throw .missingArgument }
            next += 1
            return Option(spec: spec, argument: words[next - 1])
        case .optional:
            if let attached { return Option(spec: spec, argument: attached) }
            return Option(spec: spec, argument: takeOptionalWord())
        }
    }

    private mutating func nextShort() throws(Failure) -> Option {
        let word = words[bundleWord]
        let letter = Tokenizer.byte(word, bundleOffset)!
        bundleOffset += 1
        // What is left of the bundle after the letter, if anything.
        let more = bundleOffset < word.utf8.count
        if !more { bundleOffset = 0 }
        guard let spec = Tokenizer.byShort(letter) else {
            bundleOffset = 0
            throw .unknownOption
        }
        switch spec.argument {
        case .none:
            return Option(spec: spec, argument: nil)
        case .required:
            if more {
                defer { bundleOffset = 0 }
                return Option(spec: spec, argument: Tokenizer.rest(of: word, from: bundleOffset))
            }
            guard next < words.count else { throw .missingArgument }
            next += 1
            return Option(spec: spec, argument: words[next - 1])
        case .optional:
            if more {
                defer { bundleOffset = 0 }
                return Option(spec: spec, argument: Tokenizer.rest(of: word, from: bundleOffset))
            }
            return Option(spec: spec, argument: takeOptionalWord())
        }
    }

    private mutating func takeOptionalWord() -> String? {
        guard next < words.count, Tokenizer.byte(words[next], 0) != 0x2d else { return nil }
        next += 1
        return words[next - 1]
    }
}
