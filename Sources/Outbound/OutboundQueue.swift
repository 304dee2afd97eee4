import Foundation
import GRDB
import MailMessage
import SMTPProtocol
import Store

/// The durable outbound queue: each (message, recipient) has a state. A delivery in
/// flight when the process dies is tried again (so it may arrive twice; never zero
/// times).
public struct OutboundQueue: Sendable {
    public struct Item: Sendable, Codable {
        public var id: Int64
        public var messageId: Int64
        public var queueId: String
        public var recipient: String
        public var state: String
        public var attempts: Int
        public var nextAttemptAt: String
        public var lastReply: String?
    }

    public struct Due: Sendable {
        public var messageID: Int64
        public var from: String
        public var raw: [UInt8]
        public var recipients: [(id: Int64, address: String, attempts: Int, createdAt: Int64)]
        /// The reverse path for each recipient (by row id): the signed per-delivery
        /// return path (VERP) where there is a token and a reverse path, else `from`.
        public var returnPaths: [Int64: String] = [:]
    }

    /// What the server (or, when none answered, the client) said, typed until here.
    public enum Outcome: Sendable {
        case delivered(SMTPReply)
        case temporary(SMTPReply)
        case permanent(SMTPReply)
    }

    public let store: Store
    /// The retry schedule and maximum age, and the relay the worker uses; shared with
    /// automatic mail so one reload reaches both.
    public let settings: OutboundSettings
    /// Tells the conversation's assignee when a reply bounces.
    public var autoMail: AutoMail?
    /// Signs each delivery's return path (nil: the message's reverse path as stored).
    public var token: ReplyToken?

    public init(store: Store, autoMail: AutoMail? = nil) {
        self.store = store
        self.autoMail = autoMail
        self.settings = autoMail?.outbox.settings ?? OutboundSettings()
    }

    /// The same queue, signing each delivery's return path with `token`.
    public func withToken(_ token: ReplyToken) -> OutboundQueue {
        var copy = self
        copy.token = token
        return copy
    }

