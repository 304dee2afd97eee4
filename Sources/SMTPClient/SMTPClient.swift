import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol

/// Where outbound mail goes and how to talk to it.
public struct SMTPRelay: Sendable, Equatable {
    public enum Security: String, Sendable { case none, starttls, starttlsRequired = "starttls-required", implicit }
    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// Verify the relay's certificate (off for loopback test relays).
    public var verifyCertificate: Bool

    public init(host: String, port: Int, security: Security = .starttls, username: String? = nil, password: String? = nil, verifyCertificate: Bool = true) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.verifyCertificate = verifyCertificate
    }
}

/// The result for one recipient.
public enum RecipientOutcome: Sendable, Equatable {
    case delivered(SMTPReply)
    case temporaryFailure(String)
    case permanentFailure(String)
}

public struct SMTPClientError: Error, CustomStringConvertible {
    public var message: String
    public var permanent: Bool
    public var description: String { message }
}

/// Delivers one message to a relay: EHLO, STARTTLS when offered (or required),
/// AUTH PLAIN/LOGIN, MAIL with SIZE/SMTPUTF8 when offered, RCPT per recipient (all
/// pipelined when the server offers PIPELINING), DATA with dot-stuffing.
public struct SMTPClient: Sendable {
    let group: any EventLoopGroup
    let heloName: String
    let logger: Logger
    let timeout: TimeAmount

    public init(heloName: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeout: TimeAmount = .seconds(60), logger: Logger) {
        self.heloName = heloName
        self.group = group
        self.logger = logger
        self.timeout = timeout
    }

    /// One message for some recipients.
    public struct Transaction: Sendable {
        public var from: String
        public var recipients: [String]
        public var data: [UInt8]

        public init(from: String, recipients: [String], data: [UInt8]) {
            self.from = from
            self.recipients = recipients
            self.data = data
        }
    }

    public func deliver(from: String, recipients: [String], data: [UInt8], via relay: SMTPRelay) async -> [String: RecipientOutcome] {
        await deliver([Transaction(from: from, recipients: recipients, data: data)], via: relay)[0]
    }

    /// Several messages over one connection (RSET between them when one fails), so a
    /// burst of replies to one destination costs one TCP and TLS handshake.
    public func deliver(_ transactions: [Transaction], via relay: SMTPRelay) async -> [[String: RecipientOutcome]] {
        var results: [[String: RecipientOutcome]] = Array(repeating: [:], count: transactions.count)
        do {
            try await session(transactions, relay: relay, results: &results)
        } catch {
            let text: String
            var permanent = false
            if let error = error as? SMTPClientError {
                text = error.message
                permanent = error.permanent
            } else {
                text = "\(relay.host):\(relay.port): \(error)"
            }
            // Whatever has no outcome yet shares the session's failure.
            for (i, t) in transactions.enumerated() {
                for r in t.recipients where results[i][r] == nil {
                    results[i][r] = permanent ? .permanentFailure(text) : .temporaryFailure(text)
                }
            }
        }
        return results
    }

