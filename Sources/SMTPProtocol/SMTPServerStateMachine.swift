import NetAddress
/// The server side of one SMTP session as a plain value: bytes in, actions out.
///
/// It does its own framing (command lines, DATA, BDAT chunks), so every protocol rule,
/// including the smuggling and limit rules, is testable without sockets. The NIO
/// handler only feeds it bytes, performs the actions it returns, and reports back the
/// result of a delivery and of a TLS handshake.
public struct SMTPServerStateMachine: Sendable {
    public struct Configuration: Sendable {
        public var hostname: String
        public var limits: SMTPLimits
        public var tlsAvailable: Bool
        public var tlsRequired: Bool

        public init(hostname: String, limits: SMTPLimits = SMTPLimits(), tlsAvailable: Bool, tlsRequired: Bool = false) {
            self.hostname = hostname
            self.limits = limits
            self.tlsAvailable = tlsAvailable
            self.tlsRequired = tlsRequired
        }
    }

    public enum Action: Sendable, Equatable {
        case reply(SMTPReply)
        /// Start the TLS handshake now: the 220 has been queued before it.
        case startTLS
        /// Commit the transaction, then call `deliveryCompleted`. Input that arrives
        /// meanwhile is held, not processed.
        case deliver(SMTPTransaction)
        case close
    }

    enum Phase: Sendable, Equatable {
        case command
        case data
        case bdatChunk(remaining: Int, last: Bool, failure: SMTPReply?)
        case awaitingDelivery
        case closed
    }

    struct Transaction: Sendable {
        var reversePath: ReversePath
        var smtputf8: Bool
        var bodyType: String?
        var recipients: [SMTPRecipient] = []
        // BDAT state
        var chunks: [UInt8] = []
        var chunked = false
        var chunkChecker: ChunkChecker
        var chunkFailure: SMTPReply?
    }

    public var directory: RecipientDirectory
    public let configuration: Configuration
    public private(set) var tlsActive = false
    public private(set) var heloName: String?
    public private(set) var errorCount = 0
    var esmtp = false
    var phase: Phase = .command
    var transaction: Transaction?
    var dataDecoder: DataDecoder?
    var input: [UInt8] = []
    var discardingLongLine = false

    public init(configuration: Configuration, directory: RecipientDirectory) {
        self.configuration = configuration
        self.directory = directory
    }

    var limits: SMTPLimits { configuration.limits }

    public var isClosed: Bool { phase == .closed }
    /// Octets received but not yet processed (held while a delivery is pending).
    public var bufferedInputCount: Int { input.count }
    /// True between `.deliver` and `deliveryCompleted`.
    public var isAwaitingDelivery: Bool { phase == .awaitingDelivery }
    /// Commands seen, by verb, for the session's summary log line (as Postfix logs it).
    public private(set) var commandCounts: [String: Int] = [:]
    /// The last command line (printable, at most 120 characters), for log lines that
    /// say which command a reply refused.
    public private(set) var lastCommand = ""
    /// True while a message is being received: graceful shutdown lets these finish.
    public var isInTransaction: Bool {
        switch phase {
        case .data, .bdatChunk, .awaitingDelivery: return true
        case .command: return transaction?.chunked == true
        case .closed: return false
        }
    }

    /// The greeting.
    public func start() -> [Action] {
        [.reply(.greeting(configuration.hostname))]
    }

