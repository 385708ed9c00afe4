/// A popt-compatible reader of ipvsadm's argument vector.
///
/// It yields options one at a time, exactly as `poptGetNextOpt` does for ipvsadm's table:
/// short options may be bundled (`-Ln`) and take an attached argument (`-t10.0.0.1:80`) or
/// the next word (even one starting with `-`); long options take `--name value` or
/// `--name=value` and are never abbreviated; words that are not options are kept as
/// leftovers, wherever they stand; `--` ends option processing.
struct Tokenizer {
    /// A popt error, with the text `poptStrerror` gives for it; an argument's error names
    /// the row of its option in `optionTable`.
    enum Failure: Error, Equatable {
        case unknownOption
        case missingArgument(row: Int)
        case unwantedArgument(row: Int)

        var text: String {
            switch self {
            case .unknownOption: return "unknown option"
            case .missingArgument: return "missing argument"
            case .unwantedArgument: return "option does not take an argument"
            }
        }
    }

    struct Option {
        /// The option's row in `optionTable`.
        let row: Int
        let argument: String?

        var spec: OptionSpec { optionTable[row] }
    }

    private let words: Words
    private var next = 0
    /// The bundle of short options still to be read (`n` after `-L` in `-Ln`): the index of
    /// its word and the offset of its next letter in the word (0: no bundle).
    private var bundleWord = 0
    private var bundleOffset = 0
    private var onlyLeftovers = false
    private(set) var leftovers: [String] = []

    init(_ words: Words) {
        self.words = words
    }

    init(_ words: [String]) {
        self.init(Words(words))
    }

    /// The word popt would blame for an error: the last one consumed
    /// (`poptBadOption(ctx, POPT_BADOPTION_NOALIAS)`).
    var lastWord: String {
        next > 0 ? words[next - 1] : ""
    }

    /// How many words the options read so far took, leftovers included.
    var wordsRead: Int { next }

    /// Whether the next option is a letter of the last word read (`n` after `-L` in `-Ln`).
    var isInBundle: Bool { bundleOffset > 0 }

    // Hot path (every line of -R): words are read as popt reads them, as bytes (a letter is
    // one byte, `-`, `--` and `=` are found by byte); a word becomes a `String` only as an
    // argument or a leftover, and a letter finds its row through an index, not a scan.

    /// For each ASCII letter, 1 + the row in `optionTable` of the first option with it (0:
    /// none); built at the first short option.
    private static let shortOptions: [UInt8] = {
        var index = [UInt8](repeating: 0, count: 128)
        for (row, spec) in optionTable.enumerated() {
            if let letter = spec.short?.asciiValue, index[Int(letter)] == 0 { index[Int(letter)] = UInt8(row + 1) }
        }
        return index
    }()

    /// The row of the first option with this letter.
    private static func byShort(_ letter: UInt8) -> Int? {
        guard letter < 128 else { return nil }
        let row = Int(shortOptions[Int(letter)])
        return row == 0 ? nil : row - 1
    }

    /// The row of the first option with this long name (`strcmp`).
    private static func byLong(_ name: ArraySlice<UInt8>) -> Int? {
        optionTable.firstIndex { $0.long.map { name.elementsEqual($0.utf8) } ?? false }
    }

    /// The next option, nil at the end of the words, or a popt failure.
    mutating func nextOption() throws(Failure) -> Option? {
        if bundleOffset > 0 { return try nextShort() }
        while next < words.count {
            let word = next
            next += 1
            let count = words.length(word)
            if onlyLeftovers || words.byte(word, 0) != 0x2d || count == 1 {
                leftovers.append(words[word])
                continue
            }
            if words.byte(word, 1) == 0x2d {
                if count == 2 {
                    onlyLeftovers = true
                    continue
                }
                return try longOption(word)
            }
            bundleWord = word
            bundleOffset = 1
            return try nextShort()
        }
        return nil
    }

