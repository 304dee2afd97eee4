import Foundation
import GRDB

/// One message on its way into the store, whatever its channel (SMTP, a connected
/// mailbox, an import, our own replies and automatic mail; next chat, forms and
/// Messenger): the one value `Store.insertInbound`, the one writer of `message`,
/// takes. Received mail is stored spooled and filed by processing; mail of our own
/// arrives with what parsing would learn (`Composed`) and is stored processed.
public struct InboundMessage: Sendable {
    /// How it came in; stored as text (`smtp`, `imap:<mailbox id>`, `import`, `outbound`).
    public enum Channel: Sendable, Equatable {
        case smtp
        case imap(mailbox: Int64)
        case importFile
        case outbound

        public var stored: String {
            switch self {
            case .smtp: "smtp"
            case .imap(let mailbox): "imap:\(mailbox)"
            case .importFile: "import"
            case .outbound: "outbound"
            }
        }

        /// What `message.protocol` says for channels without an SMTP session.
        var protocolName: String {
            switch self {
            case .smtp: "SMTP"
            case .imap: "IMAP"
            case .importFile: "IMPORT"
            case .outbound: "API"
            }
        }
    }

    /// An envelope recipient and the inbox it reached.
    public struct Recipient: Sendable, Equatable {
        /// As the sender wrote it.
        public var address: String
        /// The inbox address it matched (`local@domain`, lower-cased, without the tag).
        public var canonical: String
        /// The `+tag` of a subaddress, as written.
        public var tag: String?
        public var inboxID: Int64

        public init(address: String, canonical: String, tag: String?, inboxID: Int64) {
            self.address = address
            self.canonical = canonical
            self.tag = tag
            self.inboxID = inboxID
        }
    }

    /// Where a message received over SMTP came from (empty for other channels).
    public struct Session: Sendable, Equatable {
        public var clientIP: String
        public var helo: String
        /// ESMTP, ESMTPS, ESMTPSA... as in the Received header.
        public var protocolName: String
        public var tls: Bool
        public var smtputf8: Bool
        /// BODY= of MAIL FROM, if given.
        public var bodyType: String?
        /// The Received header we prepended.
        public var receivedHeader: String

        public init(clientIP: String, helo: String, protocolName: String, tls: Bool, smtputf8: Bool, bodyType: String?, receivedHeader: String) {
            self.clientIP = clientIP
            self.helo = helo
            self.protocolName = protocolName
            self.tls = tls
            self.smtputf8 = smtputf8
            self.bodyType = bodyType
            self.receivedHeader = receivedHeader
        }
    }

    /// Sender authentication made before the 250: the report (JSON), its verdict, and
    /// whether automation may trust the sender.
    public struct Authentication: Sendable, Equatable {
        /// The whole report, as the API shows it.
        public var json: String
        public var verdict: String
        public var trusted: Bool
        /// What processing acts on, stored beside the report so it need not decode it.
        public var verifiedBy: String
        public var fromFailed: Bool
        public var dmarcRejects: Bool

        public init(json: String, verdict: String, trusted: Bool, verifiedBy: String, fromFailed: Bool, dmarcRejects: Bool) {
            self.json = json
            self.verdict = verdict
            self.trusted = trusted
            self.verifiedBy = verifiedBy
            self.fromFailed = fromFailed
            self.dmarcRejects = dmarcRejects
        }
    }

    /// Mail of our own, composed here: stored processed, with what parsing would find.
    public struct Composed: Sendable, Equatable {
        public var subject: String
        public var fromAddress: String
        public var fromName: String?
        public var bodyText: String
        /// Why it is automatic mail ("Postroom acknowledgement"...); nil for a person's reply.
        public var automatic: String?

        public init(subject: String, fromAddress: String, fromName: String?, bodyText: String, automatic: String? = nil) {
            self.subject = subject
            self.fromAddress = fromAddress
            self.fromName = fromName
            self.bodyText = bodyText
            self.automatic = automatic
        }
    }

