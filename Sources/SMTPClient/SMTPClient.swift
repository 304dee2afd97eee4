import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol
import TransportSupport
import NIOConcurrencyHelpers

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

/// The result for one recipient, as a typed reply until it is recorded: the server's
/// own answer, or (when no server answered: connection, timeout, DNS) one of ours with
/// an RFC 3463 code saying why.
public enum RecipientOutcome: Sendable, Equatable {
    case delivered(SMTPReply)
    case temporaryFailure(SMTPReply)
    case permanentFailure(SMTPReply)

    public var reply: SMTPReply {
        switch self {
        case .delivered(let reply), .temporaryFailure(let reply), .permanentFailure(let reply): reply
        }
    }

    /// The server's failure answer as an outcome: 5xx permanent, 4xx temporary.
    public static func failure(_ reply: SMTPReply) -> RecipientOutcome {
        reply.code >= 500 ? .permanentFailure(reply) : .temporaryFailure(reply)
    }
}

/// Why a session ended early, with the reply code and RFC 3463 status its recipients'
/// outcomes carry.
public struct SMTPClientError: Error, CustomStringConvertible {
    public var message: String
    public var permanent: Bool
    public var code: Int
    public var status: String

    public init(message: String, permanent: Bool, code: Int? = nil, status: String? = nil) {
        self.message = message
        self.permanent = permanent
        self.code = code ?? (permanent ? 554 : 451)
        self.status = status ?? (permanent ? "5.0.0" : "4.0.0")
    }

    public var description: String { message }
    public var reply: SMTPReply { SMTPReply(code, status, message) }
}

/// How long the client waits at each step (RFC 5321 4.5.3.2). A server that stops
/// answering costs at most these, never a worker forever.
public struct SMTPClientTimeouts: Sendable, Equatable {
    public var connect: TimeAmount = .seconds(30)
    public var greeting: TimeAmount = .minutes(5)
    /// EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET.
    public var command: TimeAmount = .minutes(5)
    public var dataInitiation: TimeAmount = .minutes(2)
    /// Sending one block of the message (the peer must keep reading).
    public var dataBlock: TimeAmount = .minutes(3)
    public var dataTermination: TimeAmount = .minutes(10)

    public init() {}


}

/// Delivers one message to a relay: EHLO, STARTTLS when offered (or required),
/// AUTH PLAIN/LOGIN, MAIL with SIZE/SMTPUTF8 when offered, RCPT per recipient (all
/// pipelined when the server offers PIPELINING), DATA with dot-stuffing.
public struct SMTPClient: Sendable {
    let group: any EventLoopGroup
    let heloName: String
    let logger: Logger
    let timeouts: SMTPClientTimeouts

