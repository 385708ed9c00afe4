import IPVS

extension Runner {
    // MARK: - Restore

    /// A line of `-R` or `--apply` input cannot move the process to another namespace.
    static let namespaceInInput = "--netns is not allowed in -R or --apply input"

    /// How many changes `-R` queues before it hands them to the kernel.
    static let restoreBatch = 1024

    /// `-R`: every line of stdin is a command line of its own; the status is the last line's.
    ///
    /// Kernel changes are queued and handed over together (the netlink backend pipelines
    /// them); the queue is emptied, and its errors printed in order, before anything else
    /// is printed or read from the kernel, so output and status are those of one line at
    /// a time. Usage errors still end the restore at their line, after the lines before it.
    /// So does a line with a NUL byte (a corrupted file), which ipvsadm would cut there and
    /// load what comes before it (a deliberate deviation).
    func restore() throws(Termination) -> Int32 {
        var result: Int32 = 0
        var pending: [Modification] = []
        func flush() {
            guard !pending.isEmpty else { return }
            let results = backend.perform(pending)
            for case let error? in results { stderr.write(error.message + "\n") }
            result = results.last.map { $0 == nil ? 0 : 255 } ?? result
            pending.removeAll(keepingCapacity: true)
        }
        let parser = rulesParser
        var checks = CheckReader()
        do throws(Termination) {
            try forEachInputLine { words, number throws(Termination) in
                let entry: CommandEntry
                do throws(Termination) {
                    entry = try parser.parse(words)
                } catch {
                    flush()
                    result = try lineStatus(error)
                    return
                }
                if entry.namespace != nil { throw Termination.fail(Runner.namespaceInInput) }
                // A malformed `--check` ends the restore at its line, as a bad value does.
                if entry.check != nil || checks.hasDeclarations {
                    do throws(HealthDeclarationError) {
                        try checks.read(entry, line: number)
                    } catch {
                        throw Termination.fail(error.text)
                    }
                }
                if let modification = modification(for: entry) {
                    pending.append(modification)
                    if pending.count >= Runner.restoreBatch { flush() }
                    return
                }
                flush()
                result = try runMultiStep(entry, readingStdin: true)
            }
        } catch {
            // What ends the restore comes after the changes of the lines before it.
            flush()
            throw error
        }
        flush()
        return result
    }

    /// Each line of stdin that has a word, as `-R` and `--apply` read it: its words
    /// (`RestoreLine.split`) and its number, from 1. A line with a NUL byte (a corrupted file)
    /// ends the reading there, with status 2.
    ///
    /// Hot path (`-R` runs it per line): one line and its words at a time, in buffers kept
    /// from line to line; inlined into its callers.
    @inline(__always)
    func forEachInputLine(_ body: (_ words: Words, _ number: Int) throws(Termination) -> Void) throws(Termination) {
        var number = 0
        var words = Words()
        while stdin.readLine(into: &words.bytes) {
            number += 1
            if words.bytes.contains(0) { throw .process(status: 2, stderr: RestoreLine.nulMessage(line: number)) }
            RestoreLine.split(&words)
            if words.isEmpty { continue }
            try body(words, number)
        }
    }
}

/// How `-R` splits a line: runs of characters other than space, tab, CR and LF; no quoting,
/// no comments; a word that is exactly `ipvsadm` is dropped wherever it stands.
enum RestoreLine {
    static func words(_ line: String) -> [String] {
        var words = Words()
        words.bytes = Array(line.utf8)
        split(&words)
        return words.strings
    }

    /// Finds the words of the line in `words.bytes` (hot path, every line of -R: one pass,
    /// no `Substring` or `String` per word).
    static func split(_ words: inout Words) {
        words.removeAllWords()
        let bytes = words.bytes  // the same storage: only the words' bounds change
        bytes.withUnsafeBufferPointer { line in
            var index = 0
            while index < line.count {
                while index < line.count && isSeparator(line[index]) { index += 1 }
                let start = index
                while index < line.count && !isSeparator(line[index]) { index += 1 }
                guard index > start else { break }
                if index - start != 7 || !UnsafeBufferPointer(rebasing: line[start..<index]).elementsEqual("ipvsadm".utf8) {
                    words.append(start, index)
                }
            }
        }
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0d || byte == 0x0a
    }

    /// The error for a line with a NUL byte.
    static func nulMessage(line: Int) -> String { "line \(line): NUL byte in input\n" }
}
