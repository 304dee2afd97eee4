import Foundation
import GRDB
import Store

public struct User: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var email: String
    public var avatarUrl: String?
    public var meetingLink: String?
    public var available: Bool
    public var notifyByEmail: Bool
    /// What to be told about by mail (when notifyByEmail).
    public var notifyNewConversation: Bool
    public var notifyAssigned: Bool
    public var notifyMention: Bool
    public var notifyCustomerReply: Bool
    public var teams: [Int64]
    /// False once deactivated (a person who left): kept for the history, never routed
    /// to, assigned or told.
    public var active: Bool
}

public struct Team: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var members: [Int64]
}

public struct UserInput: Sendable, Codable {
    public var name: String?
    public var email: String?
    public var avatarUrl: String?
    public var meetingLink: String?
    public var available: Bool?
    public var notifyByEmail: Bool?
    public var notifyNewConversation: Bool?
    public var notifyAssigned: Bool?
    public var notifyMention: Bool?
    public var notifyCustomerReply: Bool?

    public init(
        name: String? = nil, email: String? = nil, avatarUrl: String? = nil, meetingLink: String? = nil, available: Bool? = nil,
        notifyByEmail: Bool? = nil
    ) {
        self.name = name
        self.email = email
        self.avatarUrl = avatarUrl
        self.meetingLink = meetingLink
        self.available = available
        self.notifyByEmail = notifyByEmail
    }
}