    public var queueID: String
    public var receivedAt: Int64
    public var channel: Channel
    /// MAIL FROM ("" for the null path).
    public var reversePath: String
    public var recipients: [Recipient]
    /// The bytes exactly as received (or as we send them).
    public var raw: [UInt8]
    public var session: Session?
    /// The filters' decision per inbox (JSON), made before the 250.
    public var filterResults: String?
    public var authentication: Authentication?
    /// The Message-ID, where it is known before processing (imports skip what an inbox
    /// has; our own mail is indexed by it).
    public var headerMessageID: String?
    /// SHA-256 of the bytes, for imports: the same content is not imported twice.
    public var importHash: String?
    public var processing: Processing

    /// What processing does with it.
    public enum Processing: Sendable, Equatable {
        /// Received mail: stored spooled; processing parses and files it.
        case pending
        /// Mail of our own, with what parsing would learn: stored processed.
        case composed(Composed)
        /// A copy passed on as it is (a Sieve redirect): stored processed, never parsed.
        case passedOn
    }

    public init(
        queueID: String, receivedAt: Int64, channel: Channel, reversePath: String, recipients: [Recipient], raw: [UInt8], session: Session? = nil,
        filterResults: String? = nil, authentication: Authentication? = nil, headerMessageID: String? = nil, importHash: String? = nil,
        processing: Processing = .pending
    ) {
        self.queueID = queueID
        self.receivedAt = receivedAt
        self.channel = channel
        self.reversePath = reversePath
        self.recipients = recipients
        self.raw = raw
        self.session = session
        self.filterResults = filterResults
        self.authentication = authentication
        self.headerMessageID = headerMessageID
        self.importHash = importHash
        self.processing = processing
    }

    var composed: Composed? {
        if case .composed(let composed) = processing { return composed }
        return nil
    }
}

extension Store {
    /// The one writer of a message: its row, its bytes, its envelope recipients. Received
    /// mail is stored spooled (processing files it); our own is stored processed.
    /// Runs inside the caller's transaction.
    @discardableResult
    public static func insertInbound(_ m: InboundMessage, _ db: Database) throws -> Int64 {
        let session = m.session
        try db.cachedStatement(
            sql: """
                INSERT INTO message (queue_id, received_at, channel, reverse_path, client_ip, helo, protocol, tls, smtputf8, body_type, size,
                    received_header, filter_results, auth_results, auth_verdict, auth_trusted, auth_verified_by, auth_from_failed,
                    auth_dmarc_rejects, header_message_id, import_hash,
                    state, processed_at, subject, from_address, from_name, sent_at, body_text, automatic)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                m.queueID, m.receivedAt, m.channel.stored, m.reversePath, session?.clientIP ?? "", session?.helo ?? "",
                session?.protocolName ?? m.channel.protocolName, session?.tls ?? false, session?.smtputf8 ?? false, session?.bodyType, m.raw.count,
                session?.receivedHeader ?? "", m.filterResults, m.authentication?.json, m.authentication?.verdict, m.authentication?.trusted,
                m.authentication?.verifiedBy, m.authentication?.fromFailed, m.authentication?.dmarcRejects,
                m.headerMessageID, m.importHash, m.processing == .pending ? "spooled" : "processed", m.processing == .pending ? nil : m.receivedAt,
                m.composed?.subject, m.composed?.fromAddress, m.composed?.fromName, m.composed == nil ? nil : m.receivedAt / 1000,
                m.composed?.bodyText, m.composed?.automatic,
            ])
        let id = db.lastInsertedRowID
        try db.cachedStatement(sql: "INSERT INTO message_raw (message_id, raw) VALUES (?, ?)").execute(arguments: [id, Data(m.raw)])
        for (position, recipient) in m.recipients.enumerated() {
            try db.cachedStatement(
                sql: "INSERT INTO message_recipient (message_id, position, address, canonical, tag, inbox_id) VALUES (?, ?, ?, ?, ?, ?)"
            ).execute(arguments: [id, position, recipient.address, recipient.canonical, recipient.tag, recipient.inboxID])
        }
        return id
    }
}