    /// Feeds received bytes and returns what to do, in order.
    public mutating func receive(_ bytes: UnsafeBufferPointer<UInt8>) -> [Action] {
        var actions: [Action] = []
        switch phase {
        case .closed:
            return []
        case .data where input.isEmpty:
            // Fast path: decode straight from the read buffer.
            guard var decoder = dataDecoder else { return [] }
            let (consumed, finished) = decoder.feed(bytes)
            dataDecoder = decoder
            if finished {
                finishData(&actions)
                if consumed < bytes.count {
                    input.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[consumed...]))
                }
                process(&actions)
            }
            return actions
        default:
            input.append(contentsOf: bytes)
            process(&actions)
            return actions
        }
    }

    public mutating func receive(_ bytes: [UInt8]) -> [Action] {
        bytes.withUnsafeBufferPointer { receive($0) }
    }

    /// The spool's answer for the transaction handed out with `.deliver`.
    public mutating func deliveryCompleted(_ result: DeliveryResult) -> [Action] {
        guard phase == .awaitingDelivery else { return [] }
        var actions: [Action] = []
        switch result {
        case .accepted(let queueID):
            actions.append(.reply(SMTPReply(250, "2.0.0", "Ok: queued as \(queueID)")))
        case .failed(let failure):
            reply(failure, &actions)
        }
        transaction = nil
        if phase == .awaitingDelivery { phase = .command }
        process(&actions)
        return actions
    }

    /// The session must end now (idle timeout, shutdown, too many sessions).
    public mutating func terminate(with reply: SMTPReply) -> [Action] {
        guard phase != .closed else { return [] }
        phase = .closed
        input = []
        return [.reply(reply), .close]
    }

    // MARK: - Processing

    mutating func process(_ actions: inout [Action]) {
        var start = 0
        defer {
            if start > 0 {
                if start >= input.count { input.removeAll(keepingCapacity: true) } else { input.removeFirst(start) }
            }
        }
        while start < input.count {
            switch phase {
            case .closed:
                input.removeAll()
                start = 0
                return
            case .awaitingDelivery:
                return
            case .data:
                guard var decoder = dataDecoder else {
                    phase = .command
                    continue
                }
                let (consumed, finished) = input.withUnsafeBufferPointer {
                    decoder.feed(UnsafeBufferPointer(rebasing: $0[start...]))
                }
                dataDecoder = decoder
                start += consumed
                if finished { finishData(&actions) }
            case .bdatChunk(let remaining, let last, let failure):
                let take = min(remaining, input.count - start)
                takeChunk(start, take, failure)
                start += take
                if take == remaining {
                    finishChunk(last: last, &actions)
                } else {
                    phase = .bdatChunk(remaining: remaining - take, last: last, failure: failure)
                }
            case .command:
                guard let lf = input[start...].firstIndex(of: 0x0A) else {
                    if input.count - start >= limits.commandLineLength {
                        if !discardingLongLine {
                            discardingLongLine = true
                            reply(.lineTooLong, &actions)
                        }
                        start = input.count
                    }
                    return
                }
                let lineStart = start
                start = lf + 1
                if discardingLongLine {
                    discardingLongLine = false
                    continue
                }
                if start - lineStart > limits.commandLineLength {
                    reply(.lineTooLong, &actions)
                    continue
                }
                guard lf > lineStart, input[lf - 1] == 0x0D else {
                    reply(.bareLF, &actions)
                    continue
                }
                let content = input[lineStart..<(lf - 1)]
                if content.contains(0x0D) {
                    reply(.bareCR, &actions)
                    continue
                }
                let line = String(decoding: content, as: UTF8.self)
                if handle(line: line, &actions) {
                    // STARTTLS: anything pipelined after it is discarded (CVE-2011-0411).
                    start = input.count
                    return
                }
            }
        }
    }

    /// Returns true when the rest of the input must be discarded.
    /// The first 120 characters of a command line for the log, control characters as
    /// "?" (built as bytes: it runs for every command).
    static func printable(_ line: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(line.utf8.count, 128))
        for scalar in line.unicodeScalars.prefix(120) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out.append(UInt8(ascii: "?"))
            } else if scalar.isASCII {
                out.append(UInt8(scalar.value))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func handle(line: String, _ actions: inout [Action]) -> Bool {
        lastCommand = Self.printable(line)
        let command: SMTPCommand
        switch SMTPCommand.parse(Substring(line)) {
        case .success(let parsed):
            command = parsed
            commandCounts[parsed.verb, default: 0] += 1
        case .failure(let error):
            commandCounts["unknown", default: 0] += 1
            // BDAT with a bad size cannot be framed: the only safe reaction is to close.
            if line.uppercased().hasPrefix("BDAT") {
                reply(error.reply, &actions)
                if phase == .closed { return true }  // the error limit closed it already
                actions.append(.reply(SMTPReply(421, "4.5.0", "Cannot frame BDAT chunk, closing connection")))
                actions.append(.close)
                phase = .closed
                return true
            }
            reply(error.reply, &actions)
            return false
        }
        switch command {
        case .ehlo(let name), .helo(let name):
            let isEHLO: Bool
            if case .ehlo = command { isEHLO = true } else { isEHLO = false }
            heloName = name
            esmtp = isEHLO
            transaction = nil
            if isEHLO {
                var lines = ["\(configuration.hostname) greets \(name)"]
                lines.append("PIPELINING")
                lines.append("SIZE \(limits.messageSize)")
                lines.append("8BITMIME")
                lines.append("SMTPUTF8")
                lines.append("ENHANCEDSTATUSCODES")
                if configuration.tlsAvailable && !tlsActive { lines.append("STARTTLS") }
                lines.append("CHUNKING")
                actions.append(.reply(SMTPReply(250, nil, lines)))
            } else {
                actions.append(.reply(SMTPReply(250, nil, "\(configuration.hostname) greets \(name)")))
            }
        case .mail(let path, let parameters):
            guard heloName != nil else { return replyFalse(.needHelo, &actions) }
            if configuration.tlsRequired && !tlsActive { return replyFalse(.tlsRequired, &actions) }
            guard transaction == nil else { return replyFalse(.nestedMail, &actions) }
            var smtputf8 = false
            var bodyType: String?
            for parameter in parameters {
                switch parameter.keyword {
                case "SIZE":
                    guard let value = parameter.value, let size = Int(value), size >= 0 else {
                        return replyFalse(SMTPReply(501, "5.5.4", "Bad SIZE parameter"), &actions)
                    }
                    if size > limits.messageSize { return replyFalse(.messageTooBig, &actions) }
                case "BODY":
                    let value = parameter.value?.uppercased()
                    guard value == "7BIT" || value == "8BITMIME" else {
                        return replyFalse(SMTPReply(555, "5.5.4", "Unsupported BODY type"), &actions)
                    }
                    bodyType = value
                case "SMTPUTF8":
                    guard parameter.value == nil else {
                        return replyFalse(SMTPReply(501, "5.5.4", "SMTPUTF8 takes no value"), &actions)
                    }
                    smtputf8 = true
                default:
                    return replyFalse(.parameterNotSupported(parameter.keyword), &actions)
                }
            }
            transaction = Transaction(
                reversePath: path, smtputf8: smtputf8, bodyType: bodyType,
                chunkChecker: ChunkChecker(maxTextLine: limits.textLineLength))
            actions.append(.reply(.senderOK))
        case .rcpt(let address, let parameters):
            guard var current = transaction else { return replyFalse(.needMail, &actions) }
            if let first = parameters.first { return replyFalse(.parameterNotSupported(first.keyword), &actions) }
            if !address.isASCII && !current.smtputf8 {
                return replyFalse(SMTPCommandError.nonASCIIWithoutSMTPUTF8.reply, &actions)
            }
            if current.recipients.count >= limits.recipients {
                actions.append(.reply(.tooManyRecipients))
                return false
            }
            switch directory.resolve(address) {
            case .accept(let inboxID, let canonical, let tag):
                let recipient = SMTPRecipient(address: address, inboxID: inboxID, canonical: canonical, tag: tag)
                if !current.recipients.contains(where: { $0.address.canonical == address.canonical }) {
                    current.recipients.append(recipient)
                    transaction = current
                }
                actions.append(.reply(.recipientOK))
            case .unknownUser:
                reply(.unknownUser, &actions)
            case .relayDenied:
                reply(.relayDenied, &actions)
            }
        case .data:
            guard let transaction else { return replyFalse(.needMail, &actions) }
            guard !transaction.chunked else { return replyFalse(.badSequence, &actions) }
            guard !transaction.recipients.isEmpty else { return replyFalse(.noValidRecipients, &actions) }
            dataDecoder = DataDecoder(maxSize: limits.messageSize, maxTextLine: limits.textLineLength)
            phase = .data
            actions.append(.reply(.startData))
        case .bdat(let size, let last):
            var failure: SMTPReply?
            if var current = transaction {
                if current.recipients.isEmpty {
                    failure = .noValidRecipients
                } else if let earlier = current.chunkFailure {
                    failure = earlier
                } else if size < 0 || size > limits.messageSize - min(current.chunks.count, limits.messageSize) {
                    // Compared as a subtraction: `count + size` overflowed for a size
                    // near Int.max and killed the process (issue 10, row 1).
                    failure = .messageTooBig
                }
                current.chunked = true
                if current.chunkFailure == nil { current.chunkFailure = failure }
                if current.chunks.isEmpty && failure == nil {
                    current.chunks.reserveCapacity(min(size, limits.messageSize))
                }
                transaction = current
            } else {
                failure = .needMail
            }
            if size > limits.messageSize {
                // A chunk larger than any message we take cannot be skipped in step
                // with the client in reasonable time (up to 2^63 octets): refuse and close.
                transaction = nil
                actions.append(.reply(.messageTooBig))
                actions.append(.close)
                phase = .closed
                input.removeAll()
                return true
            }
            phase = .bdatChunk(remaining: size, last: last, failure: failure)
            if size == 0 { finishChunk(last: last, &actions) }
        case .rset:
            transaction = nil
            actions.append(.reply(.resetOK))
        case .noop:
            actions.append(.reply(.ok))
        case .quit:
            actions.append(.reply(.bye(configuration.hostname)))
            actions.append(.close)
            phase = .closed
            return true
        case .vrfy:
            actions.append(.reply(.cannotVerify))
        case .help:
            actions.append(
                .reply(
                    SMTPReply(
                        214, "2.0.0",
                        "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS")))
        case .startTLS:
            guard configuration.tlsAvailable else { return replyFalse(.tlsUnavailable, &actions) }
            guard !tlsActive else { return replyFalse(.tlsAlreadyActive, &actions) }
            guard transaction == nil else { return replyFalse(.badSequence, &actions) }
            actions.append(.reply(.readyForTLS))
            actions.append(.startTLS)
            // RFC 3207 4.2: forget everything learned before TLS.
            tlsActive = true
            heloName = nil
            esmtp = false
            return true
        }
        return false
    }

    mutating func replyFalse(_ r: SMTPReply, _ actions: inout [Action]) -> Bool {
        reply(r, &actions)
        return false
    }

    /// Appends a reply; counts permanent failures and closes after too many.
    mutating func reply(_ r: SMTPReply, _ actions: inout [Action]) {
        actions.append(.reply(r))
        guard r.isPermanentFailure, phase != .closed else { return }
        errorCount += 1
        if errorCount >= limits.errors {
            actions.append(.reply(.tooManyErrors))
            actions.append(.close)
            phase = .closed
            input.removeAll()
        }
    }

    mutating func finishData(_ actions: inout [Action]) {
        guard let decoder = dataDecoder else {
            phase = .command
            return
        }
        dataDecoder = nil
        if let refusal = decoder.refusal {
            transaction = nil
            phase = .command
            reply(refusal, &actions)
            return
        }
        deliver(body: decoder.body, chunked: false, &actions)
    }

    mutating func takeChunk(_ start: Int, _ count: Int, _ failure: SMTPReply?) {
        guard failure == nil, count > 0, var current = transaction else { return }
        transaction = nil  // keep `chunks` uniquely referenced while it grows
        input.withUnsafeBufferPointer { all in
            let slice = UnsafeBufferPointer(rebasing: all[start..<(start + count)])
            current.chunkChecker.check(slice)
            current.chunks.append(contentsOf: slice)
        }
        transaction = current
    }

    mutating func finishChunk(last: Bool, _ actions: inout [Action]) {
        guard case .bdatChunk(_, _, let failure) = phase else { return }
        phase = .command
        if let failure {
            if last { transaction = nil }
            reply(failure, &actions)
            return
        }
        guard let transaction else { return }
        if !last {
            actions.append(.reply(SMTPReply(250, "2.0.0", "\(transaction.chunks.count) octets received")))
            return
        }
        if let refusal = transaction.chunkChecker.refusal {
            self.transaction = nil
            reply(refusal, &actions)
            return
        }
        deliver(body: transaction.chunks, chunked: true, &actions)
    }

    mutating func deliver(body: [UInt8], chunked: Bool, _ actions: inout [Action]) {
        guard let transaction = self.transaction else {
            phase = .command
            return
        }
        var protocolName = esmtp ? "ESMTP" : "SMTP"
        if transaction.smtputf8 { protocolName = "UTF8SMTP" }
        if tlsActive { protocolName += "S" }
        actions.append(
            .deliver(
                SMTPTransaction(
                    reversePath: transaction.reversePath, recipients: transaction.recipients,
                    body: body, heloName: heloName ?? "", protocolName: protocolName,
                    tls: tlsActive, smtputf8: transaction.smtputf8, bodyType: transaction.bodyType,
                    chunked: chunked)))
        phase = .awaitingDelivery
    }
}
