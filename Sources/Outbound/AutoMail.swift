import DKIM
import Foundation
import GRDB
import MailMessage
import Logging
import Store

/// Mail Postroom writes by itself: acknowledgements, vacation replies, notifications,
/// redirects. All of it carries Auto-Submitted (RFC 3834), goes through the outbound
/// queue, never answers automatic mail, never goes to the inbox's own addresses, and
/// is rate-limited per recipient so two gateways can never loop.
public struct AutoMail: Sendable {
    public var hostname: String { outbox.hostname }
    public let outbox: Outbox
    let logger: Logger

    public init(hostname: String, signers: [String: DKIMSigner] = [:], hourlyCap: Int = 200, logger: Logger = Logger(label: "postroom.automail")) {
        self.init(hostname: hostname, settings: OutboundSettings(.init(signers: signers, hourlyCap: hourlyCap)), logger: logger)
    }

    /// With the settings shared by the rest of the outbound side (so a reload reaches
    /// the limits and keys used here).
    public init(hostname: String, settings: OutboundSettings, logger: Logger = Logger(label: "postroom.automail")) {
        self.outbox = Outbox(hostname: hostname, settings: settings)
        self.logger = logger
    }

    /// Whether one of the inbox's addresses (or `extra`, a vacation's `:addresses`)
    /// is in To or Cc (RFC 5230 4.5): mail that reached the inbox only by Bcc, a list
    /// or a forged envelope is never answered.
    public static func addressedTo(inbox: Int64, toAndCc: [String], extra: [String] = [], _ db: Database) throws -> Bool {
        var own = Set(try String.fetchAll(db.cachedStatement(sql: "SELECT address FROM inbox_address WHERE inbox_id = ?"), arguments: [inbox]))
        for address in extra { own.insert(address.lowercased()) }
        return toAndCc.contains { Store.isOwn($0.lowercased(), own) }
    }

    public enum Kind: String, Sendable {
        case acknowledgement, vacation, notification, redirect
    }

    /// Whether another automatic message may go to `recipient` now.
    func allowed(_ recipient: String, kind: Kind, now: Int64, _ db: Database) throws -> Bool {
        // Notifications go to the team's own users only and are bounded per recipient;
        // answers to senders are also bounded in all (see OutboundSettings).
        let limits = outbox.settings.values
        let perRecipientPerHour = limits.perRecipientPerHour, hourlyCap = limits.hourlyCap
        let sent = try Int.fetchOne(
            db.cachedStatement(sql: "SELECT COUNT(*) FROM auto_mail_log WHERE recipient = ? AND sent_at > ?"), arguments: [recipient, now - 3_600_000]) ?? 0
        if sent >= perRecipientPerHour {
            // Said, not dropped in silence: the operator sees who is being flooded and why.
            logger.notice("automatic \(kind.rawValue) to <\(recipient)> not sent: \(sent) automatic messages to it in the last hour (automail.per-recipient-cap \(perRecipientPerHour))")
            return false
        }
        if kind != .notification {
            let all = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM auto_mail_log WHERE kind != 'notification' AND sent_at > ?"), arguments: [now - 3_600_000]) ?? 0
            if all >= hourlyCap {
                logger.warning("automatic \(kind.rawValue) to <\(recipient)> not sent: \(all) answers to senders in the last hour (automail.hourly-cap \(hourlyCap))")
                return false
            }
        }
        return try SuppressionPolicy.refusal(for: recipient, own: Store.ownAddresses(db), db) == nil
    }

    /// Composes, stores and queues an automatic message. `conversation` puts it on that
    /// conversation's timeline (customer-facing replies); notifications have none.
    @discardableResult
    public func send(
        kind: Kind, from: MailAddress, to recipient: String, subject: String, text: String, inReplyTo: String? = nil,
        references: [String] = [], conversation: Int64? = nil, inbox: Int64? = nil, _ db: Database
    ) throws -> Int64? {
        let now = Store.nowMillis()
        guard let recipient = try? APIAddress.parse(recipient, field: "recipient") else {
            logger.warning("automatic \(kind.rawValue) to '\(recipient.prefix(100))' not sent: not one mail address")
            return nil
        }
        guard try allowed(recipient, kind: kind, now: now, db) else { return nil }
        let messageID = MessageIDMint.new(purpose: kind.rawValue, hostname: hostname, now: now)
        var composer = MessageComposer(from: from, to: [MailAddress(name: nil, address: recipient)], subject: subject, date: Date(), messageID: messageID, text: text)
        composer.inReplyTo = inReplyTo
        composer.references = references
        composer.extraHeaders = [("Auto-Submitted", kind == .notification ? "auto-generated" : "auto-replied")]
        if kind != .notification { composer.extraHeaders.append(("X-Auto-Response-Suppress", "All")) }
        let timeline = conversation.flatMap { c in inbox.map { Outbox.Timeline(conversation: c, inbox: $0, detail: "automatic \(kind.rawValue)") } }
        let message = try outbox.enqueue(
            outbox.composed(
                composer, reversePath: kind == .notification ? from.address : "", automatic: "Postroom \(kind.rawValue)", recipients: [recipient],
                timeline: timeline), now: now, db
        ).message
        try log(message: message, recipient: recipient, kind: kind, now: now, db)
        return message
    }

