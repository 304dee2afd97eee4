import Foundation
import IMAPProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import TransportSupport

/// Where a connected mailbox lives and how to log in.
public struct IMAPAccount: Sendable, Equatable {
    public enum Security: String, Sendable, Equatable {
        /// TLS from the first byte (port 993).
        case implicit
        /// STARTTLS required before LOGIN.
        case starttls
        /// No TLS: only to a loopback address (tests, a local Dovecot).
        case plain
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var user: String
    public var password: String
    public var folder: String
    /// PEM file of CA certificates trusted besides the system's.
    public var caFile: String?
    /// Seconds of silence, while an answer is due, after which the connection is taken
    /// for dead (a NAT or firewall that dropped it without a word).
    public var timeout: Double

    public init(
        host: String, port: Int, security: Security, user: String, password: String, folder: String = "INBOX",
        caFile: String? = nil, timeout: Double = 300
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.folder = folder
        self.caFile = caFile
        self.timeout = timeout
    }

    /// Certificates are checked except on loopback (a local test server with a
    /// self-signed pair), and there too once a CA file is given.
    public var verifyCertificate: Bool { caFile != nil || !isLoopback }

    /// `imap://user:password@host:port/Folder` (plain or STARTTLS) or `imaps://...`.
    /// A password left out of the URL comes from `password`.
    public init(url text: String, password fallback: String? = nil, caFile: String? = nil, timeout: Double = 300) throws {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), ["imap", "imaps"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { throw IMAPClientError.configuration("expected imap://user@host[:port][/folder] or imaps://..., got \(text)") }
        guard let user = url.user, !user.isEmpty else { throw IMAPClientError.configuration("\(text) names no user") }
        guard let password = url.password ?? fallback else {
            throw IMAPClientError.configuration("no password for \(user) (put it in the URL or in POSTROOM_IMAP_PASSWORD)")
        }
        let loopback = IMAPHost.isLoopback(host)
        let security: Security = scheme == "imaps" ? .implicit : (loopback ? .plain : .starttls)
        var folder = url.path
        if folder.hasPrefix("/") { folder.removeFirst() }
        self.init(
            host: host, port: url.port ?? (scheme == "imaps" ? 993 : 143), security: security, user: user, password: password,
            folder: folder.isEmpty ? "INBOX" : folder, caFile: caFile, timeout: timeout)
    }

    var isLoopback: Bool { IMAPHost.isLoopback(host) }
}

public enum IMAPClientError: Error, Equatable, Sendable, CustomStringConvertible {
    case configuration(String)
    case connection(String)
    /// The server answered NO or BAD: the command and its text (never the password).
    case refused(command: String, text: String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .configuration(let s): return s
        case .connection(let s): return s
        case .refused(let command, let text): return "\(command) refused: \(text)"
        case .protocolError(let s): return "IMAP protocol error: \(s)"
        }
    }
}

/// What SELECT said about the folder.
public struct IMAPFolderState: Sendable, Equatable {
    public var uidValidity: UInt32
    public var uidNext: UInt32?
    public var exists: UInt32
    /// With CONDSTORE (RFC 7162): grows with every change in the folder.
    public var highestModSeq: UInt64?
}

/// An IMAP4rev1 client over SwiftNIO: one connection, commands in turn. The parsing is
/// IMAPProtocol's; this type only moves bytes and keeps the tag counter.
public struct IMAPClient: Sendable {
    let group: EventLoopGroup

    public init(group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) { self.group = group }

