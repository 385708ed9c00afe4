/// `--sysctl`: the IPVS sysctls of the namespace (Docs/Sysctl.md).
extension Runner {
    /// The doctor's recommended value of a knob, by name (`SysctlAdvice`), with when it matters:
    /// the doctor reports another value only then.
    static let sysctlAdvice: SysctlAdviceLookup = { name in
        SysctlAdvice.advice(for: "net.ipv4.vs." + name).map { ($0.recommended, "\($0.reason) (matters when: \($0.appliesWhen))") }
    }

    /// `--sysctl [NAME...]` shows them (`--json` too); `--sysctl NAME=VALUE...` sets them.
    func sysctl(_ entry: CommandEntry, advice: SysctlAdviceLookup = Runner.sysctlAdvice) throws(Termination) -> Int32 {
        let sysctls = Sysctls(host: host)
        let words = entry.sysctlWords
        if words.contains(where: { $0.contains("=") }) {
            guard !entry.options.contains(.json) else {
                throw .fail("ipvsadm: --json shows sysctls; set them without it")
            }
            stdout.write(try sysctls.set(words))
            return 0
        }
        let entries = try sysctls.read(words, advice: advice)
        if entry.options.contains(.json) {
            Sysctls.json(entries, to: stdout)
        } else {
            stdout.write(Sysctls.text(entries))
        }
        return 0
    }
}