    /// Queues a copy of a received message to another address (Sieve redirect).
    public func redirect(raw: [UInt8], to address: String, envelopeFrom: String, _ db: Database) throws {
        let now = Store.nowMillis()
        // A script's address goes through the same parser as the API's.
        guard let recipient = try? APIAddress.parse(address, field: "redirect") else {
            logger.warning("redirect to '\(address.prefix(100))' not sent: not one mail address")
            return
        }
        guard try allowed(recipient, kind: .redirect, now: now, db) else { return }
        let message = try outbox.enqueue(
            .init(raw: raw, signingDomain: nil, reversePath: envelopeFrom, headerMessageID: nil, processing: .passedOn, recipients: [recipient]), now: now, db
        ).message
        try log(message: message, recipient: recipient, kind: .redirect, now: now, db)
    }

    /// Counts toward the per-recipient and hourly limits.
    func log(message: Int64, recipient: String, kind: Kind, now: Int64, _ db: Database) throws {
        try db.run("INSERT INTO auto_mail_log (recipient, kind, message_id, sent_at) VALUES (?, ?, ?, ?)", [recipient, kind.rawValue, message, now])
    }

    /// The inbox's sending address and name.
    public func inboxSender(_ inbox: Int64, _ db: Database) throws -> MailAddress {
        let address = try outbox.sender(inbox: inbox, db)
        let name = try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM inbox WHERE id = ?"), arguments: [inbox])
        return MailAddress(name: name, address: address)
    }

    // MARK: triggers

    /// RFC 3834 acknowledgement of a new conversation: to the reverse path, at most one
    /// per sender per day, never to automatic mail.
    public func acknowledge(
        conversation: Int64, inbox: Int64, sender: String, automatic: String?, subject: String?, messageID: String?, ticket: Int64?, toAndCc: [String],
        _ db: Database
    ) throws {
        guard automatic == nil, !sender.isEmpty else { return }
        guard try Self.addressedTo(inbox: inbox, toAndCc: toAndCc, db) else { return }
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT auto_acknowledge, auto_acknowledge_text FROM inbox WHERE id = ?"), arguments: [inbox]),
            (row["auto_acknowledge"] as Bool) == true
        else { return }
        let recipient = sender.lowercased()
        if try Int.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM auto_mail_log WHERE recipient = ? AND kind = 'acknowledgement' AND sent_at > ?"),
            arguments: [recipient, Store.nowMillis() - 86_400_000]) != nil
        {
            return
        }
        let text = (row["auto_acknowledge_text"] as String?) ?? "Thank you for your message. We received it and will answer as soon as we can."
        try send(
            kind: .acknowledgement, from: inboxSender(inbox, db), to: recipient,
            subject: MessageComposer.replySubject(subject, ticket: ticket), text: text, inReplyTo: messageID,
            references: messageID.map { [$0] } ?? [], conversation: conversation, inbox: inbox, db)
    }

    /// Notifies users by their preferences; never for automatic mail.
    public func notify(_ event: NotificationEvent, conversation: Int64, inbox: Int64, users: [Int64], summary: String, _ db: Database) throws {
        let column: String
        switch event {
        case .newConversation: column = "notify_new_conversation"
        case .assigned: column = "notify_assigned"
        case .mention: column = "notify_mention"
        case .customerReply: column = "notify_customer_reply"
        case .deliveryFailed: column = "notify_assigned"
        }
        let subject = try String.fetchOne(db.cachedStatement(sql: "SELECT subject FROM conversation WHERE id = ?"), arguments: [conversation]) ?? ""
        let contacts = Set(try String.fetchAll(db.cachedStatement(sql: "SELECT email FROM conversation_participant WHERE conversation_id = ?"), arguments: [conversation]))
        for user in Set(users) {
            guard let row = try Row.fetchOne(db, sql: "SELECT email, name, notify_email, \(column) AS wanted FROM user WHERE id = ? AND deactivated_at IS NULL", arguments: [user]),
                (row["notify_email"] as Bool), (row["wanted"] as Bool)
            else { continue }
            let email: String = row["email"]
            if contacts.contains(email.lowercased()) { continue }  // never to a customer of the conversation
            try send(
                kind: .notification, from: MailAddress(name: "Postroom", address: "postroom@\(hostname)"), to: email,
                subject: "[Postroom] \(event.title): \(subject)", text: "\(summary)\n\nConversation \(conversation).\n", db)
        }
    }
}

public enum NotificationEvent: Sendable {
    case newConversation, assigned, mention, customerReply, deliveryFailed

    public var title: String {
        switch self {
        case .newConversation: return "New conversation"
        case .assigned: return "Assigned to you"
        case .mention: return "You were mentioned"
        case .customerReply: return "Customer replied"
        case .deliveryFailed: return "Delivery failed"
        }
    }
}
