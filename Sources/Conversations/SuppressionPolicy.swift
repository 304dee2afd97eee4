import GRDB

/// The one suppression policy for mail of ours (replies, acknowledgements, vacation
/// replies, notifications, redirects): never to an address a hard bounce suppressed,
/// never to one of our own addresses (that would loop). Addresses compare without
/// regard to case: a report's `Ann@Customer.test` suppresses `ann@customer.test`.
enum SuppressionPolicy {
    enum Refusal: Equatable {
        case suppressed
        case ownAddress
    }

    static func refusal(for address: String, own: Set<String>, _ db: Database) throws -> Refusal? {
        if try isSuppressed(address, db) { return .suppressed }
        return MessageProcessor.isOwn(address.lowercased(), own) ? .ownAddress : nil
    }

    static func isSuppressed(_ address: String, _ db: Database) throws -> Bool {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM suppression WHERE email = ? COLLATE NOCASE LIMIT 1"), arguments: [address]) != nil
    }
}
