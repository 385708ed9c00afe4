import IPVS

/// A recommended value of a knob and its reason, by the knob's name: the doctor's advice
/// (none by default).
typealias SysctlAdviceLookup = @Sendable (String) -> (value: String, reason: String)?

/// One IPVS sysctl as this namespace has it, joined with what ipvsadm knows of it.
struct SysctlEntry {
    let name: String
    /// As `sysctl -n` prints it, without the final newline (`sync_threshold`: two numbers and a TAB).
    let value: String
    /// Whether this process may write it, as the kernel says.
    let writable: Bool
    /// nil for a knob the catalog does not know (a newer kernel's).
    let knob: SysctlKnob?
    let recommended: (value: String, reason: String)?

    var qualifiedName: String { Sysctls.prefix + name }
}

/// `--sysctl`: the IPVS sysctls of the network namespace the process is in (after `--netns`,
/// /proc/sys/net is that namespace's), read and set through the host.
struct Sysctls {
    static let directory = "/proc/sys/net/ipv4/vs"
    static let prefix = "net.ipv4.vs."

    let host: any Host

    /// A knob's name as given: bare, or with `net.ipv4.vs.` (or `net/ipv4/vs/`) before it.
    static func name(_ word: String) -> String {
        for lead in [prefix, "net/ipv4/vs/"] where word.hasPrefix(lead) { return String(word.dropFirst(lead.count)) }
        return word
    }

    /// What the kernel has, sorted by name: every knob (`names` empty) or those named, in the
    /// order named.
    func read(_ names: [String] = [], advice: SysctlAdviceLookup = { _ in nil }) throws(Termination) -> [SysctlEntry] {
        let present = try entries()
        let chosen: [DirectoryEntry]
        if names.isEmpty {
            chosen = present.sorted { $0.name < $1.name }
        } else {
            var picked: [DirectoryEntry] = []
            for word in names {
                let name = Sysctls.name(word)
                guard let entry = present.first(where: { $0.name == name }) else { throw Sysctls.unknown(name) }
                picked.append(entry)
            }
            chosen = picked
        }
        var result: [SysctlEntry] = []
        for entry in chosen {
            result.append(
                SysctlEntry(
                    name: entry.name, value: try value(of: entry.name), writable: entry.writable,
                    knob: SysctlKnob.named(entry.name), recommended: advice(entry.name)))
        }
        return result
    }

    /// Sets each `NAME=VALUE`, in order, after checking them all (names this kernel has, values
    /// in their ranges): a bad word changes nothing. Returns what `sysctl -w` prints, the values
    /// read back. A write the kernel refuses ends it with the kernel's errno (those before it
    /// are set).
    func set(_ assignments: [String]) throws(Termination) -> String {
        let present = try entries()
        var checked: [(name: String, value: String)] = []
        for word in assignments {
            guard let equals = word.firstIndex(of: "=") else {
                throw .fail("ipvsadm: --sysctl sets NAME=VALUE words only (`\(word)' has no `=')")
            }
            let name = Sysctls.name(String(word[..<equals]))
            let value = String(word[word.index(after: equals)...])
            guard present.contains(where: { $0.name == name }) else { throw Sysctls.unknown(name) }
            guard let knob = SysctlKnob.named(name) else {
                // Not in the catalog: the kernel is the only judge.
                checked.append((name, value))
                continue
            }
            guard let canonical = knob.check(value) else {
                throw .fail("ipvsadm: invalid value `\(value)' for \(Sysctls.prefix)\(name) (\(knob.valuesText))")
            }
            checked.append((name, canonical))
        }
        var output = ""
        for (name, value) in checked {
            do {
                try host.writeFile(Sysctls.directory + "/" + name, contents: Array(value.utf8))
            } catch {
                let writable = present.first { $0.name == name }?.writable ?? true
                let why = writable ? "" : " (read-only here\(SysctlKnob.named(name)?.global == true ? Sysctls.globalNote : ""))"
                throw .process(
                    status: 1, stdout: output,
                    stderr: "ipvsadm: can't set \(Sysctls.prefix)\(name) to `\(value)': \(error.text)\(why)\n")
            }
            output += "\(Sysctls.prefix)\(name) = \(try self.value(of: name).replacing("\t", with: " "))\n"
        }
        return output
    }