    func tlsHandler(_ relay: SMTPRelay) throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if !relay.verifyCertificate { configuration.certificateVerification = .none }
        let context = try NIOSSLContext(configuration: configuration)
        return try NIOSSLClientHandler(context: context, serverHostname: relay.verifyCertificate ? relay.host : nil)
    }

    func session(_ transactions: [Transaction], relay: SMTPRelay, results: inout [[String: RecipientOutcome]]) async throws {
        let implicitTLS = relay.security == .implicit
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(20))
            .connect(host: relay.host, port: relay.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS { try channel.pipeline.syncOperations.addHandler(try self.tlsHandler(relay)) }
                    return try (channel, NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel))
                }
            }
        let (rawChannel, asyncChannel) = channel
        // Outcomes are written into `results` as they come, so a connection lost half-way
        // keeps what was already delivered (and it is not sent again).
        try await asyncChannel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            var parser = SMTPReplyParser()
            var pending: [SMTPReply] = []

            func next() async throws -> SMTPReply {
                while pending.isEmpty {
                    guard let buffer = try await iterator.next() else {
                        throw SMTPClientError(message: "\(relay.host):\(relay.port) closed the connection", permanent: false)
                    }
                    pending += try parser.feed(buffer.readableBytesView)
                }
                return pending.removeFirst()
            }
            func send(_ text: String) async throws {
                try await outbound.write(ByteBuffer(string: text))
            }
            func expect(_ reply: SMTPReply, _ what: String) throws {
                guard reply.code < 400 else {
                    throw SMTPClientError(message: "\(what): \(reply)", permanent: reply.code >= 500)
                }
            }

            try expect(try await next(), "greeting")
            try await send("EHLO \(heloName)\r\n")
            var ehlo = try await next()
            try expect(ehlo, "EHLO")
            var keywords = Set(ehlo.lines.dropFirst().map { $0.uppercased() })
            if relay.security == .starttls || relay.security == .starttlsRequired {
                if keywords.contains("STARTTLS") {
                    try await send("STARTTLS\r\n")
                    try expect(try await next(), "STARTTLS")
                    try await rawChannel.pipeline.addHandler(try tlsHandler(relay), position: .first).get()
                    parser = SMTPReplyParser()
                    try await send("EHLO \(heloName)\r\n")
                    ehlo = try await next()
                    try expect(ehlo, "EHLO after STARTTLS")
                    keywords = Set(ehlo.lines.dropFirst().map { $0.uppercased() })
                } else if relay.security == .starttlsRequired {
                    throw SMTPClientError(message: "\(relay.host) does not offer STARTTLS, which is required", permanent: false)
                }
            }
            if let user = relay.username, let password = relay.password {
                let auth = keywords.first { $0.hasPrefix("AUTH ") } ?? ""
                if auth.contains("PLAIN") {
                    let token = Data(([0] + Array(user.utf8) + [0] + Array(password.utf8))).base64EncodedString()
                    try await send("AUTH PLAIN \(token)\r\n")
                    try expect(try await next(), "AUTH PLAIN")
                } else if auth.contains("LOGIN") {
                    try await send("AUTH LOGIN\r\n")
                    _ = try await next()
                    try await send(Data(user.utf8).base64EncodedString() + "\r\n")
                    _ = try await next()
                    try await send(Data(password.utf8).base64EncodedString() + "\r\n")
                    try expect(try await next(), "AUTH LOGIN")
                } else {
                    throw SMTPClientError(message: "\(relay.host) offers no AUTH PLAIN or LOGIN", permanent: false)
                }
            }
            for (index, transaction) in transactions.enumerated() {
                let (from, recipients, data) = (transaction.from, transaction.recipients, transaction.data)
                if index > 0 {
                    try await send("RSET\r\n")
                    try expect(try await next(), "RSET")
                }
                var mail = "MAIL FROM:<\(from)>"
                if keywords.contains(where: { $0.hasPrefix("SIZE") }) { mail += " SIZE=\(data.count)" }
                let nonASCII = (from + recipients.joined()).utf8.contains { $0 >= 0x80 }
                if nonASCII && keywords.contains("SMTPUTF8") { mail += " SMTPUTF8" }
                if data.contains(where: { $0 >= 0x80 }) && keywords.contains("8BITMIME") { mail += " BODY=8BITMIME" }
                var outcomes: [String: RecipientOutcome] = [:]
                var accepted: [String] = []
                if keywords.contains("PIPELINING") {
                    try await send(mail + "\r\n" + recipients.map { "RCPT TO:<\($0)>\r\n" }.joined())
                    let mailReply = try await next()
                    var rcptReplies: [SMTPReply] = []
                    for _ in recipients { rcptReplies.append(try await next()) }
                    if mailReply.code >= 400 {
                        for r in recipients { outcomes[r] = Self.failure(mailReply) }
                        results[index] = outcomes
                        continue
                    }
                    for (recipient, reply) in zip(recipients, rcptReplies) {
                        if reply.code < 400 { accepted.append(recipient) } else { outcomes[recipient] = Self.failure(reply) }
                    }
                } else {
                    try await send(mail + "\r\n")
                    let mailReply = try await next()
                    if mailReply.code >= 400 {
                        for r in recipients { outcomes[r] = Self.failure(mailReply) }
                        results[index] = outcomes
                        continue
                    }
                    for recipient in recipients {
                        try await send("RCPT TO:<\(recipient)>\r\n")
                        let reply = try await next()
                        if reply.code < 400 { accepted.append(recipient) } else { outcomes[recipient] = Self.failure(reply) }
                    }
                }
                if accepted.isEmpty {
                    results[index] = outcomes
                    continue
                }
                try await send("DATA\r\n")
                let dataReply = try await next()
                guard dataReply.code == 354 else {
                    for r in accepted { outcomes[r] = Self.failure(dataReply) }
                    results[index] = outcomes
                    continue
                }
                try await outbound.write(ByteBuffer(bytes: Self.dotStuffed(data)))
                let final = try await next()
                for r in accepted { outcomes[r] = final.code < 400 ? .delivered(final) : Self.failure(final) }
                results[index] = outcomes
            }
            try? await send("QUIT\r\n")
            _ = try? await next()
        }
    }

    static func failure(_ reply: SMTPReply) -> RecipientOutcome {
        reply.code >= 500 ? .permanentFailure(reply.description) : .temporaryFailure(reply.description)
    }

    /// The message with leading dots doubled, CRLF line ends, and the terminator.
    public static func dotStuffed(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 64)
        var atLineStart = true
        var previous: UInt8 = 0
        for byte in data {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            atLineStart = byte == 0x0A
            previous = byte
        }
        if !(out.count >= 2 && out[out.count - 2] == 0x0D && out[out.count - 1] == 0x0A) { out += [0x0D, 0x0A] }
        out += Array(".\r\n".utf8)
        return out
    }
}
