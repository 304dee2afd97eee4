import DKIM
import Foundation
import GRDB
import MailMessage
import Store

/// The one way out. Every message Postroom sends (an agent's reply, an acknowledgement,
/// a vacation reply, a notification, a redirect) is signed here (once, when its From
/// domain has a key), stored through `Store.insertInbound` and queued with one delivery
/// row per recipient, in the caller's transaction: a message is never queued without
/// being stored, nor stored without being queued.
public struct Outbox: Sendable {
    public let hostname: String
    /// Holds the DKIM signers (replaced on reload).
    public let settings: OutboundSettings

    /// DKIM signers by domain, as in force now.
    public var signers: [String: DKIMSigner] { settings.values.signers }

    public init(hostname: String, signers: [String: DKIMSigner] = [:]) {
        self.init(hostname: hostname, settings: OutboundSettings(.init(signers: signers)))
    }

    public init(hostname: String, settings: OutboundSettings) {
        self.hostname = hostname
        self.settings = settings
    }

    /// A message on its way out.
    public struct Outgoing: Sendable {
        public var raw: [UInt8]
        /// The domain whose key signs it (the From domain of mail we wrote; nil for a
        /// message passed on as it is).
        public var signingDomain: String?
        public var reversePath: String
        public var headerMessageID: String?
        /// `.composed` for mail we wrote, `.passedOn` for a redirect.
        public var processing: InboundMessage.Processing
        public var recipients: [String]
        /// Where it shows in a conversation's timeline, if anywhere.
        public var timeline: Timeline?

        public init(
            raw: [UInt8], signingDomain: String?, reversePath: String, headerMessageID: String?, processing: InboundMessage.Processing,
            recipients: [String], timeline: Timeline? = nil
        ) {
            self.raw = raw
            self.signingDomain = signingDomain
            self.reversePath = reversePath
            self.headerMessageID = headerMessageID
            self.processing = processing
            self.recipients = recipients
            self.timeline = timeline
        }
    }

    /// A timeline entry for mail we send in a conversation: its Message-ID is indexed in
    /// the inbox so the customer's answer threads back. An agent's reply is found by
    /// search (Store.indexForSearch); our automatic mail is not.
    public struct Timeline: Sendable {
        public var conversation: Int64
        public var inbox: Int64
        public var detail: String

        public init(conversation: Int64, inbox: Int64, detail: String) {
            self.conversation = conversation
            self.inbox = inbox
            self.detail = detail
        }
    }

    /// A message composed by us: its From domain signs it.
    public func composed(_ composer: MessageComposer, reversePath: String, automatic: String? = nil, recipients: [String], timeline: Timeline? = nil) -> Outgoing {
        Outgoing(
            raw: composer.compose(), signingDomain: Self.domain(of: composer.from.address), reversePath: reversePath, headerMessageID: composer.messageID,
            processing: .composed(
                .init(subject: composer.subject, fromAddress: composer.from.address, fromName: composer.from.name, bodyText: composer.text, automatic: automatic)),
            recipients: recipients, timeline: timeline)
    }

    /// Signs, stores and queues; returns the stored message's id and queue id.
    @discardableResult
    public func enqueue(_ outgoing: Outgoing, now: Int64 = Store.nowMillis(), _ db: Database) throws -> (message: Int64, queueID: String) {
        var raw = outgoing.raw
        if let domain = outgoing.signingDomain, let signer = signers[domain] {
            raw = try signer.sign(raw)
        }
        let queueID = Spool.newQueueID()
        let message = try Store.insertInbound(
            InboundMessage(
                queueID: queueID, receivedAt: now, channel: .outbound, reversePath: outgoing.reversePath, recipients: [], raw: raw,
                headerMessageID: outgoing.headerMessageID, processing: outgoing.processing),
            db)
        if let timeline = outgoing.timeline {
            try db.run(
                "INSERT INTO entry (conversation_id, message_id, inbox_id, thread_rule, thread_detail, created_at) VALUES (?, ?, ?, 'outbound', ?, ?)",
                [timeline.conversation, message, timeline.inbox, timeline.detail, now])
            try Store.indexForSearch(entry: db.lastInsertedRowID, message: message, db)
            if let messageID = outgoing.headerMessageID {
                try db.run(
                    "INSERT OR IGNORE INTO message_id_index (inbox_id, header_message_id, conversation_id, message_id) VALUES (?, ?, ?, NULL)",
                    [timeline.inbox, messageID, timeline.conversation])
            }
        }
        for recipient in outgoing.recipients {
            try db.run(
                "INSERT OR IGNORE INTO outbound (message_id, recipient, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                [message, recipient, now, now, now])
        }
        return (message, queueID)
    }

    /// The sender of mail from an inbox: `requested` when it is one of the inbox's
    /// addresses (else `RequestError.invalid`), otherwise its primary address.
    public func sender(inbox: Int64, requested: String? = nil, _ db: Database) throws -> String {
        let addresses = try Store.sendingAddresses(inbox: inbox, db)
        if let requested {
            let wanted = try APIAddress.parse(requested, field: "from")
            guard addresses.contains(wanted) else { throw RequestError.conflict("\(wanted) is not an address of this inbox") }
            return wanted
        }
        return addresses.first ?? "postmaster@\(hostname)"
    }

    static func domain(of address: String) -> String? {
        address.split(separator: "@").last.map { String($0).lowercased() }
    }
}