    static let globalNote = ": one value for all namespaces, set in the initial one"

    private func entries() throws(Termination) -> [DirectoryEntry] {
        let present: [DirectoryEntry]?
        do {
            present = try host.directoryEntries(Sysctls.directory)
        } catch {
            throw .process(status: 1, stderr: "ipvsadm: can't read \(Sysctls.directory): \(error.text)\n")
        }
        guard let present, !present.isEmpty else {
            throw .process(
                status: 1,
                stderr: "ipvsadm: this network namespace has no IPVS sysctls (\(Sysctls.directory)): the kernel "
                    + "shows none to a namespace of a non-initial user namespace on older kernels\n")
        }
        return present
    }

    private func value(of name: String) throws(Termination) -> String {
        let bytes: [UInt8]?
        do {
            bytes = try host.readFile(Sysctls.directory + "/" + name)
        } catch {
            throw .process(status: 1, stderr: "ipvsadm: can't read \(Sysctls.prefix)\(name): \(error.text)\n")
        }
        var text = bytes ?? []
        while text.last == 0x0a { text.removeLast() }
        return String(decoding: text, as: UTF8.self)
    }

    private static func unknown(_ name: String) -> Termination {
        if SysctlKnob.named(name) != nil {
            return .fail("ipvsadm: this kernel has no IPVS sysctl `\(name)' (see ipvsadm --sysctl)")
        }
        return .fail("ipvsadm: unknown IPVS sysctl `\(name)' (see ipvsadm --sysctl)")
    }

    // MARK: - Rendering

    /// The text view: a row per knob (name, value, default, values), its meaning under it, and
    /// when there is one, the recommended value and whether it is read-only here; 80 columns
    /// but for long values and reasons.
    static func text(_ entries: [SysctlEntry]) -> String {
        var out = row("Name", "Value", "Default", "Values")
        for entry in entries {
            let knob = entry.knob
            out += row(
                entry.name, entry.value.replacing("\t", with: " "),
                knob.map { $0.defaultValue?.replacing("\t", with: " ") ?? $0.defaultText ?? "" } ?? "-",
                knob?.valuesText ?? "-")
            out += "  " + (knob?.meaning ?? "(not in ipvsadm's catalog: a newer kernel's knob)") + "\n"
            if !entry.writable {
                out += "  read-only here" + (knob?.global == true ? globalNote : "") + "\n"
            }
            if let advice = entry.recommended {
                out += "  recommended \(advice.value): \(advice.reason)\n"
            }
        }
        return out
    }

    private static func row(_ name: String, _ value: String, _ defaultValue: String, _ values: String) -> String {
        column(name, 26) + column(value, 13) + column(defaultValue, 13) + values + "\n"
    }

    private static func column(_ text: String, _ width: Int) -> String {
        text.count < width ? text + String(repeating: " ", count: width - text.count) : text + " "
    }

    /// The JSON view (Docs/JSON.md, `sysctlListing` in Docs/ipvsadm.schema.json).
    static func json(_ entries: [SysctlEntry], to sink: any OutputSink) {
        let json = JSONWriter(to: sink)
        json.beginObject()
        json.key("sysctls")
        json.beginArray()
        for entry in entries {
            json.beginObject()
            json.member("name", entry.name)
            json.member("value", entry.value)
            json.member("writable", entry.writable)
            json.member("known", entry.knob != nil)
            if let knob = entry.knob {
                if let value = knob.defaultValue { json.member("default", value) } else { json.member("default", number: "null") }
                if let text = knob.defaultText { json.member("default_text", text) }
                json.member("values", knob.valuesText)
                json.member("meaning", knob.meaning)
                json.member("global", knob.global)
            }
            if let advice = entry.recommended {
                json.key("recommended")
                json.beginObject()
                json.member("value", advice.value)
                json.member("reason", advice.reason)
                json.endObject()
            } else {
                json.member("recommended", number: "null")
            }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.finish()
    }
}