    /// Logs in, selects the account's folder and runs `body` with the open session.
    public func withSession<T: Sendable>(_ account: IMAPAccount, _ body: (IMAPSession, IMAPFolderState) async throws -> T) async throws -> T {
        if account.security == .plain && !account.isLoopback {
            throw IMAPClientError.configuration("plain IMAP (no TLS) is allowed only to a loopback address, not \(account.host)")
        }
        guard IMAPHost.isValidPort(account.port) else { throw IMAPClientError.configuration("port must be 1-65535, not \(account.port)") }
        let silence = NIOLockedValueBox(SilenceWatchdog.State())
        let (rawChannel, channel) = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(20))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .connect(host: account.host, port: account.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if account.security == .implicit { try sync.addHandler(try Self.tlsHandler(account)) }
                    try sync.addHandler(StartTLSFence.imap())
                    let timeout = TimeAmount.milliseconds(Int64(account.timeout * 1000))
                    try sync.addHandler(IdleStateHandler(readTimeout: timeout))
                    try sync.addHandler(SilenceWatchdog(silence, timeout: timeout))
                    return try (channel, NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel))
                }
            }
        if account.security == .plain, !IMAPHost.isLoopbackAddress(rawChannel.remoteAddress?.ipAddress ?? "") {
            // The name resolved somewhere else: no password crosses the network in clear.
            try? await rawChannel.close()
            throw IMAPClientError.configuration("plain IMAP (no TLS) is allowed only to a loopback address; \(account.host) is \(rawChannel.remoteAddress?.ipAddress ?? "unknown")")
        }
        do {
            return try await converse(account, rawChannel, channel, silence, body)
        } catch let error where String(reflecting: type(of: error)).hasPrefix("NIOSSL.") {
            throw Self.tlsFailure(error, account)
        }
    }

    /// TLS errors as a person can act on them (BoringSSL's own text stays at the end).
    static func tlsFailure(_ error: Error, _ account: IMAPAccount) -> IMAPClientError {
        let text = "\(error)"
        let place = "\(account.host):\(account.port)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return .connection("TLS with \(place): the server's certificate is not trusted (for a private CA, set mailboxes.ca-file) [\(text)]")
        }
        if text.contains("failedToValidateHostname") {
            return .connection("TLS with \(place): the certificate is not for \(account.host) [\(text)]")
        }
        return .connection("TLS with \(place) failed: \(text)")
    }

    private func converse<T: Sendable>(
        _ account: IMAPAccount, _ rawChannel: Channel, _ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
        _ silence: NIOLockedValueBox<SilenceWatchdog.State>, _ body: (IMAPSession, IMAPFolderState) async throws -> T
    ) async throws -> T {
        try await channel.executeThenClose { inbound, outbound in
            let session = IMAPSession(
                inbound: inbound, outbound: outbound, channel: rawChannel, where: "\(account.host):\(account.port)", silence: silence,
                timeout: account.timeout)
            guard let greeting = try await session.nextResponse() else { throw IMAPClientError.connection("no greeting") }
            if case .untagged(.status(.bye, _, let text)) = greeting { throw IMAPClientError.connection("server said BYE: \(text)") }
            try await session.run([.raw("CAPABILITY")])
            if account.security == .starttls {
                guard session.capabilities.contains("STARTTLS") else {
                    throw IMAPClientError.connection("\(account.host) does not offer STARTTLS, which this mailbox requires")
                }
                // RFC 2595 3.1: whatever follows the server's OK before the handshake is
                // discarded, never read as if it came inside TLS.
                guard session.parser.buffered == 0 else {
                    throw IMAPClientError.protocolError("\(account.host) sent data after its CAPABILITY answer, before STARTTLS; not trusted")
                }
                try await StartTLSFence.arm(rawChannel, isFinalLine: StartTLSFence.imapTagged("p\(session.counter + 1)"))
                try await session.run([.raw("STARTTLS")])
                session.parser = IMAPResponseParser()
                try await StartTLSFence.secure(rawChannel) { try Self.tlsHandler(account) }
                try await session.run([.raw("CAPABILITY")])  // capabilities from before TLS are not to be trusted
            }
            session.sawCapabilitiesAfterLogin = false
            if session.capabilities.contains("AUTH=PLAIN") && session.capabilities.contains("SASL-IR") {
                // RFC 4616 with the initial response (RFC 4959): one round trip, any octets in the password.
                let token = Data([0] + Array(account.user.utf8) + [0] + Array(account.password.utf8)).base64EncodedString()
                try await session.run([.raw("AUTHENTICATE PLAIN"), .raw(token)], secret: true)
            } else if session.capabilities.contains("LOGINDISABLED") {
                throw IMAPClientError.connection("\(account.host) refuses LOGIN here (LOGINDISABLED) and offers no AUTH=PLAIN with SASL-IR")
            } else {
                try await session.run([.raw("LOGIN"), .string(account.user), .string(account.password)], secret: true)
            }
            // Capabilities grow after login (CONDSTORE, UIDPLUS...): read them again.
            if !session.sawCapabilitiesAfterLogin { try await session.run([.raw("CAPABILITY")]) }
            let state = try await session.select(account.folder)
            let result = try await body(session, state)
            _ = try? await session.run([.raw("LOGOUT")])
            return result
        }
    }

    static func tlsHandler(_ account: IMAPAccount) throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if !account.verifyCertificate { configuration.certificateVerification = .none }
        if let caFile = account.caFile { configuration.additionalTrustRoots = [.file(caFile)] }
        // SNI carries names only; an address is checked against the certificate's IP entries.
        let name = account.verifyCertificate && !IMAPHost.isAddressLiteral(account.host) ? account.host : nil
        return try NIOSSLClientHandler(context: try NIOSSLContext(configuration: configuration), serverHostname: name)
    }
}

