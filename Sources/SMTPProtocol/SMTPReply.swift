/// One SMTP reply: a three-digit code, an RFC 3463 enhanced status code and one or
/// more text lines. Every reply Postroom sends carries an enhanced code, because
/// clients and log readers act on it (ENHANCEDSTATUSCODES is always advertised).
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var enhanced: String?
    public var lines: [String]

    public init(_ code: Int, _ enhanced: String?, _ lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhanced: String?, _ text: String) {
        self.init(code, enhanced, [text])
    }

    public var isPositive: Bool { code < 400 }
    public var isPermanentFailure: Bool { code >= 500 }
    public var isFailure: Bool { code >= 400 }

    /// Wire form: multi-line replies use `code-text` on all but the last line. The
    /// greeting and the EHLO keyword list carry no enhanced code (RFC 2034 section 3),
    /// so they are built with `enhanced: nil`.
    public var wire: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            out.append(contentsOf: String(code).utf8)
            out.append(contentsOf: separator.utf8)
            if let enhanced {
                out.append(contentsOf: enhanced.utf8)
                out.append(0x20)
            }
            out.append(contentsOf: line.utf8)
            out.append(0x0D)
            out.append(0x0A)
        }
        return out
    }

    public var description: String {
        let last = lines.last ?? ""
        if let enhanced { return "\(code) \(enhanced) \(last)" }
        return "\(code) \(last)"
    }
}

extension SMTPReply {
    public static func greeting(_ hostname: String) -> SMTPReply {
        SMTPReply(220, nil, "\(hostname) ESMTP Postroom")
    }
    public static let ok = SMTPReply(250, "2.0.0", "OK")
    public static let senderOK = SMTPReply(250, "2.1.0", "Sender OK")
    public static let recipientOK = SMTPReply(250, "2.1.5", "Recipient OK")
    public static let resetOK = SMTPReply(250, "2.0.0", "Reset OK")
    public static let startData = SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")
    public static let readyForTLS = SMTPReply(220, "2.0.0", "Ready to start TLS")
    public static func bye(_ hostname: String) -> SMTPReply {
        SMTPReply(221, "2.0.0", "\(hostname) closing connection")
    }
    public static let cannotVerify = SMTPReply(
        252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery")
    public static let badSequence = SMTPReply(503, "5.5.1", "Bad sequence of commands")
    public static let needHelo = SMTPReply(503, "5.5.1", "Send EHLO or HELO first")
    public static let nestedMail = SMTPReply(503, "5.5.1", "Sender already specified")
    public static let needMail = SMTPReply(503, "5.5.1", "Need MAIL command first")
    public static let needRcpt = SMTPReply(503, "5.5.1", "Need RCPT command first")
    public static let noValidRecipients = SMTPReply(554, "5.5.1", "No valid recipients")
    public static let unrecognized = SMTPReply(500, "5.5.2", "Command not recognized")
    public static let lineTooLong = SMTPReply(500, "5.5.6", "Command line too long")
    public static let bareLF = SMTPReply(550, "5.5.2", "Error: bare <LF> received")
    public static let bareCR = SMTPReply(550, "5.5.2", "Error: bare <CR> received")
    public static let tlsRequired = SMTPReply(530, "5.7.0", "Must issue a STARTTLS command first")
    public static let tlsAlreadyActive = SMTPReply(503, "5.5.1", "TLS already active")
    public static let tlsUnavailable = SMTPReply(454, "4.7.0", "TLS not available")
    public static let tooManyRecipients = SMTPReply(452, "4.5.3", "Too many recipients")
    public static let tooManyErrors = SMTPReply(421, "4.7.0", "Too many errors, closing connection")
    public static let tooManySessions = SMTPReply(421, "4.7.0", "Too many sessions, try again later")
    public static let tooManySessionsFromIP = SMTPReply(
        421, "4.7.0", "Too many sessions from your address, try again later")
    public static let idleTimeout = SMTPReply(421, "4.4.2", "Idle timeout, closing connection")
    public static let sessionTimeLimit = SMTPReply(421, "4.4.2", "Session time limit reached, closing connection")
    public static let shuttingDown = SMTPReply(421, "4.3.2", "Service shutting down, closing connection")
    public static let messageTooBig = SMTPReply(552, "5.3.4", "Message size exceeds fixed limit")
    public static let textLineTooLong = SMTPReply(
        550, "5.6.0", "Message refused: text line longer than 1000 octets")
    public static let relayDenied = SMTPReply(554, "5.7.1", "Relay access denied")
    public static let unknownUser = SMTPReply(550, "5.1.1", "Recipient address rejected: User unknown")
    public static let spoolUnavailable = SMTPReply(
        451, "4.3.0", "Local error in processing: message not stored, try again later")
    public static func parameterNotSupported(_ name: String) -> SMTPReply {
        SMTPReply(555, "5.5.4", "Unsupported parameter: \(name)")
    }
}