    /// `--name`, `--name=value`.
    private mutating func longOption(_ word: Int) throws(Failure) -> Option {
        let body = words.bytes(of: word).dropFirst(2)
        var name = body
        var attached: String?
        if let equals = body.firstIndex(of: 0x3d) {
            name = body[..<equals]
            attached = String(decoding: body[(equals + 1)...], as: UTF8.self)
        }
        guard let row = Tokenizer.byLong(name) else { throw .unknownOption }
        switch optionTable[row].argument {
        case .none:
            if attached != nil { throw .unwantedArgument(row: row) }
            return Option(row: row, argument: nil)
        case .required:
            if let attached { return Option(row: row, argument: attached) }
            guard next < words.count else { throw .missingArgument(row: row) }
            next += 1
            return Option(row: row, argument: words[next - 1])
        case .optional:
            if let attached { return Option(row: row, argument: attached) }
            return Option(row: row, argument: takeOptionalWord())
        }
    }

    private mutating func nextShort() throws(Failure) -> Option {
        let word = bundleWord
        let letter = words.byte(word, bundleOffset)!
        bundleOffset += 1
        // Whether the bundle goes on after the letter.
        let more = bundleOffset < words.length(word)
        let rest = bundleOffset
        if !more { bundleOffset = 0 }
        guard let row = Tokenizer.byShort(letter) else {
            bundleOffset = 0
            throw .unknownOption
        }
        switch optionTable[row].argument {
        case .none:
            return Option(row: row, argument: nil)
        case .required:
            if more {
                bundleOffset = 0
                return Option(row: row, argument: words.string(word, from: rest))
            }
            guard next < words.count else { throw .missingArgument(row: row) }
            next += 1
            return Option(row: row, argument: words[next - 1])
        case .optional:
            if more {
                bundleOffset = 0
                return Option(row: row, argument: words.string(word, from: rest))
            }
            return Option(row: row, argument: takeOptionalWord())
        }
    }

    private mutating func takeOptionalWord() -> String? {
        guard next < words.count, words.byte(next, 0) != 0x2d else { return nil }
        next += 1
        return words[next - 1]
    }
}

/// The words of one command line: the bytes they are cut from and where each one is. `-R`
/// splits each line into one, with no `String` per word (`RestoreLine.split`); an argument
/// vector is copied into one.
struct Words {
    /// What the words are cut from.
    var bytes: [UInt8] = []
    /// Where each word starts and ends in `bytes`, two numbers per word. (Plain `Int`s, not
    /// `Range<Int>`: start-up path, no generic type metadata for the runtime to instantiate.)
    private var bounds: [Int] = []

    init() {}

    init(_ strings: [String]) {
        for string in strings {
            let start = bytes.count
            bytes.append(contentsOf: string.utf8)
            append(start, bytes.count)
        }
    }

    var count: Int { bounds.count / 2 }
    var isEmpty: Bool { bounds.isEmpty }

    /// Forgets the words, not the bytes.
    mutating func removeAllWords() { bounds.removeAll(keepingCapacity: true) }

    /// Adds the word at `start..<end` of `bytes`.
    mutating func append(_ start: Int, _ end: Int) {
        bounds.append(start)
        bounds.append(end)
    }

    private func start(_ index: Int) -> Int { bounds[2 * index] }
    private func end(_ index: Int) -> Int { bounds[2 * index + 1] }

    /// Word `index` as a `String` (invalid UTF-8 repaired).
    subscript(index: Int) -> String { string(index, from: 0) }

    /// Every word as a `String`.
    var strings: [String] { (0..<count).map { self[$0] } }

    /// The length of word `index`, in bytes.
    func length(_ index: Int) -> Int { end(index) - start(index) }

    /// Byte `offset` of word `index`, nil past its end.
    func byte(_ index: Int, _ offset: Int) -> UInt8? {
        offset < length(index) ? bytes[start(index) + offset] : nil
    }

    /// The bytes of word `index`.
    func bytes(of index: Int) -> ArraySlice<UInt8> { bytes[start(index)..<end(index)] }

    /// Word `index` from byte `offset` on, as a `String`.
    func string(_ index: Int, from offset: Int) -> String {
        String(decoding: bytes[(start(index) + offset)..<end(index)], as: UTF8.self)
    }
}