    /// Deliveries due now, grouped by message; `excluding` are rows already in flight.
    public func due(now: Int64 = Store.nowMillis(), limit: Int = 20, excluding: Set<Int64> = []) async throws -> [Due] {
        try await store.database.read { db in
            let skip = excluding.isEmpty ? "" : "AND o.id NOT IN (\(excluding.map(String.init).joined(separator: ",")))"
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT o.id, o.message_id, o.recipient, o.attempts, o.created_at FROM outbound o
                    WHERE o.state IN ('queued', 'deferred') AND o.next_attempt_at <= ? \(skip) ORDER BY o.next_attempt_at LIMIT ?
                    """, arguments: [now, limit * 10])
            var byMessage: [Int64: [(id: Int64, address: String, attempts: Int, createdAt: Int64)]] = [:]
            var order: [Int64] = []
            for r in rows {
                let m: Int64 = r["message_id"]
                if byMessage[m] == nil { order.append(m) }
                byMessage[m, default: []].append((r["id"], r["recipient"], r["attempts"], r["created_at"]))
            }
            let token = self.token
            return try order.prefix(limit).compactMap { m -> Due? in
                guard let message = try Row.fetchOne(db, sql: "SELECT m.reverse_path, r.raw FROM message m JOIN message_raw r ON r.message_id = m.id WHERE m.id = ?", arguments: [m]),
                    let recipients = byMessage[m]
                else { return nil }
                let raw: Data = message["raw"]
                let from: String = message["reverse_path"]
                var paths: [Int64: String] = [:]
                for r in recipients { paths[r.id] = from.isEmpty ? "" : (token?.returnPath(from: from, deliveryID: r.id) ?? from) }
                return Due(messageID: m, from: from, raw: Array(raw), recipients: recipients, returnPaths: paths)
            }
        }
    }

    /// Records what the relay said. A permanent failure, or a temporary one past
    /// `maxAge`, is a bounce in the conversation (and suppresses the address when it
    /// was the recipient's mailbox that refused).
    public func record(_ id: Int64, _ given: Outcome, now: Int64 = Store.nowMillis()) async throws {
        // What a server said is shown as a short, sanitised excerpt, never verbatim;
        // its status code is taken from the typed reply, never parsed back out of text.
        enum Recorded {
            case delivered(String)
            case temporary(String, status: String?)
            case permanent(String, status: String?)
        }
        let outcome: Recorded
        switch given {
        case .delivered(let reply): outcome = .delivered(PeerText.excerpt(reply.description))
        case .temporary(let reply): outcome = .temporary(PeerText.excerpt(reply.description), status: reply.enhanced)
        case .permanent(let reply): outcome = .permanent(PeerText.excerpt(reply.description), status: reply.enhanced)
        }
        let values = settings.values, autoMail = self.autoMail
        let schedule = values.schedule.isEmpty ? [60] : values.schedule, maxAge = values.maxAge
        try await store.database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT message_id, recipient, attempts, created_at FROM outbound WHERE id = ?", arguments: [id]) else { return }
            let attempts: Int = row["attempts"] + 1
            let message: Int64 = row["message_id"], recipient: String = row["recipient"], created: Int64 = row["created_at"]
            switch outcome {
            case .delivered(let reply):
                try db.execute(
                    sql: "UPDATE outbound SET state = 'delivered', attempts = ?, last_reply = ?, updated_at = ? WHERE id = ?",
                    arguments: [attempts, reply, now, id])
            case .temporary(let reply, _) where now - created < maxAge * 1000:
                let delay = schedule[min(attempts - 1, schedule.count - 1)]
                let jitter = Int64.random(in: 0...max(1, delay / 10))
                try db.execute(
                    sql: "UPDATE outbound SET state = 'deferred', attempts = ?, last_reply = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
                    arguments: [attempts, reply, now + (delay + jitter) * 1000, now, id])
            case .temporary(let reply, let given), .permanent(let reply, let given):
                let expired: Bool
                if case .temporary = outcome { expired = true } else { expired = false }
                let text = expired ? "gave up after \(attempts) attempts: \(reply)" : reply
                try db.execute(
                    sql: "UPDATE outbound SET state = 'failed', attempts = ?, last_reply = ?, updated_at = ? WHERE id = ?",
                    arguments: [attempts, text, now, id])
                let conversation = try Int64.fetchOne(db, sql: "SELECT conversation_id FROM entry WHERE message_id = ?", arguments: [message])
                let status = given ?? (expired ? "4.4.7" : "5.0.0")
                try db.execute(
                    sql: "INSERT INTO bounce (message_id, conversation_id, recipient, action, status, diagnostic, original_message_id, created_at) VALUES (?, ?, ?, 'failed', ?, ?, (SELECT header_message_id FROM message WHERE id = ?), ?)",
                    arguments: [message, conversation, recipient, status, text, message, now])
                if let conversation {
                    try Store.recordEvent(conversation, kind: "status", author: nil, body: "delivery to \(recipient) failed: \(text)", db)
                    if let autoMail, let row = try Row.fetchOne(db, sql: "SELECT assignee_user_id, inbox_id FROM conversation WHERE id = ?", arguments: [conversation]),
                        let assignee = row["assignee_user_id"] as Int64?
                    {
                        try autoMail.notify(
                            .deliveryFailed, conversation: conversation, inbox: row["inbox_id"], users: [assignee],
                            summary: "The reply to \(recipient) could not be delivered: \(text)", db)
                    }
                }
                if !expired, EnhancedStatus.isHardBounce(status) {
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO suppression (email, reason, status, bounce_message_id, created_at) VALUES (?, ?, ?, ?, ?)",
                        arguments: [recipient.lowercased(), "hard bounce: \(reply)", status, message, now])
                }
            }
        }
    }

    public func list(states: [String]? = nil) async throws -> [Item] {
        try await store.database.read { db in
            let filter = states.map { "WHERE o.state IN (" + $0.map { "'\($0.replacingOccurrences(of: "'", with: ""))'" }.joined(separator: ",") + ")" } ?? ""
            return try Row.fetchAll(
                db,
                sql: "SELECT o.*, m.queue_id FROM outbound o JOIN message m ON m.id = o.message_id \(filter) ORDER BY o.id DESC LIMIT 1000"
            ).map {
                Item(
                    id: $0["id"], messageId: $0["message_id"], queueId: $0["queue_id"], recipient: $0["recipient"], state: $0["state"],
                    attempts: $0["attempts"], nextAttemptAt: Store.iso($0["next_attempt_at"]), lastReply: $0["last_reply"])
            }
        }
    }

    /// One delivery by its id (the id `queue list` prints), or nil.
    public func item(id: Int64) async throws -> Item? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT o.*, m.queue_id FROM outbound o JOIN message m ON m.id = o.message_id WHERE o.id = ?", arguments: [id]).map {
                Item(
                    id: $0["id"], messageId: $0["message_id"], queueId: $0["queue_id"], recipient: $0["recipient"], state: $0["state"],
                    attempts: $0["attempts"], nextAttemptAt: Store.iso($0["next_attempt_at"]), lastReply: $0["last_reply"])
            }
        }
    }

    /// Makes deferred (or with `failed`, also failed) items due now. One named by id
    /// must exist and be in such a state: "0 made due" for a typo is no answer.
    @discardableResult
    public func retry(id: Int64? = nil, includeFailed: Bool = false) async throws -> Int {
        try await store.database.write { db in
            let states = includeFailed ? "('deferred', 'failed', 'queued')" : "('deferred', 'queued')"
            if let id {
                guard let state = try String.fetchOne(db, sql: "SELECT state FROM outbound WHERE id = ?", arguments: [id]) else {
                    throw RequestError.notFound("no delivery \(id) (queue list shows the deliveries)")
                }
                try db.execute(sql: "UPDATE outbound SET state = 'queued', next_attempt_at = 0 WHERE id = ? AND state IN \(states)", arguments: [id])
                if db.changesCount == 0 {
                    throw RequestError.invalid(
                        "delivery \(id) is \(state): only queued and deferred deliveries are retried\(includeFailed ? "" : " (failed ones with --failed)")")
                }
            } else {
                try db.execute(sql: "UPDATE outbound SET state = 'queued', next_attempt_at = 0 WHERE state IN \(states)")
            }
            return db.changesCount
        }
    }

    /// Removes a pending delivery (it will not be sent).
    public func drop(id: Int64) async throws {
        try await store.database.write { db in
            try db.execute(sql: "UPDATE outbound SET state = 'failed', last_reply = 'dropped by an operator', updated_at = ? WHERE id = ? AND state IN ('queued', 'deferred')", arguments: [Store.nowMillis(), id])
            if db.changesCount == 0 {
                if let state = try String.fetchOne(db, sql: "SELECT state FROM outbound WHERE id = ?", arguments: [id]) {
                    throw RequestError.invalid("delivery \(id) is \(state): only queued and deferred deliveries can be dropped")
                }
                throw RequestError.notFound("no delivery \(id) (queue list shows the deliveries)")
            }
        }
    }

    /// Delivery states of an outbound message, for its timeline entry.
    public static func deliveries(_ message: Int64, _ db: Database) throws -> [DeliveryInfo] {
        try Row.fetchAll(db, sql: "SELECT recipient, state, attempts, last_reply FROM outbound WHERE message_id = ? ORDER BY id", arguments: [message]).map {
            DeliveryInfo(recipient: $0["recipient"], state: $0["state"], attempts: $0["attempts"], lastReply: $0["last_reply"])
        }
    }
}

public struct DeliveryInfo: Sendable, Codable, Equatable {
    public var recipient: String
    public var state: String
    public var attempts: Int
    public var lastReply: String?
}
