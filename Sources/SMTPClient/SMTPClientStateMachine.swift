import Foundation
import SMTPProtocol

/// The client side of one SMTP session as a plain value, in the NIOSOCKS style (like
/// the server's `SMTPServerStateMachine`): the shell feeds it every reply, and the end
/// of a TLS handshake, and carries out the actions it returns. Which command comes
/// next, what a reply means for each recipient, when STARTTLS and AUTH happen: all of
/// it is decided here and tested reply by reply without a socket.
struct SMTPClientStateMachine {
    /// One message's envelope (the shell keeps its bytes).
    struct Envelope: Equatable {
        var from: String
        var recipients: [String]
        var size: Int
        var eightBit: Bool
    }

    enum Action: Equatable {
        /// One or more command lines, CRLF included.
        case send(String)
        /// Make sure nothing is waiting, arm the STARTTLS fence, send STARTTLS.
        case sendStartTLS
        /// STARTTLS was accepted: drop whatever arrived in plain text and secure the
        /// channel, then call `tlsEstablished()`.
        case handshake
        /// Send transaction `index`'s message, dot-stuffed, with the final dot.
        case sendMessage(index: Int)
        /// The server has answered for every recipient of transaction `index`.
        case outcome(index: Int, [String: RecipientOutcome])
        /// Every transaction is done: QUIT and close.
        case quit
    }

    /// What the next reply answers (for its timeout and for error texts).
    enum Wait: Equatable {
        case greeting
        case command(String)
        case dataInitiation
        case dataTermination
        /// No reply is expected (a handshake is under way, or the session is over).
        case nothing
    }

    enum State: Equatable {
        case greeting
        case ehlo(afterTLS: Bool)
        case startTLS
        case handshaking
        case authPlain
        /// AUTH LOGIN: replies still to come (to AUTH LOGIN, the user name, the password).
        case authLogin(remaining: Int)
        case rset(index: Int)
        /// MAIL sent (with every RCPT when pipelined).
        case mail(index: Int)
        /// Waiting for the reply to RCPT number `next`.
        case rcpt(index: Int, next: Int)
        case dataStart(index: Int)
        case dataEnd(index: Int)
        case done
    }

    let envelopes: [Envelope]
    let heloName: String
    let security: SMTPRelay.Security
    let credentials: (user: String, password: String)?
    let host: String

    private(set) var state: State = .greeting
    private(set) var keywords: Set<String> = []
    /// The current transaction.
    var pipelined = false
    var mailReply: SMTPReply?
    var outcomes: [String: RecipientOutcome] = [:]
    var accepted: [String] = []

    init(envelopes: [Envelope], heloName: String, security: SMTPRelay.Security, credentials: (user: String, password: String)?, host: String) {
        self.envelopes = envelopes
        self.heloName = heloName
        self.security = security
        self.credentials = credentials
        self.host = host
    }

    var waiting: Wait {
        switch state {
        case .greeting: .greeting
        case .ehlo: .command("EHLO")
        case .startTLS: .command("STARTTLS")
        case .authPlain, .authLogin: .command("AUTH")
        case .rset: .command("RSET")
        case .mail: .command("MAIL")
        case .rcpt: .command("RCPT")
        case .dataStart: .dataInitiation
        case .dataEnd: .dataTermination
        case .handshaking, .done: .nothing
        }
    }

    var isFinished: Bool { state == .done }

