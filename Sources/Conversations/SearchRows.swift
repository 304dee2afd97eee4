import GRDB
import Logging

/// Full-text rows of one filing transaction, written together at its end.
///
/// FTS5 writes its pending terms out as a new segment at every savepoint and
/// release (fts5SavepointMethod / fts5ReleaseMethod), and filing runs each message in
/// a savepoint of its own (a failure files that message for review and the rest go
/// on). Inserted inside those savepoints, every message became a tiny segment of its
/// own, with the merges that follow: 64-100 µs of the writer's time per message in
/// SQLite's statement profile, a fifth of filing. Rows of a message are kept only when
/// its savepoint commits, so a failed message leaves no search row, as before.
final class SearchRows {
    struct Row {
        var entry: Int64
        var subject: String
        var body: String
        var conversation: Int64
    }

    var rows: [Row] = []

    func add(entry: Int64, subject: String, body: String, conversation: Int64) {
        rows.append(Row(entry: entry, subject: subject, body: body, conversation: conversation))
    }

    /// Writes the rows, together in one savepoint (one segment). Should that fail, each
    /// row is tried alone and one that still fails is logged and left out: the messages
    /// are filed, and a search row is not worth holding the whole batch back (before,
    /// such a failure filed that one message for review).
    func write(_ db: Database, logger: Logger) throws {
        defer { rows = [] }
        do {
            try db.inSavepoint {
                for row in rows { try Self.insert(entry: row.entry, subject: row.subject, body: row.body, conversation: row.conversation, db) }
                return .commit
            }
        } catch {
            for row in rows {
                do {
                    try db.inSavepoint {
                        try Self.insert(entry: row.entry, subject: row.subject, body: row.body, conversation: row.conversation, db)
                        return .commit
                    }
                } catch {
                    logger.error("entry \(row.entry) (conversation \(row.conversation)): not indexed for search: \(error)")
                }
            }
        }
    }

    static func insert(entry: Int64, subject: String, body: String, conversation: Int64, _ db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO message_search (rowid, subject, body, conversation_id) VALUES (?, ?, ?, ?)")
            .execute(arguments: [entry, subject, body, conversation])
    }
}
