/// Compiling scripts and printing results.
public enum Sieve {
    /// Parses and validates a script; a problem is reported with file:line:column.
    public static func compile(_ text: String, name: String = "script.sieve", allowTestsuite: Bool = false) throws(SieveError) -> SieveScript {
        var lexer = Lexer(text, file: name)
        let tokens = try lexer.tokens()
        var parser = Parser(tokens: tokens, file: name)
        var commands = try parser.commands(inBlock: false)
        var validator = Validator(file: name, allowTestsuite: allowTestsuite)
        try validator.validate(&commands, topLevel: true)
        return SieveScript(name: name, commands: commands, extensions: validator.extensions)
    }
}

extension SieveResult {
    /// The result in sieve-test's words, so the two can be compared line by line.
    public var sieveTestText: String {
        var lines = ["Performed actions:", ""]
        var performed: [String] = []
        for action in actions {
            switch action {
            case .keep(let flags):
                performed.append(" * store message in folder: INBOX")
                if !flags.isEmpty { performed.append("        + add IMAP flags: \(Self.flagText(flags))") }
            case .fileinto(let mailbox, let flags, let copy, let create):
                performed.append(" * store message in folder: \(mailbox)")
                if !flags.isEmpty { performed.append("        + add IMAP flags: \(Self.flagText(flags))") }
                if create { performed.append("        + create mailbox if it does not exist") }
                if copy { performed.append("        + preserve implicit keep") }
            case .redirect(let address, let copy):
                performed.append(" * redirect message to: \(address)")
                if copy { performed.append("        + preserve implicit keep") }
            case .reject(let reason, _):
                performed.append(" * reject message with reason: \(reason)")
            case .discard:
                performed.append(" * discard")
            case .vacation(let v):
                performed.append(" * send vacation message:")
                if let subject = v.subject { performed.append("    => subject: \(subject)") }
                performed.append("    => reason: \(v.reason)")
            case .postroom(let p):
                performed.append(" * postroom: \(p)")
            }
        }
        lines += performed.isEmpty ? ["  (none)"] : performed
        lines += ["", "Implicit keep:", ""]
        if implicitKeep {
            lines.append(" * store message in folder: INBOX")
            if !implicitKeepFlags.isEmpty { lines.append("        + add IMAP flags: \(Self.flagText(implicitKeepFlags))") }
        } else {
            lines.append("  (none)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// System flags in lower case, as sieve-test prints them.
    static func flagText(_ flags: [String]) -> String {
        flags.map { $0.hasPrefix("\\") ? $0.lowercased() : $0 }.joined(separator: " ")
    }
}
