import Foundation
import GRDB
import MailMessage
import Outbound
import Store

public struct ContactRef: Sendable, Codable, Equatable {
    public var id: Int64
    public var email: String
    public var name: String?
}

public struct TicketInfo: Sendable, Codable, Equatable {
    public var number: Int64
    public var stage: String
    public var priority: String
    public var ownerId: Int64?
}

public struct ConversationSummary: Sendable, Codable, Equatable {
    public var id: Int64
    public var inbox: String
    public var subject: String?
    public var status: String
    public var snoozedUntil: String?
    public var contact: ContactRef?
    public var assigneeUserId: Int64?
    public var assigneeTeamId: Int64?
    public var ticket: TicketInfo?
    public var linkedConversationId: Int64?
    /// Set when this conversation was merged into another (it is then a pointer).
    public var mergedInto: Int64?
    /// Started by a message a filter discarded: stored, but out of the inbox view.
    public var hidden: Bool
    public var read: Bool
    public var starred: Bool
    public var labels: [String]
    public var messageCount: Int
    public var createdAt: String
    public var lastMessageAt: String
}

public struct TimelineMessage: Sendable, Codable, Equatable {
    public var entryId: Int64
    public var messageId: Int64
    public var queueId: String
    public var headerMessageId: String?
    public var from: String?
    public var fromName: String?
    public var subject: String?
    public var sentAt: String?
    public var receivedAt: String
    public var text: String
    public var quotedText: String?
    public var attachments: [ParsedMessage.Attachment]
    public var threadRule: String
    public var threadDetail: String?
    public var automatic: String?
    public var warnings: [String]
    public var quarantine: String?
    public var duplicateDeliveries: Int
    public var bounces: [BounceInfo]?
    /// A filter discarded it: stored and shown here, but not in the inbox view.
    public var discarded: Bool
    /// For a reply sent from Postroom: the delivery state per recipient.
    public var deliveries: [DeliveryInfo]?
    /// The badge: verified, forwarded (a valid ARC chain vouches for it) or unverified;
    /// nil when the message was not checked (IMAP, import, our own mail).
    public var verified: String?
    /// How: "DMARC pass, DKIM aligned (d=example.org)", "forwarded by lists.example ...".
    public var verifiedBy: String?
}

public struct BounceInfo: Sendable, Codable, Equatable {
    public var recipient: String
    public var action: String
    public var status: String
    public var diagnostic: String?
    public var originalMessageId: String?
}

public struct ConversationDetail: Sendable, Codable, Equatable {
    public var conversation: ConversationSummary
    public var participants: [String]
    public var timeline: [TimelineMessage]
    /// Comments, assignments, status and ticket changes, oldest first.
    public var events: [TimelineEvent]
}

public struct ConversationPage: Sendable, Codable, Equatable {
    public var conversations: [ConversationSummary]
    /// Pass as `cursor` for the next page; absent on the last page.
    public var nextCursor: String?
}

public struct ContactDetail: Sendable, Codable, Equatable {
    public var id: Int64
    public var email: String
    /// Every address the contact is known by (more after a merge).
    public var emails: [String]
    public var name: String?
    public var createdAt: String
    /// Channels the contact has written through (email today; chat, Facebook, forms later).
    public var channels: [String]
    public var tickets: [TicketInfo]
    public var conversations: [ConversationSummary]
    /// How the address was last verified ("DMARC pass, ...", "unverified: ..."); nil
    /// before any checked message from it.
    public var verifiedVia: String?
    public var verifiedAt: String?
}

public struct QuarantineItem: Sendable, Codable, Equatable {
    public var messageId: Int64
    public var queueId: String
    public var receivedAt: String
    public var from: String?
    public var subject: String?
    public var reason: String
    public var conversationIds: [Int64]
}

/// Read side of conversations for the API and the CLI.
public struct ConversationQueries: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    public struct Filter: Sendable {
        public var inbox: String?
        public var status: String?
        public var contactID: Int64?
        public var assignee: Int64?
        public var unassigned = false
        public var team: Int64?
        public var hasTicket: Bool?
        public var channel: String?
        /// Full-text search over subject and visible text (SQLite FTS5 syntax).
        public var text: String?
        /// Include conversations started by discarded messages.
        public var includeHidden = false
        public var label: String?
        public var limit = 50
        public var cursor: String?

