import IPVS

/// The doctor's report for people (text) and for programs (`--json`, schema
/// Docs/ipvsadm.schema.json, `doctorReport`).
enum DoctorOutput {
    static func write(_ report: DoctorReport, json: Bool, to sink: any OutputSink) {
        if json { writeJSON(report, to: sink) } else { sink.write(text(report)) }
    }

    static func text(_ report: DoctorReport) -> String {
        var out = ""
        for finding in report.findings {
            out += "\(finding.severity.rawValue) \(finding.code.rawValue) \(finding.object)\n"
            out += "  \(finding.message)\n"
            for command in finding.fix { out += "  fix: \(command)\n" }
        }
        if report.findings.isEmpty {
            out += "no problems found\n"
        } else {
            let errors = report.errors, warnings = report.warnings
            out += "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")\n"
        }
        return out
    }

    static func writeJSON(_ report: DoctorReport, to sink: any OutputSink) {
        let writer = JSONWriter(to: sink)
        writer.beginObject()
        writer.member("mode", report.mode.rawValue)
        writer.key("findings")
        writer.beginArray()
        for finding in report.findings {
            writer.beginObject()
            writer.member("severity", finding.severity.rawValue)
            writer.member("code", finding.code.rawValue)
            writer.member("object", finding.object)
            writer.member("message", finding.message)
            writer.member("fix", strings: finding.fix)
            writer.endObject()
        }
        writer.endArray()
        writer.key("summary")
        writer.beginObject()
        writer.member("errors", report.errors)
        writer.member("warnings", report.warnings)
        writer.endObject()
        writer.endObject()
        writer.finish()
    }
}
