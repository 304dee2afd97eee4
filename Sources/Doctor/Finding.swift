/// One thing `postroom doctor` checked: what it found and, when something is wrong,
/// what to do about it, as `postfix check` and a mail-tester report would say it.
public struct Finding: Sendable, Codable, Equatable {
    public enum Severity: String, Sendable, Codable, Comparable {
        case ok, warning, problem

        var rank: Int {
            switch self {
            case .ok: 0
            case .warning: 1
            case .problem: 2
            }
        }

        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    public var severity: Severity
    /// The area: hostname, mx, spf, dkim, dmarc, tls, ports, files, relay.
    public var check: String
    /// What was found, naming the record, file or port.
    public var message: String
    /// What to do (the record to publish, the key to set); nil when nothing is to do.
    public var fix: String?

    public init(_ severity: Severity, _ check: String, _ message: String, fix: String? = nil) {
        self.severity = severity
        self.check = check
        self.message = message
        self.fix = fix
    }

    public static func ok(_ check: String, _ message: String) -> Finding { Finding(.ok, check, message) }
    public static func warning(_ check: String, _ message: String, fix: String?) -> Finding { Finding(.warning, check, message, fix: fix) }
    public static func problem(_ check: String, _ message: String, fix: String?) -> Finding { Finding(.problem, check, message, fix: fix) }
}

/// All findings, in the order checked, with the counts a script looks at.
public struct DoctorReport: Sendable, Codable, Equatable {
    public var findings: [Finding]
    public var problems: Int
    public var warnings: Int

    public init(_ findings: [Finding]) {
        self.findings = findings
        problems = findings.filter { $0.severity == .problem }.count
        warnings = findings.filter { $0.severity == .warning }.count
    }

    /// One line per finding (`ok`, `WARNING`, `PROBLEM`), the fix indented below it.
    public var text: String {
        var lines: [String] = []
        for f in findings {
            let label = f.severity == .ok ? "ok     " : f.severity == .warning ? "WARNING" : "PROBLEM"
            lines.append("\(label) \(f.check): \(f.message)")
            if let fix = f.fix { lines.append("        fix: \(fix)") }
        }
        lines.append("\(problems) problem\(problems == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }
}