        public init(
            inbox: String? = nil, status: String? = nil, contactID: Int64? = nil, assignee: Int64? = nil, unassigned: Bool = false,
            team: Int64? = nil, hasTicket: Bool? = nil, channel: String? = nil, text: String? = nil, limit: Int = 50, cursor: String? = nil
        ) {
            self.inbox = inbox
            self.status = status
            self.contactID = contactID
            self.assignee = assignee
            self.unassigned = unassigned
            self.team = team
            self.hasTicket = hasTicket
            self.channel = channel
            self.text = text
            self.limit = limit
            self.cursor = cursor
        }
    }

    static let summarySQL = """
        SELECT c.id, i.slug, c.subject, c.status, c.snoozed_until, c.contact_id, ct.email AS contact_email, ct.name AS contact_name,
               c.assignee_user_id, c.assignee_team_id, t.number AS ticket, t.stage AS ticket_stage, t.priority AS ticket_priority,
               t.owner_user_id AS ticket_owner, c.linked_conversation_id, c.merged_into, c.hidden, c.read, c.starred,
               (SELECT group_concat(label, char(31)) FROM conversation_label l WHERE l.conversation_id = c.id) AS labels,
               c.created_at, c.last_message_at,
               (SELECT COUNT(*) FROM entry e WHERE e.conversation_id = c.id) AS message_count
        FROM conversation c JOIN inbox i ON i.id = c.inbox_id
        LEFT JOIN contact ct ON ct.id = c.contact_id
        LEFT JOIN ticket t ON t.conversation_id = c.id
        """

    static func summary(_ row: Row) -> ConversationSummary {
        let contactID: Int64? = row["contact_id"]
        let ticket: Int64? = row["ticket"]
        return ConversationSummary(
            id: row["id"], inbox: row["slug"], subject: row["subject"], status: row["status"],
            snoozedUntil: (row["snoozed_until"] as Int64?).map(Store.iso),
            contact: contactID.map { ContactRef(id: $0, email: row["contact_email"], name: row["contact_name"]) },
            assigneeUserId: row["assignee_user_id"], assigneeTeamId: row["assignee_team_id"],
            ticket: ticket.map { TicketInfo(number: $0, stage: row["ticket_stage"], priority: row["ticket_priority"], ownerId: row["ticket_owner"]) },
            linkedConversationId: row["linked_conversation_id"], mergedInto: row["merged_into"], hidden: row["hidden"], read: row["read"],
            starred: row["starred"], labels: ((row["labels"] as String?) ?? "").split(separator: "\u{1F}").map(String.init).sorted(),
            messageCount: row["message_count"],
            createdAt: Store.iso(row["created_at"]), lastMessageAt: Store.iso(row["last_message_at"]))
    }

    static let statuses = ["open", "closed", "snoozed", "spam"]

    /// Newest activity first; the cursor is `<lastMessageAt>.<id>` of the last row.
    public func list(_ filter: Filter) async throws -> ConversationPage {
        if let status = filter.status, !Self.statuses.contains(status) {
            throw RequestError.invalid("status must be one of \(Self.statuses.joined(separator: ", "))")
        }
        guard (1...500).contains(filter.limit) else { throw RequestError.invalid("limit must be from 1 to 500") }
        if let channel = filter.channel, channel != "email" { throw RequestError.invalid("channel must be email (the only channel so far)") }
        var parsedCursor: (Int64, Int64)?
        if let text = filter.cursor {
            let parts = text.split(separator: ".")
            guard parts.count == 2, let at = Int64(parts[0]), let id = Int64(parts[1]) else {
                throw RequestError.invalid("cursor is not one this API returned")
            }
            parsedCursor = (at, id)
        }
        let cursor = parsedCursor
        return try await store.database.read { db in
            var conditions: [String] = ["c.merged_into IS NULL"]
            var arguments: StatementArguments = []
            if !filter.includeHidden { conditions.append("c.hidden = 0") }
            if let label = filter.label {
                conditions.append("EXISTS (SELECT 1 FROM conversation_label l WHERE l.conversation_id = c.id AND l.label = ?)")
                arguments += [label]
            }
            if let inbox = filter.inbox {
                guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [inbox]) else {
                    throw RequestError.notFound("no inbox with slug '\(inbox)'")
                }
                conditions.append("c.inbox_id = ?")
                arguments += [id]
            }
            if let status = filter.status {
                conditions.append("c.status = ?")
                arguments += [status]
            }
            if let contact = filter.contactID {
                conditions.append("c.contact_id = ?")
                arguments += [contact]
            }
            if let assignee = filter.assignee {
                conditions.append("c.assignee_user_id = ?")
                arguments += [assignee]
            }
            if filter.unassigned { conditions.append("c.assignee_user_id IS NULL AND c.assignee_team_id IS NULL") }
            if let team = filter.team {
                conditions.append("c.assignee_team_id = ?")
                arguments += [team]
            }
            if let hasTicket = filter.hasTicket {
                conditions.append(hasTicket ? "t.number IS NOT NULL" : "t.number IS NULL")
            }
            if let channel = filter.channel {
                conditions.append("EXISTS (SELECT 1 FROM entry e JOIN message m ON m.id = e.message_id WHERE e.conversation_id = c.id AND m.channel = ?)")
                arguments += [channel == "email" ? "smtp" : channel]
            }
            if let text = filter.text, !text.isEmpty {
                let query = Self.ftsQuery(text)
                // Punctuation only names no word: nothing matches (an empty MATCH is an
                // FTS5 syntax error, which answered 500).
                guard !query.isEmpty else { return ConversationPage(conversations: [], nextCursor: nil) }
                // Only rowids from the index: no content row is read for a match.
                conditions.append("c.id IN (SELECT e.conversation_id FROM entry e WHERE e.id IN (SELECT rowid FROM message_search WHERE message_search MATCH ?))")
                arguments += [query]
            }
            if let (at, id) = cursor {
                conditions.append("(c.last_message_at < ? OR (c.last_message_at = ? AND c.id < ?))")
                arguments += [at, at, id]
            }
            let whereSQL = "WHERE " + conditions.joined(separator: " AND ")
            arguments += [filter.limit + 1]
            var rows = try Row.fetchAll(db, sql: "\(Self.summarySQL) \(whereSQL) ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?", arguments: arguments)
            var next: String?
            if rows.count > filter.limit {
                rows.removeLast()
                if let last = rows.last { next = "\(last["last_message_at"] as Int64).\(last["id"] as Int64)" }
            }
            return ConversationPage(conversations: rows.map(Self.summary), nextCursor: next)
        }
    }

    /// Words a person types become an FTS5 query of prefix terms that must all match;
    /// quotes and operators are not passed through, so any input is a valid query.
    static func ftsQuery(_ text: String) -> String {
        text.split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map { "\"\($0)\"*" }.joined(separator: " ")
    }

    public func events(_ conversation: Int64) async throws -> [TimelineEvent] {
        try await store.database.read { db in try Self.events(conversation, db) }
    }

    static func events(_ conversation: Int64, _ db: Database) throws -> [TimelineEvent] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT e.id, e.kind, e.author_user_id, e.body, e.created_at,
                       (SELECT group_concat(user_id) FROM mention m WHERE m.event_id = e.id) AS mentions
                FROM event e WHERE e.conversation_id = ? ORDER BY e.id
                """, arguments: [conversation]
        ).map {
            TimelineEvent(
                id: $0["id"], kind: $0["kind"], authorId: $0["author_user_id"], body: $0["body"],
                mentions: (($0["mentions"] as String?) ?? "").split(separator: ",").compactMap { Int64($0) }.sorted(),
                createdAt: Store.iso($0["created_at"]))
        }
    }

    public func conversation(_ id: Int64) async throws -> ConversationDetail {
        try await store.database.read { db in
            guard let row = try Row.fetchOne(db, sql: "\(Self.summarySQL) WHERE c.id = ?", arguments: [id]) else {
                throw RequestError.notFound("no conversation \(id)")
            }
            let participants = try String.fetchAll(
                db, sql: "SELECT email FROM conversation_participant WHERE conversation_id = ? ORDER BY email", arguments: [id])
            let decoder = JSONDecoder()
            let timeline = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.id AS entry_id, e.thread_rule, e.thread_detail, m.auth_verdict, m.auth_results, m.id, m.queue_id, m.header_message_id, m.from_address,
                           m.from_name, m.subject, m.sent_at, m.received_at, m.body_text, m.quoted_text, m.attachments, m.automatic,
                           m.warnings, m.quarantine_reason, e.discarded,
                           (SELECT COUNT(*) FROM duplicate_delivery d WHERE d.original_message_id = m.id AND d.inbox_id = e.inbox_id) AS duplicates
                    FROM entry e JOIN message m ON m.id = e.message_id
                    WHERE e.conversation_id = ? ORDER BY m.received_at, m.id
                    """, arguments: [id]
            ).map { r -> TimelineMessage in
                let messageID: Int64 = r["id"]
                let bounces = try Row.fetchAll(
                    db, sql: "SELECT recipient, action, status, diagnostic, original_message_id FROM bounce WHERE message_id = ? ORDER BY id",
                    arguments: [messageID]
                ).map {
                    BounceInfo(recipient: $0["recipient"], action: $0["action"], status: $0["status"], diagnostic: $0["diagnostic"], originalMessageId: $0["original_message_id"])
                }
                let attachments = (r["attachments"] as String?).flatMap { try? decoder.decode([ParsedMessage.Attachment].self, from: Data($0.utf8)) } ?? []
                let warnings = (r["warnings"] as String?).flatMap { try? decoder.decode([String].self, from: Data($0.utf8)) } ?? []
                return TimelineMessage(
                    entryId: r["entry_id"], messageId: r["id"], queueId: r["queue_id"], headerMessageId: r["header_message_id"],
                    from: r["from_address"], fromName: r["from_name"], subject: r["subject"],
                    sentAt: (r["sent_at"] as Int64?).map { Store.iso($0 * 1000) }, receivedAt: Store.iso(r["received_at"]),
                    text: r["body_text"] ?? "", quotedText: r["quoted_text"], attachments: attachments, threadRule: r["thread_rule"],
                    threadDetail: r["thread_detail"], automatic: r["automatic"], warnings: warnings, quarantine: r["quarantine_reason"],
                    duplicateDeliveries: r["duplicates"], bounces: bounces.isEmpty ? nil : bounces, discarded: r["discarded"],
                    deliveries: (r["thread_rule"] as String) == "outbound" ? try OutboundQueue.deliveries(messageID, db) : nil,
                    verified: r["auth_verdict"], verifiedBy: JSONValue.parse(r["auth_results"])?["verifiedBy"]?.string)
            }
            return ConversationDetail(
                conversation: Self.summary(row), participants: participants, timeline: timeline, events: try Self.events(id, db))
        }
    }

    public func contact(_ id: Int64) async throws -> ContactDetail {
        let found = try await store.database.read { db -> (Row, [String], [String])? in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, email, name, created_at, verified_via, verified_at FROM contact WHERE id = ?", arguments: [id]) else { return nil }
            let emails = try String.fetchAll(db, sql: "SELECT email FROM contact_email WHERE contact_id = ? ORDER BY email", arguments: [id])
            let channels = try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT m.channel FROM conversation c JOIN entry e ON e.conversation_id = c.id JOIN message m ON m.id = e.message_id
                    WHERE c.contact_id = ? ORDER BY m.channel
                    """, arguments: [id])
            return (row, emails, channels)
        }
        guard let (row, emails, channels) = found else { throw RequestError.notFound("no contact \(id)") }
        let conversations = try await list(Filter(contactID: id, limit: 500)).conversations
        return ContactDetail(
            id: row["id"], email: row["email"], emails: emails, name: row["name"], createdAt: Store.iso(row["created_at"]),
            channels: channels.map { $0 == "smtp" ? "email" : $0 }, tickets: conversations.compactMap(\.ticket),
            conversations: conversations, verifiedVia: row["verified_via"], verifiedAt: (row["verified_at"] as Int64?).map { Store.iso($0) })
    }

    public func quarantine(limit: Int = 100) async throws -> [QuarantineItem] {
        try await store.database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, m.queue_id, m.received_at, m.from_address, m.subject, m.quarantine_reason,
                           (SELECT group_concat(e.conversation_id) FROM entry e WHERE e.message_id = m.id) AS conversations
                    FROM message m WHERE m.quarantine_reason IS NOT NULL ORDER BY m.id DESC LIMIT ?
                    """, arguments: [limit]
            ).map { r in
                QuarantineItem(
                    messageId: r["id"], queueId: r["queue_id"], receivedAt: Store.iso(r["received_at"]), from: r["from_address"],
                    subject: r["subject"], reason: r["quarantine_reason"],
                    conversationIds: ((r["conversations"] as String?) ?? "").split(separator: ",").compactMap { Int64($0) })
            }
        }
    }


    /// The decoded content of one MIME part of a stored message (attachment download).
    public func part(messageReference: String, path: String) async throws -> (contentType: String, filename: String?, data: [UInt8]) {
        let stored = try await store.rawMessage(messageReference)
        let parsed = MailParser.parse(Array(stored.raw))
        guard let part = parsed.root.part(at: path), part.children.isEmpty || part.isMessage else {
            throw RequestError.notFound("message \(messageReference) has no part \(path)")
        }
        if part.isMessage { return (part.contentType.value, part.filename, Array(stored.raw[part.bodyRange])) }
        return (part.contentType.value, part.filename, part.decodedBody(in: parsed.raw))
    }
}
