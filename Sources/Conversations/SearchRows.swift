import GRDB

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

    /// Writes the rows (outside any savepoint of the transaction).
    func write(_ db: Database) throws {
        for row in rows {
            try Self.insert(entry: row.entry, subject: row.subject, body: row.body, conversation: row.conversation, db)
        }
        rows = []
    }

    static func insert(entry: Int64, subject: String, body: String, conversation: Int64, _ db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO message_search (rowid, subject, body, conversation_id) VALUES (?, ?, ?, ?)")
            .execute(arguments: [entry, subject, body, conversation])
    }
}