/// Users (agents) and teams, and who is a member of which inbox.
public struct People: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    public func createUser(_ input: UserInput) async throws -> User {
        guard let name = input.name?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else {
            throw RequestError.invalid("name is required")
        }
        guard let given = input.email else { throw RequestError.invalid("email is required and must be a mail address") }
        let email = try APIAddress.parse(given, field: "email")
        let id: Int64 = try await store.database.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM user WHERE email = ?", arguments: [email]) != nil {
                throw RequestError.conflict("a user with email \(email) exists")
            }
            try db.execute(
                sql: "INSERT INTO user (name, email, avatar_url, meeting_link, available, notify_email, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [name, email, input.avatarUrl, input.meetingLink, input.available ?? true, input.notifyByEmail ?? true, Store.nowMillis()])
            return db.lastInsertedRowID
        }
        return try await user(id)
    }

    public func updateUser(_ id: Int64, _ input: UserInput) async throws -> User {
        try await store.database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM user WHERE id = ?", arguments: [id]) != nil else {
                throw RequestError.notFound("no user \(id)")
            }
            if let name = input.name {
                guard name.contains(where: { !$0.isWhitespace }) else { throw RequestError.invalid("name must not be blank") }
                try db.execute(sql: "UPDATE user SET name = ? WHERE id = ?", arguments: [name, id])
            }
            if let given = input.email {
                let email = try APIAddress.parse(given, field: "email")
                if try Int.fetchOne(db, sql: "SELECT 1 FROM user WHERE email = ? AND id != ?", arguments: [email, id]) != nil {
                    throw RequestError.conflict("a user with email \(email) exists")
                }
                try db.execute(sql: "UPDATE user SET email = ? WHERE id = ?", arguments: [email, id])
            }
            if let url = input.avatarUrl { try db.execute(sql: "UPDATE user SET avatar_url = ? WHERE id = ?", arguments: [url, id]) }
            if let link = input.meetingLink { try db.execute(sql: "UPDATE user SET meeting_link = ? WHERE id = ?", arguments: [link, id]) }
            if let available = input.available { try db.execute(sql: "UPDATE user SET available = ? WHERE id = ?", arguments: [available, id]) }
            if let notify = input.notifyByEmail { try db.execute(sql: "UPDATE user SET notify_email = ? WHERE id = ?", arguments: [notify, id]) }
            for (column, value) in [
                ("notify_new_conversation", input.notifyNewConversation), ("notify_assigned", input.notifyAssigned),
                ("notify_mention", input.notifyMention), ("notify_customer_reply", input.notifyCustomerReply),
            ] {
                if let value { try db.execute(sql: "UPDATE user SET \(column) = ? WHERE id = ?", arguments: [value, id]) }
            }
        }
        return try await user(id)
    }

    /// Deactivates a person who left: they stay (their comments, replies and events keep
    /// their author) but leave every inbox and team, inboxes routing to them route to no
    /// one, the conversations still open on them become unassigned (each with an event
    /// saying why), and nothing more is assigned or sent to them. Deactivating twice
    /// changes nothing.
    public func deactivateUser(_ id: Int64) async throws -> User {
        try await store.database.write { db in
            guard let deactivated = try Row.fetchOne(db, sql: "SELECT deactivated_at FROM user WHERE id = ?", arguments: [id]) else {
                throw RequestError.notFound("no user \(id)")
            }
            guard (deactivated["deactivated_at"] as Int64?) == nil else { return }
            try db.execute(sql: "UPDATE user SET deactivated_at = ?, available = 0 WHERE id = ?", arguments: [Store.nowMillis(), id])
            try db.execute(sql: "DELETE FROM inbox_member WHERE user_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM team_member WHERE user_id = ?", arguments: [id])
            try db.execute(sql: "UPDATE inbox SET routing = 'none', routing_target = NULL WHERE routing = 'user' AND routing_target = ?", arguments: [id])
            for conversation in try Int64.fetchAll(
                db, sql: "SELECT id FROM conversation WHERE assignee_user_id = ? AND status != 'closed'", arguments: [id])
            {
                try db.execute(sql: "UPDATE conversation SET assignee_user_id = NULL WHERE id = ?", arguments: [conversation])
                try Store.recordEvent(conversation, kind: "assignment", author: nil, body: "unassigned: user \(id) was deactivated", db)
            }
        }
        return try await user(id)
    }

    public func user(_ id: Int64) async throws -> User {
        let users = try await store.database.read { db in try Self.fetchUsers(db, whereSQL: "WHERE u.id = ?", arguments: [id]) }
        guard let user = users.first else { throw RequestError.notFound("no user \(id)") }
        return user
    }

    public func users() async throws -> [User] {
        try await store.database.read { db in try Self.fetchUsers(db, whereSQL: "", arguments: []) }
    }

    static func fetchUsers(_ db: Database, whereSQL: String, arguments: StatementArguments) throws -> [User] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT u.*, (SELECT group_concat(team_id) FROM team_member t WHERE t.user_id = u.id) AS teams
                FROM user u \(whereSQL) ORDER BY u.id
                """, arguments: arguments
        ).map {
            User(
                id: $0["id"], name: $0["name"], email: $0["email"], avatarUrl: $0["avatar_url"], meetingLink: $0["meeting_link"],
                available: $0["available"], notifyByEmail: $0["notify_email"], notifyNewConversation: $0["notify_new_conversation"],
                notifyAssigned: $0["notify_assigned"], notifyMention: $0["notify_mention"], notifyCustomerReply: $0["notify_customer_reply"],
                teams: (($0["teams"] as String?) ?? "").split(separator: ",").compactMap { Int64($0) }.sorted(),
                active: ($0["deactivated_at"] as Int64?) == nil)
        }
    }

    public func createTeam(name: String, members: [Int64]) async throws -> Team {
        let id: Int64 = try await store.database.write { db in
            guard name.contains(where: { !$0.isWhitespace }) else { throw RequestError.invalid("name is required") }
            if try Int.fetchOne(db, sql: "SELECT 1 FROM team WHERE name = ?", arguments: [name]) != nil {
                throw RequestError.conflict("a team named \(name) exists")
            }
            try db.execute(sql: "INSERT INTO team (name, created_at) VALUES (?, ?)", arguments: [name, Store.nowMillis()])
            let id = db.lastInsertedRowID
            try Self.setTeamMembers(id, members, db)
            return id
        }
        return try await team(id)
    }

    public func setTeamMembers(_ id: Int64, _ members: [Int64]) async throws -> Team {
        try await store.database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM team WHERE id = ?", arguments: [id]) != nil else {
                throw RequestError.notFound("no team \(id)")
            }
            try Self.setTeamMembers(id, members, db)
        }
        return try await team(id)
    }

    static func setTeamMembers(_ id: Int64, _ members: [Int64], _ db: Database) throws {
        try requireUsers(members, db)
        try db.execute(sql: "DELETE FROM team_member WHERE team_id = ?", arguments: [id])
        for user in Set(members) {
            try db.execute(sql: "INSERT INTO team_member (team_id, user_id) VALUES (?, ?)", arguments: [id, user])
        }
    }

    static func requireUsers(_ ids: [Int64], _ db: Database) throws {
        for user in ids { try ConversationActions.requireUser(user, db) }
    }

    public func team(_ id: Int64) async throws -> Team {
        let team = try await store.database.read { db -> Team? in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, name FROM team WHERE id = ?", arguments: [id]) else { return nil }
            let members = try Int64.fetchAll(db, sql: "SELECT user_id FROM team_member WHERE team_id = ? ORDER BY user_id", arguments: [id])
            return Team(id: row["id"], name: row["name"], members: members)
        }
        guard let team else { throw RequestError.notFound("no team \(id)") }
        return team
    }

    public func teams() async throws -> [Team] {
        let ids = try await store.database.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM team ORDER BY id") }
        var result: [Team] = []
        for id in ids { result.append(try await team(id)) }
        return result
    }

    /// Inbox members: the people routing picks from.
    public func setInboxMembers(slug: String, _ members: [Int64]) async throws -> [Int64] {
        try await store.database.write { db in
            guard let inbox = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw RequestError.notFound("no inbox with slug '\(slug)'")
            }
            try Self.requireUsers(members, db)
            try db.execute(sql: "DELETE FROM inbox_member WHERE inbox_id = ?", arguments: [inbox])
            for user in Set(members) {
                try db.execute(sql: "INSERT INTO inbox_member (inbox_id, user_id) VALUES (?, ?)", arguments: [inbox, user])
            }
            return try Int64.fetchAll(db, sql: "SELECT user_id FROM inbox_member WHERE inbox_id = ? ORDER BY user_id", arguments: [inbox])
        }
    }

    public func inboxMembers(slug: String) async throws -> [Int64] {
        try await store.database.read { db in
            guard let inbox = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw RequestError.notFound("no inbox with slug '\(slug)'")
            }
            return try Int64.fetchAll(db, sql: "SELECT user_id FROM inbox_member WHERE inbox_id = ? ORDER BY user_id", arguments: [inbox])
        }
    }

    /// Sets how an inbox routes new conversations: none, user (target = user id),
    /// team (target = team id), round-robin or fewest-open among available members.
    public func setRouting(slug: String, rule: String, target: Int64?) async throws {
        let rules = ["none", "user", "team", "round-robin", "fewest-open"]
        guard rules.contains(rule) else { throw RequestError.invalid("routing must be one of \(rules.joined(separator: ", "))") }
        try await store.database.write { db in
            guard let inbox = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw RequestError.notFound("no inbox with slug '\(slug)'")
            }
            if rule == "user" {
                guard let target else { throw RequestError.invalid("routing user needs routingTarget: an existing user id") }
                guard try Int.fetchOne(db, sql: "SELECT 1 FROM user WHERE id = ? AND deactivated_at IS NULL", arguments: [target]) != nil else {
                    throw RequestError.conflict("routingTarget: no active user \(target)")
                }
            }
            if rule == "team" {
                guard let target else { throw RequestError.invalid("routing team needs routingTarget: an existing team id") }
                guard try Int.fetchOne(db, sql: "SELECT 1 FROM team WHERE id = ?", arguments: [target]) != nil else {
                    throw RequestError.conflict("routingTarget: no team \(target)")
                }
            }
            try db.execute(
                sql: "UPDATE inbox SET routing = ?, routing_target = ? WHERE id = ?",
                arguments: [rule, rule == "user" || rule == "team" ? target : nil, inbox])
        }
    }
}
