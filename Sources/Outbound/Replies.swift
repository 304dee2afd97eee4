import DKIM
import Foundation
import GRDB
import MailMessage
import Store

public struct ReplyInput: Sendable, Codable {
    public var text: String
    public var html: String?
    public var cc: [String]?
    public var bcc: [String]?
    /// One of the inbox's addresses; default: its first team address, else the fallback.
    public var from: String?
    public var authorId: Int64?
    public var attachments: [ReplyAttachment]?
}

public struct ReplyAttachment: Sendable, Codable {
    public var filename: String
    public var contentType: String?
    /// The content, base64-encoded.
    public var data: String
}

public struct ReplyResult: Sendable, Codable {
    public var messageId: Int64
    public var queueId: String
    public var headerMessageId: String
    public var recipients: [String]
    /// Left out because they hard-bounced before.
    public var suppressed: [String]
}

/// Composes an agent's reply so the customer's mail program threads it, stores it in
/// the conversation and queues one delivery per recipient.
public struct Replies: Sendable {
    let store: Store
    let token: ReplyToken
    /// Signs (when the From domain has a key), stores and queues.
    let outbox: Outbox

    public init(store: Store, token: ReplyToken, hostname: String, signers: [String: DKIMSigner] = [:]) {
        self.init(store: store, token: token, hostname: hostname, settings: OutboundSettings(.init(signers: signers)))
    }

    public init(store: Store, token: ReplyToken, hostname: String, settings: OutboundSettings) {
        self.store = store
        self.token = token
        self.outbox = Outbox(hostname: hostname, settings: settings)
    }

    public func reply(to conversation: Int64, _ input: ReplyInput) async throws -> ReplyResult {
        guard !input.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw RequestError.invalid("a reply needs text")
        }
        let token = self.token
        let outbox = self.outbox
        let hostname = outbox.hostname
        return try await store.database.write { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT c.inbox_id, c.subject, i.name AS inbox_name, t.number AS ticket, ct.email AS contact_email
                    FROM conversation c JOIN inbox i ON i.id = c.inbox_id LEFT JOIN ticket t ON t.conversation_id = c.id
                    LEFT JOIN contact ct ON ct.id = c.contact_id WHERE c.id = ?
                    """, arguments: [conversation])
            else { throw RequestError.notFound("no conversation \(conversation)") }
            let inbox: Int64 = row["inbox_id"]
            let own = try Store.ownAddresses(db)
            let fromAddress = try outbox.sender(inbox: inbox, requested: input.from, db)
            var authorName: String = row["inbox_name"]
            if let author = input.authorId {
                guard let name = try String.fetchOne(db, sql: "SELECT name FROM user WHERE id = ?", arguments: [author]) else {
                    throw RequestError.conflict("no user \(author)")
                }
                authorName = name
            }
            // Who it goes to: the customer, then the conversation's other participants.
            let inbound = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.header_message_id, m.from_address, m.channel FROM entry e JOIN message m ON m.id = e.message_id
                    WHERE e.conversation_id = ? ORDER BY m.received_at, m.id
                    """, arguments: [conversation])
            let lastInbound = inbound.last { ($0["channel"] as String) != "outbound" }
            guard let stored = (row["contact_email"] as String?) ?? lastInbound.flatMap({ $0["from_address"] as String? }) else {
                throw RequestError.invalid("conversation \(conversation) has no customer address to reply to")
            }
            // Addresses from mail the customer sent go through the same parser as the API's.
            let customer = try APIAddress.parse(stored, field: "the customer's address")
            let participants = try String.fetchAll(db, sql: "SELECT email FROM conversation_participant WHERE conversation_id = ? ORDER BY email", arguments: [conversation])
                .compactMap { try? APIAddress.parse($0, field: "participant") }
            func isOwn(_ a: String) -> Bool { Store.isOwn(a.lowercased(), own) }
            var cc = participants.filter { $0 != customer && !isOwn($0) }
            for extra in try APIAddress.parseList(input.cc ?? [], field: "cc") where !cc.contains(extra) && extra != customer { cc.append(extra) }
            let bcc = try APIAddress.parseList(input.bcc ?? [], field: "bcc")
            var suppressed: [String] = []
            func allowed(_ a: String) throws -> Bool {
                switch try SuppressionPolicy.refusal(for: a, own: own, db) {
                case .suppressed:
                    suppressed.append(a)
                    return false
                case .ownAddress: return false
                case nil: return true
                }
            }
            let to = try allowed(customer) ? [customer] : []
            cc = try cc.filter(allowed)
            let bccAllowed = try bcc.filter(allowed)
            let recipients = to + cc + bccAllowed
            guard !recipients.isEmpty else { throw RequestError.conflict("every recipient is suppressed (hard bounce); nothing to send") }

            let chain = inbound.compactMap { $0["header_message_id"] as String? }
            let messageID = MessageIDMint.new(purpose: "c\(conversation)", hostname: hostname)
            let parts = fromAddress.split(separator: "@", maxSplits: 1)
            let replyTo = "\(parts[0])+\(token.tag(conversationID: conversation))@\(parts.count > 1 ? parts[1] : Substring(hostname))"
            var composer = MessageComposer(
                from: MailAddress(name: authorName, address: fromAddress), to: to.map { MailAddress(name: nil, address: $0) },
                subject: MessageComposer.replySubject(row["subject"], ticket: row["ticket"]), date: Date(), messageID: messageID, text: input.text)
            composer.cc = cc.map { MailAddress(name: nil, address: $0) }
            composer.replyTo = MailAddress(name: row["inbox_name"], address: replyTo)
            composer.html = input.html
            for attachment in input.attachments ?? [] {
                guard let data = Data(base64Encoded: attachment.data) else {
                    throw RequestError.invalid("attachment \(attachment.filename): data is not base64 (standard, padded, no line breaks)")
                }
                let contentType = attachment.contentType ?? "application/octet-stream"
                guard MessageComposer.isValidMediaType(contentType), contentType == contentType.trimmingCharacters(in: .whitespaces) else {
                    throw RequestError.invalid("attachment \(attachment.filename): contentType must be type/subtype (e.g. application/pdf)")
                }
                composer.attachments.append(.init(filename: attachment.filename, contentType: contentType, data: Array(data)))
            }
            composer.inReplyTo = lastInbound.flatMap { $0["header_message_id"] as String? }
            composer.references = MessageComposer.references(chain)
            let now = Store.nowMillis()
            let (message, queueID) = try outbox.enqueue(
                outbox.composed(
                    composer, reversePath: fromAddress, recipients: recipients,
                    timeline: .init(conversation: conversation, inbox: inbox, detail: "reply by \(authorName)")),
                now: now, db)
            try db.execute(sql: "UPDATE conversation SET last_message_at = ? WHERE id = ?", arguments: [now, conversation])
            try db.execute(sql: "UPDATE ticket SET stage = 'waiting-on-contact' WHERE conversation_id = ? AND stage != 'closed'", arguments: [conversation])
            return ReplyResult(messageId: message, queueId: queueID, headerMessageId: messageID, recipients: recipients, suppressed: suppressed)
        }
    }
}