    public init(
        heloName: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeouts: SMTPClientTimeouts = SMTPClientTimeouts(),
        logger: Logger
    ) {
        self.heloName = heloName
        self.group = group
        self.logger = logger
        self.timeouts = timeouts
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

    /// Called as soon as the server has answered for one transaction (index, outcomes),
    /// so the caller can record it before the next message: after a crash, only the
    /// message in flight is sent again.
    public typealias OutcomeHandler = @Sendable (Int, [String: RecipientOutcome]) async -> Void

    public func deliver(from: String, recipients: [String], data: [UInt8], via relay: SMTPRelay) async -> [String: RecipientOutcome] {
        await deliver([Transaction(from: from, recipients: recipients, data: data)], via: relay)[0]
    }

    /// Several messages over one connection (RSET between them when one fails), so a
    /// burst of replies to one destination costs one TCP and TLS handshake.
    public func deliver(
        _ transactions: [Transaction], via relay: SMTPRelay, onOutcome: OutcomeHandler? = nil
    ) async -> [[String: RecipientOutcome]] {
        var results: [[String: RecipientOutcome]] = Array(repeating: [:], count: transactions.count)
        do {
            try Self.validate(transactions, heloName: heloName)
            try await session(transactions, relay: relay, results: &results, onOutcome: onOutcome)
        } catch {
            let failure = (error as? SMTPClientError)
                ?? SMTPClientError(message: "\(relay.host):\(relay.port): \(Self.describe(error))", permanent: false, status: "4.4.1")
            let outcome: RecipientOutcome = failure.permanent ? .permanentFailure(failure.reply) : .temporaryFailure(failure.reply)
            // Whatever has no outcome yet shares the session's failure.
            for (i, t) in transactions.enumerated() {
                var fresh: [String: RecipientOutcome] = [:]
                for r in t.recipients where results[i][r] == nil {
                    fresh[r] = outcome
                }
                guard !fresh.isEmpty else { continue }
                results[i].merge(fresh) { a, _ in a }
                await onOutcome?(i, fresh)
            }
        }
        return results
    }

    /// Defence in depth: no argument of a command may end it early. The API already
    /// refuses such addresses; this makes sure nothing else can smuggle one through.
    static func validate(_ transactions: [Transaction], heloName: String) throws {
        func check(_ text: String, _ what: String) throws {
            guard !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: " ") }) else {
                throw SMTPClientError(message: "refusing to send: \(what) '\(text.debugDescription)' holds a control character, space or angle bracket", permanent: true)
            }
        }
        try check(heloName, "the HELO name")
        for t in transactions {
            try check(t.from, "the reverse path")
            for r in t.recipients { try check(r, "the recipient") }
        }
    }

    /// A connection error in words (NIO's own types print their internals).
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Connection refused") { return "connection refused" }
        if text.contains("connectTimeout") || text.contains("Connect timeout") { return "connection timed out" }
        if text.contains("Connection reset") { return "connection reset" }
        return String(text.prefix(200))
    }

    func tlsHandler(_ relay: SMTPRelay) throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if !relay.verifyCertificate { configuration.certificateVerification = .none }
        let context = try NIOSSLContext(configuration: configuration)
        return try NIOSSLClientHandler(context: context, serverHostname: relay.verifyCertificate ? relay.host : nil)
    }

    /// Which wait a reply answers, for its timeout and the error text.
    enum Step {
        case greeting, command(String), dataInitiation, dataTermination

        init(_ wait: SMTPClientStateMachine.Wait) {
            switch wait {
            case .greeting: self = .greeting
            case .command(let verb): self = .command(verb)
            case .dataInitiation: self = .dataInitiation
            case .dataTermination: self = .dataTermination
            case .nothing: self = .command("nothing")
            }
        }

        var name: String {
            switch self {
            case .greeting: return "the greeting"
            case .command(let verb): return "the reply to \(verb)"
            case .dataInitiation: return "the 354 after DATA"
            case .dataTermination: return "the reply to the final dot"
            }
        }
    }

    func limit(_ step: Step) -> TimeAmount {
        switch step {
        case .greeting: return timeouts.greeting
        case .command: return timeouts.command
        case .dataInitiation: return timeouts.dataInitiation
        case .dataTermination: return timeouts.dataTermination
        }
    }

    /// What a session learnt about the server: the EHLO keywords last offered, and
    /// whether the connection was encrypted and authenticated.
    struct SessionFacts {
        var keywords: Set<String> = []
        var tls = false
        var authenticated = false
    }

    @discardableResult
    func session(
        _ transactions: [Transaction], relay: SMTPRelay, results: inout [[String: RecipientOutcome]], onOutcome: OutcomeHandler?
    ) async throws -> SessionFacts {
        guard (1...65535).contains(relay.port) else {
            throw SMTPClientError(message: "\(relay.host): port \(relay.port) is not 1-65535", permanent: false)
        }
        let implicitTLS = relay.security == .implicit
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeouts.connect)
            .connect(host: relay.host, port: relay.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS { try channel.pipeline.syncOperations.addHandler(try self.tlsHandler(relay)) }
                    try channel.pipeline.syncOperations.addHandler(StartTLSFence.smtp())
                    return try (channel, NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel))
                }
            }
        let (rawChannel, asyncChannel) = channel
        let where_ = "\(relay.host):\(relay.port)"
        let timeouts = self.timeouts
        // Outcomes are written into `results` as they come, so a connection lost half-way
        // keeps what was already delivered (and it is not sent again).
        return try await asyncChannel.executeThenClose { inbound, outbound in
            var facts = SessionFacts(tls: implicitTLS)
            var iterator = inbound.makeAsyncIterator()
            var parser = SMTPReplyParser()
            var pending: [SMTPReply] = []

            /// Runs `body`, closing the connection if it takes longer than `limit`.
            func bounded<T>(_ limit: TimeAmount, _ what: String, _ body: () async throws -> T) async throws -> T {
                let expired = NIOLockedValueBox(false)
                let timer = rawChannel.eventLoop.scheduleTask(in: limit) {
                    expired.withLockedValue { $0 = true }
                    rawChannel.close(promise: nil)
                }
                defer { timer.cancel() }
                do {
                    return try await body()
                } catch {
                    if expired.withLockedValue({ $0 }) {
                        throw SMTPClientError(message: "\(where_) timed out after \(limit.nanoseconds / 1_000_000_000) s waiting for \(what)", permanent: false, status: "4.4.2")
                    }
                    throw error
                }
            }
            func next(_ step: Step) async throws -> SMTPReply {
                try await bounded(limit(step), step.name) {
                    while pending.isEmpty {
                        guard let buffer = try await iterator.next() else {
                            throw SMTPClientError(message: "\(where_) closed the connection", permanent: false, status: "4.4.2")
                        }
                        do {
                            pending += try parser.feed(buffer.readableBytesView)
                        } catch {
                            throw SMTPClientError(message: "\(where_) sent a malformed reply (\(error))", permanent: false, status: "4.5.0")
                        }
                    }
                    return pending.removeFirst()
                }
            }
            func send(_ text: String) async throws {
                try await bounded(timeouts.command, "the server to read a command") { try await outbound.write(ByteBuffer(string: text)) }
            }

            // The session's decisions are the state machine's; this loop only moves bytes.
            var machine = SMTPClientStateMachine(
                envelopes: transactions.map { .init(from: $0.from, recipients: $0.recipients, size: $0.data.count, eightBit: $0.data.contains { $0 >= 0x80 }) },
                heloName: heloName, security: relay.security,
                credentials: relay.username.flatMap { user in relay.password.map { (user, $0) } }, host: relay.host)
            while !machine.isFinished {
                var actions = try machine.received(try await next(Step(machine.waiting)))
                while !actions.isEmpty {
                    switch actions.removeFirst() {
                    case .send(let text):
                        try await send(text)
                    case .sendStartTLS:
                        // Nothing may be waiting before STARTTLS is sent: a server (or a man
                        // in the middle) that sent more than the EHLO answer is not trusted.
                        guard pending.isEmpty, parser.bufferedCount == 0 else {
                            throw SMTPClientError(message: "\(where_) sent data after its EHLO answer, before STARTTLS; not trusted", permanent: false)
                        }
                        try await StartTLSFence.arm(rawChannel)
                        try await send("STARTTLS\r\n")
                    case .handshake:
                        // RFC 3207 5: nothing the server sent before the handshake counts.
                        let injected = pending.count + parser.bufferedCount
                        pending = []
                        parser = SMTPReplyParser()
                        let dropped = try await StartTLSFence.secure(rawChannel) { try self.tlsHandler(relay) }
                        if injected + dropped > 0 {
                            logger.warning("\(where_) sent data after its STARTTLS reply, before TLS; discarded")
                        }
                        facts.tls = true
                        actions += machine.tlsEstablished()
                    case .sendMessage(let index):
                        // In blocks, each bounded: a peer that stops reading cannot hold us.
                        let stuffed = Self.dotStuffed(transactions[index].data)
                        var offset = 0
                        while offset < stuffed.count {
                            let end = min(offset + 64 * 1024, stuffed.count)
                            let block = ByteBuffer(bytes: stuffed[offset..<end])
                            try await bounded(timeouts.dataBlock, "the server to read the message") { try await outbound.write(block) }
                            offset = end
                        }
                    case .outcome(let index, let outcomes):
                        results[index] = outcomes
                        await onOutcome?(index, outcomes)
                    case .quit:
                        try? await send("QUIT\r\n")
                        _ = try? await next(.command("QUIT"))
                    }
                }
            }
            facts.keywords = machine.keywords
            facts.authenticated = relay.username != nil && relay.password != nil
            return facts
        }
    }

    /// What `probe` found: whether the relay takes a session as configured (connect,
    /// greeting, EHLO, TLS, AUTH), and what it offers.
    public struct RelayProbe: Sendable, Codable, Equatable {
        public var ok: Bool
        public var relay: String
        public var security: String
        public var tls: Bool
        public var authenticated: Bool
        /// EHLO keywords, as offered after TLS when there was TLS.
        public var capabilities: [String]
        /// What went wrong, with the server's reply when it gave one; nil when ok.
        public var error: String?
    }

    /// Opens a session to the relay exactly as a delivery would (TLS, certificate check,
    /// AUTH), sends no message and says QUIT: the relay test of `postroom relay test`
    /// and `postroom doctor`.
    public func probe(_ relay: SMTPRelay) async -> RelayProbe {
        var report = RelayProbe(
            ok: false, relay: "\(relay.host):\(relay.port)", security: relay.security.rawValue, tls: false, authenticated: false, capabilities: [], error: nil)
        var results: [[String: RecipientOutcome]] = []
        do {
            let facts = try await session([], relay: relay, results: &results, onOutcome: nil)
            report.ok = true
            report.tls = facts.tls
            report.authenticated = facts.authenticated
            report.capabilities = facts.keywords.sorted()
        } catch let error as SMTPClientError {
            report.error = error.message
        } catch {
            report.error = "\(relay.host):\(relay.port): \(Self.describe(error))"
        }
        return report
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

extension TimeAmount {
    /// Seconds from configuration (already checked finite and bounded by Settings).
    public static func fromSeconds(_ s: Double) -> TimeAmount {
        .milliseconds(Int64((min(max(s, 0), 100 * 365 * 86400) * 1000).rounded()))
    }
}