/// One logged-in connection. Not shared between tasks: commands run one after another.
public final class IMAPSession {
    /// UIDs one search may name (a mailbox of ten million messages is far past any real one).
    public static let maxSearchResults = 10_000_000
    /// Literal octets one command may make us hold: the largest literal plus a batch.
    public static let maxLiteralOctetsPerCommand = (1 << 30) + (64 << 20)
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var parser = IMAPResponseParser()
    var counter = 0
    let location: String
    let channel: Channel
    public private(set) var capabilities: Set<String> = [] { didSet { sawCapabilitiesAfterLogin = true } }
    let silence: NIOLockedValueBox<SilenceWatchdog.State>
    let timeout: Double
    /// Reset before login; set when a response carries capabilities.
    var sawCapabilitiesAfterLogin = false

    init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: Channel, where location: String,
        silence: NIOLockedValueBox<SilenceWatchdog.State>, timeout: Double
    ) {
        iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.channel = channel
        self.location = location
        self.silence = silence
        self.timeout = timeout
    }

    public var supportsIdle: Bool { capabilities.contains("IDLE") }

    /// IDLE (RFC 2177) until the server reports new mail or `maxWait` passes (keep it
    /// under the 29 minutes after which servers may drop an idle client). Returns
    /// whether the server announced mail (EXISTS or RECENT).
    public func idle(maxWait: TimeAmount) async throws -> Bool {
        counter += 1
        let tag = "p\(counter)"
        try await outbound.write(ByteBuffer(string: "\(tag) IDLE\r\n"))
        while true {
            guard let r = try await nextResponse() else { throw IMAPClientError.connection("\(location) closed the connection during IDLE") }
            if case .continuation = r { break }
            if case .tagged(_, _, _, let text) = r { throw IMAPClientError.refused(command: "\(tag) IDLE", text: text) }
        }
        // Silence is what IDLE is for: the watchdog rests until DONE is written.
        silence.withLockedValue { $0.idling = true }
        defer { silence.withLockedValue { $0.idling = false } }
        // DONE is written once: by the timer, or on the first sign of new mail.
        let done = NIOLockedValueBox(false)
        let channel = self.channel
        let silence = self.silence
        @Sendable func finish() {
            let first = done.withLockedValue { sent -> Bool in
                defer { sent = true }
                return !sent
            }
            if first {
                silence.withLockedValue { $0.idling = false }  // the answer to DONE is due now
                channel.writeAndFlush(ByteBuffer(string: "DONE\r\n"), promise: nil)
            }
        }
        let timer = channel.eventLoop.scheduleTask(in: maxWait) { finish() }
        defer { timer.cancel() }
        // Cancelling the task (shutdown, mailbox removed) closes the connection, which
        // ends the wait at once.
        return try await withTaskCancellationHandler {
            try await idleWait(tag, finish)
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    private func idleWait(_ tag: String, _ finish: () -> Void) async throws -> Bool {
        var announced = false
        while true {
            guard let r = try await nextResponse() else { throw IMAPClientError.connection("\(location) closed the connection during IDLE") }
            switch r {
            case .untagged(.exists), .untagged(.recent):
                announced = true
                finish()
            case .untagged(.status(.bye, _, let text)):
                throw IMAPClientError.connection("\(location) said BYE: \(text)")
            case .tagged(let t, let status, _, let text):
                guard t == tag else { throw IMAPClientError.protocolError("answer for tag \(t) while waiting for \(tag)") }
                guard status == .ok else { throw IMAPClientError.refused(command: "\(tag) IDLE", text: text) }
                return announced
            default:
                continue
            }
        }
    }

    func nextResponse() async throws -> IMAPResponse? {
        while true {
            if let r = try parser.next() { return r }
            guard let buffer = try await iterator.next() else {
                if silence.withLockedValue({ $0.timedOut }) {
                    throw IMAPClientError.connection("\(location) sent nothing for \(Int(timeout)) s while an answer was due; connection dropped")
                }
                return nil
            }
            parser.feed(buffer.readableBytesView)
        }
    }

    /// Sends a command and collects the untagged data until its tagged answer.
    @discardableResult
    public func run(_ words: [IMAPCommand.Argument], secret: Bool = false, maxUntagged: Int = 10_000) async throws -> [IMAPUntagged] {
        counter += 1
        let command = IMAPCommand(tag: "p\(counter)", words, literalPlus: capabilities.contains("LITERAL+"), secret: secret)
        var untagged: [IMAPUntagged] = []
        parser.literalOctets = 0
        parser.maxLiteralOctets = Self.maxLiteralOctetsPerCommand
        /// What one command may make us hold, whatever the server sends unasked.
        func held(_ u: IMAPUntagged) throws {
            untagged.append(u)
            guard untagged.count <= maxUntagged else {
                throw IMAPClientError.protocolError("more than \(maxUntagged) untagged responses to \(command.logLine)")
            }
            guard parser.literalOctets <= Self.maxLiteralOctetsPerCommand else {
                throw IMAPClientError.protocolError("more than \(Self.maxLiteralOctetsPerCommand) literal octets in answer to \(command.logLine)")
            }
        }
        for (i, part) in command.parts.enumerated() {
            try await outbound.write(ByteBuffer(bytes: part))
            if i < command.parts.count - 1 {
                // Wait for "+" before the literal.
                while true {
                    guard let r = try await nextResponse() else { throw IMAPClientError.connection("\(location) closed the connection") }
                    if case .continuation = r { break }
                    if case .tagged(_, _, _, let text) = r { throw IMAPClientError.refused(command: command.logLine, text: text) }
                    if case .untagged(let u) = r { try held(u) }
                }
            }
        }
        while true {
            guard let r = try await nextResponse() else { throw IMAPClientError.connection("\(location) closed the connection during \(command.logLine)") }
            switch r {
            case .untagged(let u):
                if case .capability(let caps) = u { capabilities = Set(caps) }
                if case .status(_, .capability(let caps)?, _) = u { capabilities = Set(caps) }
                if case .status(.bye, _, let text) = u, !command.logLine.hasSuffix("LOGOUT") {
                    throw IMAPClientError.connection("\(location) said BYE: \(text)")
                }
                try held(u)
            case .tagged(let tag, let status, let code, let text):
                guard tag == command.tag else { throw IMAPClientError.protocolError("answer for tag \(tag) while waiting for \(command.tag)") }
                if case .capability(let caps)? = code { capabilities = Set(caps) }
                guard status == .ok else { throw IMAPClientError.refused(command: command.logLine, text: text) }
                return untagged
            case .continuation:
                throw IMAPClientError.protocolError("unexpected continuation during \(command.logLine)")
            }
        }
    }

    func select(_ folder: String) async throws -> IMAPFolderState {
        var validity: UInt32?
        var next: UInt32?
        var exists: UInt32 = 0
        var modSeq: UInt64?
        // EXAMINE: read-only, so even a server bug cannot change the customer's flags.
        let condstore = capabilities.contains("CONDSTORE")
        for u in try await run([.raw("EXAMINE"), .string(folder)] + (condstore ? [.raw("(CONDSTORE)")] : [])) {
            switch u {
            case .status(_, .uidValidity(let v)?, _): validity = v
            case .status(_, .uidNext(let n)?, _): next = n
            case .status(_, .highestModSeq(let m)?, _): modSeq = m
            case .exists(let n): exists = n
            default: break
            }
        }
        guard let validity else { throw IMAPClientError.protocolError("EXAMINE \(folder) gave no UIDVALIDITY") }
        return IMAPFolderState(uidValidity: validity, uidNext: next, exists: exists, highestModSeq: modSeq)
    }

    /// UIDs above `after`, ascending. `UID n:*` also returns the newest message when n is
    /// past every UID, so the result is filtered.
    /// With ESEARCH (RFC 4731) the answer is ranges ("1:9000") rather than every UID.
    public func uids(after: UInt32 = 0) async throws -> [UInt32] {
        guard after < UInt32.max else { return [] }  // no UID can follow the last one
        var found: [UInt32] = []
        let esearch = capabilities.contains("ESEARCH")
        for u in try await run([.raw(esearch ? "UID SEARCH RETURN (ALL) UID \(after + 1):*" : "UID SEARCH UID \(after + 1):*")]) {
            if case .search(let list) = u { found += list }
            if case .esearch(let all, _) = u, let all {
                // `1:4294967295` is a few bytes that would expand to 16 GB.
                guard let values = all.values(limit: Self.maxSearchResults - min(found.count, Self.maxSearchResults)) else {
                    throw IMAPClientError.protocolError("the server's search named more than \(Self.maxSearchResults) UIDs (\(all.count))")
                }
                found += values
            }
            guard found.count <= Self.maxSearchResults else {
                throw IMAPClientError.protocolError("the server's search named more than \(Self.maxSearchResults) UIDs")
            }
        }
        return found.filter { $0 > after }.sorted()
    }

    /// RFC822.SIZE of each UID in one round trip, so fetches can be grouped by bytes.
    public func sizes(_ uids: [UInt32]) async throws -> [UInt32: UInt64] {
        guard !uids.isEmpty else { return [:] }
        var sizes: [UInt32: UInt64] = [:]
        for u in try await run([.raw("UID FETCH \(IMAPSequenceSet.describe(uids)) (UID RFC822.SIZE)")], maxUntagged: uids.count * 2 + 1000) {
            if case .fetch(_, let f) = u, let uid = f.uid, let size = f.size { sizes[uid] = size }
        }
        return sizes
    }

    /// Fetches whole messages with BODY.PEEK[] (the customer's mail stays unread), in
    /// batches of at most `maxCount` messages and `maxBytes` octets (one bigger message
    /// is a batch of its own), handing each batch to `handle` in UID order with the
    /// highest UID it covers: a UID the server no longer has (expunged meanwhile) is
    /// covered without a message.
    ///
    /// While one batch is handled (stored), the next is fetched: batches are handled
    /// one at a time and in order, so a checkpoint written per batch stays exact, and
    /// at most two batches are in memory. Returns the sum of what `handle` returned.
    public func fetchBatches(
        _ uids: [UInt32], maxCount: Int = 50, maxBytes: UInt64 = 16 << 20,
        _ handle: @escaping @Sendable (_ messages: [(uid: UInt32, raw: [UInt8])], _ through: UInt32) async throws -> Int
    ) async throws -> Int {
        let plan = IMAPFetchPlan.batches(uids, sizes: try await sizes(uids), maxCount: maxCount, maxBytes: maxBytes)
        var handling: Task<Int, Error>?
        var total = 0
        do {
            for slice in plan {
                var got: [(uid: UInt32, raw: [UInt8])] = []
                for u in try await run([.raw("UID FETCH \(IMAPSequenceSet.describe(slice)) (UID BODY.PEEK[])")], maxUntagged: slice.count * 2 + 1000) {
                    if case .fetch(_, let f) = u, let uid = f.uid, let body = f.body, slice.contains(uid) { got.append((uid, body)) }
                }
                let batch = got.sorted { $0.uid < $1.uid }
                guard let through = slice.last else { continue }
                if let handling { total += try await handling.value }
                handling = Task { try await handle(batch, through) }
            }
            if let handling { total += try await handling.value }
        } catch {
            _ = try? await handling?.value  // never leave a store running behind the caller's back
            throw error
        }
        return total
    }
}

/// Closes a connection that has sent nothing for the account's timeout while an answer
/// is due, so a connection dropped without a word (a NAT that forgot it) becomes an
/// error and a reconnect instead of a wait without end. The clock starts at the later of
/// the last read and the last write (an answer is due only after a command); during
/// IDLE silence is normal and the watchdog rests.
final class SilenceWatchdog: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct State: Sendable {
        var idling = false
        var timedOut = false
    }

    let state: NIOLockedValueBox<State>
    let timeout: TimeAmount
    var lastWrite = NIODeadline.now()

    init(_ state: NIOLockedValueBox<State>, timeout: TimeAmount) {
        self.state = state
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastWrite = .now()
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            guard NIODeadline.now() - lastWrite >= timeout else { return }
            let dead = state.withLockedValue { s -> Bool in
                if !s.idling { s.timedOut = true }
                return !s.idling
            }
            if dead { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
