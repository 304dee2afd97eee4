import GRDB
import Store

/// The one suppression policy for mail of ours (replies, acknowledgements, vacation
/// replies, notifications, redirects): never to an address a hard bounce suppressed,
/// never to one of our own addresses (that would loop). Addresses compare without
/// regard to case: a report's `Ann@Customer.test` suppresses `ann@customer.test`.
public enum SuppressionPolicy {
    public enum Refusal: Equatable {
        case suppressed
        case ownAddress
    }

    public static func refusal(for address: String, own: Set<String>, _ db: Database) throws -> Refusal? {
        if try isSuppressed(address, db) { return .suppressed }
        return Store.isOwn(address.lowercased(), own) ? .ownAddress : nil
    }

    public static func isSuppressed(_ address: String, _ db: Database) throws -> Bool {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM suppression WHERE email = ? COLLATE NOCASE LIMIT 1"), arguments: [address]) != nil
    }
}

/// An address a hard bounce suppressed, as the API and the CLI show it.
public struct Suppression: Sendable, Codable, Equatable {
    public var email: String
    public var reason: String
    public var status: String?
    public var bounceMessageId: Int64?
    public var createdAt: String
}

/// The suppression list for operators: what is suppressed, and lifting one.
public struct Suppressions: Sendable {
    let store: Store

    public init(store: Store) { self.store = store }

    public func list() async throws -> [Suppression] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT email, reason, status, bounce_message_id, created_at FROM suppression ORDER BY created_at DESC, email").map {
                Suppression(email: $0["email"], reason: $0["reason"], status: $0["status"], bounceMessageId: $0["bounce_message_id"], createdAt: Store.iso($0["created_at"]))
            }
        }
    }

    public func remove(_ email: String) async throws {
        try await store.database.write { db in
            try db.execute(sql: "DELETE FROM suppression WHERE email = ? COLLATE NOCASE", arguments: [email])
            if db.changesCount == 0 { throw RequestError.notFound("\(email) is not suppressed") }
        }
    }
}
