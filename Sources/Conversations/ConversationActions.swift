import Foundation
import GRDB
import Outbound
import Store

/// A comment, assignment, status or ticket change on a conversation's timeline.
public struct TimelineEvent: Sendable, Codable, Equatable {
    public var id: Int64
    public var kind: String
    /// nil for Postroom itself (routing, a customer's reply re-opening).
    public var authorId: Int64?
    public var body: String?
    public var mentions: [Int64]
    public var createdAt: String
}

/// What agents do to conversations. Every change is an event on the timeline, so the
/// history says who did what; comments are internal and never sent to the customer.
public struct ConversationActions: Sendable {
    public let store: Store
    /// Sends notifications (assignment, @mention) when set.
    public let autoMail: AutoMail?

    public init(store: Store, autoMail: AutoMail? = nil) {
        self.store = store
        self.autoMail = autoMail
    }

    @discardableResult
    static func requireConversation(_ id: Int64, _ db: Database) throws {
        guard try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM conversation WHERE id = ?"), arguments: [id]) != nil else {
            throw RequestError.notFound("no conversation \(id)")
        }
    }

    static func requireUser(_ id: Int64?, _ db: Database) throws {
        guard let id else { return }
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT deactivated_at FROM user WHERE id = ?"), arguments: [id]) else {
            throw RequestError.conflict("no user \(id)")
        }
        if (row["deactivated_at"] as Int64?) != nil { throw RequestError.conflict("user \(id) is deactivated") }
    }

    /// Assigns to a user, a team, both (a user within a team) or nobody.
    public func assign(_ conversation: Int64, user: Int64?, team: Int64?, by author: Int64?) async throws {
        try await store.database.write { db in
            try Self.requireConversation(conversation, db)
            try Self.requireUser(user, db)
            try Self.requireUser(author, db)
            if let team, try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM team WHERE id = ?"), arguments: [team]) == nil {
                throw RequestError.conflict("no team \(team)")
            }
            try db.run("UPDATE conversation SET assignee_user_id = ?, assignee_team_id = ? WHERE id = ?", [user, team, conversation])
            let target = [user.map { "user \($0)" }, team.map { "team \($0)" }].compactMap { $0 }.joined(separator: " in ")
            try Store.recordEvent(conversation, kind: "assignment", author: author, body: target.isEmpty ? "unassigned" : "assigned to \(target)", db)
            if let autoMail, let user, user != author {
                let inbox = try Int64.fetchOne(db.cachedStatement(sql: "SELECT inbox_id FROM conversation WHERE id = ?"), arguments: [conversation]) ?? 0
                try autoMail.notify(.assigned, conversation: conversation, inbox: inbox, users: [user], summary: "A conversation was assigned to you.", db)
            }
        }
    }

    /// An internal comment; `@name` (a user's name without spaces, or the local part
    /// of their email) mentions that user.
    public func comment(_ conversation: Int64, author: Int64, body: String) async throws -> TimelineEvent {
        let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw RequestError.invalid("a comment needs a body") }
        let id: Int64 = try await store.database.write { db in
            try Self.requireConversation(conversation, db)
            try Self.requireUser(author, db)
            let event = try Store.recordEvent(conversation, kind: "comment", author: author, body: text, db)
            let mentioned = try Self.mentions(in: text, db)
            for user in mentioned {
                try db.run("INSERT OR IGNORE INTO mention (event_id, user_id) VALUES (?, ?)", [event, user])
            }
            if let autoMail, !mentioned.isEmpty {
                let inbox = try Int64.fetchOne(db.cachedStatement(sql: "SELECT inbox_id FROM conversation WHERE id = ?"), arguments: [conversation]) ?? 0
                try autoMail.notify(.mention, conversation: conversation, inbox: inbox, users: mentioned.filter { $0 != author }, summary: text, db)
            }
            return event
        }
        return try await ConversationQueries(store: store).events(conversation).first { $0.id == id }!
    }

    static func mentions(in text: String, _ db: Database) throws -> [Int64] {
        var tokens: Set<String> = []
        var scanner = Substring(text)
        while let at = scanner.firstIndex(of: "@") {
            let before = at > text.startIndex ? text[text.index(before: at)] : " "
            let rest = scanner[scanner.index(after: at)...]
            let token = rest.prefix { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" }
            if !(before.isLetter || before.isNumber), !token.isEmpty {
                tokens.insert(token.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".-_")))
            }
            scanner = rest
        }
        guard !tokens.isEmpty else { return [] }
        var users: [Int64] = []
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, name, email FROM user ORDER BY id")) {
            let name = (row["name"] as String).lowercased().replacingOccurrences(of: " ", with: "")
            let local = (row["email"] as String).split(separator: "@").first.map { $0.lowercased() } ?? ""
            let first = (row["name"] as String).split(separator: " ").first.map { $0.lowercased() } ?? ""
            if tokens.contains(name) || tokens.contains(local) || tokens.contains(first) { users.append(row["id"]) }
        }
        return users
    }

    /// open, closed, spam, or snoozed until a time (then it re-opens by itself).
    public func setStatus(_ conversation: Int64, status: String, snoozeUntil: Date?, by author: Int64?) async throws {
        guard ConversationQueries.statuses.contains(status) else {
            throw RequestError.invalid("status must be one of \(ConversationQueries.statuses.joined(separator: ", "))")
        }
        if status == "snoozed" && snoozeUntil == nil { throw RequestError.invalid("snoozed needs until (an ISO 8601 time)") }
        try await store.database.write { db in
            try Self.requireConversation(conversation, db)
            try Self.requireUser(author, db)
            let until = status == "snoozed" ? snoozeUntil.map { Int64($0.timeIntervalSince1970 * 1000) } : nil
            try db.run("UPDATE conversation SET status = ?, snoozed_until = ? WHERE id = ?", [status, until, conversation])
            var body = status
            if let snoozeUntil { body += " until \(Store.iso(Int64(snoozeUntil.timeIntervalSince1970 * 1000)))" }
            try Store.recordEvent(conversation, kind: "status", author: author, body: body, db)
            if let ticketStage = status == "closed" ? "closed" : nil {
                try db.run("UPDATE ticket SET stage = ? WHERE conversation_id = ?", [ticketStage, conversation])
            }
        }
    }

    /// Snoozed conversations whose time has come are open again.
    @discardableResult
    public func wakeSnoozed(now: Int64 = Store.nowMillis()) async throws -> Int {
        try await store.database.write { db in
            let due = try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT id FROM conversation WHERE status = 'snoozed' AND snoozed_until IS NOT NULL AND snoozed_until <= ?"), arguments: [now])
            for id in due {
                try db.run("UPDATE conversation SET status = 'open', snoozed_until = NULL WHERE id = ?", [id])
                try Store.recordEvent(id, kind: "status", author: nil, body: "re-opened: snooze ended", db)
            }
            return due.count
        }
    }

    public static let stages = ["new", "waiting-on-contact", "waiting-on-us", "closed"]
    public static let priorities = ["low", "normal", "high", "urgent"]

    public func updateTicket(_ conversation: Int64, stage: String?, priority: String?, owner: Int64??, by author: Int64?) async throws {
        if let stage, !Self.stages.contains(stage) { throw RequestError.invalid("stage must be one of \(Self.stages.joined(separator: ", "))") }
        if let priority, !Self.priorities.contains(priority) {
            throw RequestError.invalid("priority must be one of \(Self.priorities.joined(separator: ", "))")
        }
        try await store.database.write { db in
            try Self.requireConversation(conversation, db)
            guard let number = try Int64.fetchOne(db.cachedStatement(sql: "SELECT number FROM ticket WHERE conversation_id = ?"), arguments: [conversation]) else {
                throw RequestError.notFound("conversation \(conversation) has no ticket")
            }
            try Self.requireUser(author, db)
            var changes: [String] = []
            if let stage {
                try db.run("UPDATE ticket SET stage = ? WHERE number = ?", [stage, number])
                changes.append("stage \(stage)")
            }
            if let priority {
                try db.run("UPDATE ticket SET priority = ? WHERE number = ?", [priority, number])
                changes.append("priority \(priority)")
            }
            if let owner {
                try Self.requireUser(owner, db)
                try db.run("UPDATE ticket SET owner_user_id = ? WHERE number = ?", [owner, number])
                changes.append(owner.map { "owner user \($0)" } ?? "no owner")
            }
            if !changes.isEmpty {
                try Store.recordEvent(conversation, kind: "ticket", author: author, body: "ticket [#\(number)]: " + changes.joined(separator: ", "), db)
            }
        }
    }
}