    /// The next reply from the server.
    mutating func received(_ reply: SMTPReply) throws(SMTPClientError) -> [Action] {
        switch state {
        case .greeting:
            try expect(reply, "greeting")
            state = .ehlo(afterTLS: false)
            return [.send("EHLO \(heloName)\r\n")]
        case .ehlo(let afterTLS):
            try expect(reply, afterTLS ? "EHLO after STARTTLS" : "EHLO")
            keywords = Set(reply.lines.dropFirst().map { $0.uppercased() })
            if !afterTLS && (security == .starttls || security == .starttlsRequired) {
                if keywords.contains("STARTTLS") {
                    state = .startTLS
                    return [.sendStartTLS]
                }
                if security == .starttlsRequired {
                    throw SMTPClientError(message: "\(host) does not offer STARTTLS, which is required", permanent: false, status: "4.7.0")
                }
            }
            return try authenticate()
        case .startTLS:
            try expect(reply, "STARTTLS")
            state = .handshaking
            return [.handshake]
        case .authPlain:
            try expect(reply, "AUTH PLAIN")
            return begin(0)
        case .authLogin(let remaining):
            guard let credentials else { throw SMTPClientError(message: "AUTH LOGIN without credentials", permanent: true) }
            switch remaining {
            case 3:
                state = .authLogin(remaining: 2)
                return [.send(Data(credentials.user.utf8).base64EncodedString() + "\r\n")]
            case 2:
                state = .authLogin(remaining: 1)
                return [.send(Data(credentials.password.utf8).base64EncodedString() + "\r\n")]
            default:
                try expect(reply, "AUTH LOGIN")
                return begin(0)
            }
        case .rset(let index):
            try expect(reply, "RSET")
            return mail(index)
        case .mail(let index):
            mailReply = reply
            if pipelined {
                state = .rcpt(index: index, next: 0)
                return []
            }
            if reply.code >= 400 { return failAll(index, reply) }
            state = .rcpt(index: index, next: 0)
            return [.send("RCPT TO:<\(envelopes[index].recipients[0])>\r\n")]
        case .rcpt(let index, let next):
            let recipients = envelopes[index].recipients
            if reply.code < 400 { accepted.append(recipients[next]) } else { outcomes[recipients[next]] = Self.failure(reply) }
            if next + 1 < recipients.count {
                state = .rcpt(index: index, next: next + 1)
                return pipelined ? [] : [.send("RCPT TO:<\(recipients[next + 1])>\r\n")]
            }
            if let mailReply, mailReply.code >= 400 { return failAll(index, mailReply) }
            if accepted.isEmpty { return finish(index) }
            state = .dataStart(index: index)
            return [.send("DATA\r\n")]
        case .dataStart(let index):
            guard reply.code == 354 else {
                for recipient in accepted { outcomes[recipient] = Self.failure(reply) }
                return finish(index)
            }
            state = .dataEnd(index: index)
            return [.sendMessage(index: index)]
        case .dataEnd(let index):
            for recipient in accepted { outcomes[recipient] = reply.code < 400 ? .delivered(reply) : Self.failure(reply) }
            return finish(index)
        case .handshaking, .done:
            throw SMTPClientError(message: "\(host) sent a reply nothing asked for: \(reply)", permanent: false)
        }
    }

    /// The TLS handshake after STARTTLS succeeded: start over with EHLO.
    mutating func tlsEstablished() -> [Action] {
        state = .ehlo(afterTLS: true)
        keywords = []
        return [.send("EHLO \(heloName)\r\n")]
    }

    mutating func authenticate() throws(SMTPClientError) -> [Action] {
        guard let credentials else { return begin(0) }
        let auth = keywords.first { $0.hasPrefix("AUTH ") } ?? ""
        if auth.contains("PLAIN") {
            state = .authPlain
            let token = Data([0] + Array(credentials.user.utf8) + [0] + Array(credentials.password.utf8)).base64EncodedString()
            return [.send("AUTH PLAIN \(token)\r\n")]
        }
        if auth.contains("LOGIN") {
            state = .authLogin(remaining: 3)
            return [.send("AUTH LOGIN\r\n")]
        }
        throw SMTPClientError(message: "\(host) offers no AUTH PLAIN or LOGIN", permanent: false)
    }

    /// Transaction `index` (RSET first after the first), or QUIT after the last.
    mutating func begin(_ index: Int) -> [Action] {
        guard index < envelopes.count else {
            state = .done
            return [.quit]
        }
        if index > 0 {
            state = .rset(index: index)
            return [.send("RSET\r\n")]
        }
        return mail(index)
    }

    mutating func mail(_ index: Int) -> [Action] {
        let envelope = envelopes[index]
        outcomes = [:]
        accepted = []
        mailReply = nil
        guard !envelope.recipients.isEmpty else { return finish(index) }
        var line = "MAIL FROM:<\(envelope.from)>"
        if keywords.contains(where: { $0.hasPrefix("SIZE") }) { line += " SIZE=\(envelope.size)" }
        let nonASCII = (envelope.from + envelope.recipients.joined()).utf8.contains { $0 >= 0x80 }
        if nonASCII && keywords.contains("SMTPUTF8") { line += " SMTPUTF8" }
        if envelope.eightBit && keywords.contains("8BITMIME") { line += " BODY=8BITMIME" }
        state = .mail(index: index)
        pipelined = keywords.contains("PIPELINING")
        if pipelined {
            return [.send(line + "\r\n" + envelope.recipients.map { "RCPT TO:<\($0)>\r\n" }.joined())]
        }
        return [.send(line + "\r\n")]
    }

    mutating func failAll(_ index: Int, _ reply: SMTPReply) -> [Action] {
        for recipient in envelopes[index].recipients { outcomes[recipient] = Self.failure(reply) }
        return finish(index)
    }

    mutating func finish(_ index: Int) -> [Action] {
        [.outcome(index: index, outcomes)] + begin(index + 1)
    }

    func expect(_ reply: SMTPReply, _ what: String) throws(SMTPClientError) {
        guard reply.code < 400 else {
            // The server's code, but not its status: a session that failed says nothing
            // about any one recipient's address (so it can never suppress one).
            throw SMTPClientError(message: "\(what): \(reply)", permanent: reply.code >= 500, code: reply.code)
        }
    }

    static func failure(_ reply: SMTPReply) -> RecipientOutcome { .failure(reply) }
}
