import Foundation
import GRDB
import Store

public struct ContactSummary: Sendable, Codable, Equatable {
    public var id: Int64
    public var email: String
    public var name: String?
    public var conversationCount: Int
}

/// Contacts as agents manage them: search, create, edit, merge.
public struct Contacts: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// Matches name or any address, case-insensitively; empty query lists the newest.
    public func search(_ query: String?, limit: Int = 50) async throws -> [ContactSummary] {
        try await store.database.read { db in
            var sql = "SELECT c.id, c.email, c.name, (SELECT COUNT(*) FROM conversation v WHERE v.contact_id = c.id) AS n FROM contact c"
            var arguments: StatementArguments = []
            if let query, !query.isEmpty {
                let pattern = "%" + query.lowercased().replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
                sql += " WHERE lower(c.name) LIKE ? OR c.id IN (SELECT contact_id FROM contact_email WHERE email LIKE ?)"
                arguments += [pattern, pattern]
            }
            sql += " ORDER BY c.id DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                ContactSummary(id: $0["id"], email: $0["email"], name: $0["name"], conversationCount: $0["n"])
            }
        }
    }

    public func create(email: String, name: String?) async throws -> Int64 {
        let address = try normalized(email)
        return try await store.database.write { db in
            if let owner = try Int64.fetchOne(db, sql: "SELECT contact_id FROM contact_email WHERE email = ?", arguments: [address]) {
                throw RequestError.conflict("\(address) belongs to contact \(owner)")
            }
            let now = Store.nowMillis()
            try db.execute(sql: "INSERT INTO contact (email, name, created_at, updated_at) VALUES (?, ?, ?, ?)", arguments: [address, name, now, now])
            let id = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO contact_email (email, contact_id) VALUES (?, ?)", arguments: [address, id])
            return id
        }
    }

    /// Renames, changes the primary address, or adds further addresses.
    public func update(_ id: Int64, name: String?, email: String?, addEmails: [String]) async throws {
        let primary = try email.map(normalized)
        let extra = try addEmails.map(normalized)
        try await store.database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM contact WHERE id = ?", arguments: [id]) != nil else {
                throw RequestError.notFound("no contact \(id)")
            }
            for address in extra + (primary.map { [$0] } ?? []) {
                if let owner = try Int64.fetchOne(db, sql: "SELECT contact_id FROM contact_email WHERE email = ?", arguments: [address]), owner != id {
                    throw RequestError.conflict("\(address) belongs to contact \(owner); merge the contacts instead")
                }
                try db.execute(sql: "INSERT OR IGNORE INTO contact_email (email, contact_id) VALUES (?, ?)", arguments: [address, id])
            }
            if let primary { try db.execute(sql: "UPDATE contact SET email = ? WHERE id = ?", arguments: [primary, id]) }
            if let name { try db.execute(sql: "UPDATE contact SET name = ? WHERE id = ?", arguments: [name, id]) }
            try db.execute(sql: "UPDATE contact SET updated_at = ? WHERE id = ?", arguments: [Store.nowMillis(), id])
        }
    }

    /// Joins `source` into `target`: its addresses, conversations and name (if the
    /// target has none) move over, and `source` is removed.
    public func merge(_ source: Int64, into target: Int64) async throws {
        try await store.database.write { db in
            guard source != target else { throw RequestError.conflict("a contact cannot be merged into itself") }
            for id in [source, target] where try Int.fetchOne(db, sql: "SELECT 1 FROM contact WHERE id = ?", arguments: [id]) == nil {
                throw RequestError.notFound("no contact \(id)")
            }
            try db.execute(sql: "UPDATE contact_email SET contact_id = ? WHERE contact_id = ?", arguments: [target, source])
            try db.execute(sql: "UPDATE conversation SET contact_id = ? WHERE contact_id = ?", arguments: [target, source])
            try db.execute(
                sql: "UPDATE contact SET name = COALESCE(name, (SELECT name FROM contact WHERE id = ?)), updated_at = ? WHERE id = ?",
                arguments: [source, Store.nowMillis(), target])
            try db.execute(sql: "DELETE FROM contact WHERE id = ?", arguments: [source])
        }
    }

    func normalized(_ email: String) throws -> String {
        try APIAddress.parse(email, field: "email")
    }
}
