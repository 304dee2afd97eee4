import GRDB
import Store

extension ConversationActions {
    /// Moves one message out of its conversation into a new one (same inbox), for when
    /// threading joined what the agent sees as two matters. Later replies to that
    /// message follow it to the new conversation.
    public func split(_ conversation: Int64, messageID: Int64, by author: Int64?) async throws -> Int64 {
        try await store.database.write { db in
            try Self.requireConversation(conversation, db)
            try Self.requireUser(author, db)
            guard let entry = try Row.fetchOne(
                db, sql: "SELECT id, inbox_id FROM entry WHERE conversation_id = ? AND message_id = ?", arguments: [conversation, messageID])
            else { throw RequestError.notFound("message \(messageID) is not in conversation \(conversation)") }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry WHERE conversation_id = ?", arguments: [conversation]) ?? 0
            guard count > 1 else { throw RequestError.conflict("the message is the only one in conversation \(conversation)") }
            let message = try Row.fetchOne(db, sql: "SELECT subject, from_address, received_at FROM message WHERE id = ?", arguments: [messageID])!
            let from: String? = message["from_address"]
            let contact = try from.flatMap { try Int64.fetchOne(db, sql: "SELECT contact_id FROM contact_email WHERE email = ?", arguments: [$0]) }
            let received: Int64 = message["received_at"]
            try db.execute(
                sql: "INSERT INTO conversation (inbox_id, subject, status, contact_id, linked_conversation_id, created_at, last_message_at) VALUES (?, ?, 'open', ?, ?, ?, ?)",
                arguments: [entry["inbox_id"] as Int64, message["subject"] as String?, contact, conversation, Store.nowMillis(), received])
            let new = db.lastInsertedRowID
            let entryID: Int64 = entry["id"]
            try db.execute(
                sql: "UPDATE entry SET conversation_id = ?, thread_rule = 'split', thread_detail = ? WHERE id = ?",
                arguments: [new, "split from conversation \(conversation)", entryID])
            try db.execute(sql: "UPDATE message_id_index SET conversation_id = ? WHERE message_id = ? AND conversation_id = ?", arguments: [new, messageID, conversation])
            try db.execute(sql: "UPDATE bounce SET conversation_id = ? WHERE message_id = ?", arguments: [new, messageID])
            if let from {
                try db.execute(sql: "INSERT OR IGNORE INTO conversation_participant (conversation_id, email) VALUES (?, ?)", arguments: [new, from])
            }
            try Store.recordEvent(conversation, kind: "status", author: author, body: "message \(messageID) split into conversation \(new)", db)
            try Store.recordEvent(new, kind: "status", author: author, body: "split from conversation \(conversation)", db)
            return new
        }
    }

    /// Moves everything of `source` (messages, events, participants, references, bounces)
    /// into `target` of the same inbox. `source` remains as a pointer: mail that names
    /// it (by reference, token or ticket tag) lands in `target`.
    public func merge(_ source: Int64, into target: Int64, by author: Int64?) async throws {
        try await store.database.write { db in
            guard source != target else { throw RequestError.conflict("a conversation cannot be merged into itself") }
            try Self.requireConversation(source, db)
            try Self.requireConversation(target, db)
            try Self.requireUser(author, db)
            let inboxes = try Int64.fetchAll(db, sql: "SELECT inbox_id FROM conversation WHERE id IN (?, ?)", arguments: [source, target])
            guard Set(inboxes).count == 1 else { throw RequestError.conflict("conversations of different inboxes cannot be merged") }
            if try Int64.fetchOne(db, sql: "SELECT merged_into FROM conversation WHERE id = ?", arguments: [source]) != nil {
                throw RequestError.conflict("conversation \(source) was merged already")
            }
            if try Int64.fetchOne(db, sql: "SELECT merged_into FROM conversation WHERE id = ?", arguments: [target]) != nil {
                throw RequestError.conflict("conversation \(target) was merged into another; merge into that one")
            }
            try db.execute(sql: "UPDATE entry SET conversation_id = ? WHERE conversation_id = ?", arguments: [target, source])
            try db.execute(sql: "UPDATE event SET conversation_id = ? WHERE conversation_id = ?", arguments: [target, source])
            try db.execute(sql: "UPDATE message_id_index SET conversation_id = ? WHERE conversation_id = ?", arguments: [target, source])
            try db.execute(sql: "UPDATE bounce SET conversation_id = ? WHERE conversation_id = ?", arguments: [target, source])
            try db.execute(
                sql: "INSERT OR IGNORE INTO conversation_participant (conversation_id, email) SELECT ?, email FROM conversation_participant WHERE conversation_id = ?",
                arguments: [target, source])
            try db.execute(sql: "DELETE FROM conversation_participant WHERE conversation_id = ?", arguments: [source])
            // The target keeps its ticket; the source's ticket moves over when the target has none.
            if try Int.fetchOne(db, sql: "SELECT 1 FROM ticket WHERE conversation_id = ?", arguments: [target]) == nil {
                try db.execute(sql: "UPDATE ticket SET conversation_id = ? WHERE conversation_id = ?", arguments: [target, source])
            }
            try db.execute(
                sql: """
                    UPDATE conversation SET last_message_at = MAX(last_message_at, (SELECT last_message_at FROM conversation WHERE id = ?))
                    WHERE id = ?
                    """, arguments: [source, target])
            try db.execute(sql: "UPDATE conversation SET merged_into = ?, status = 'closed' WHERE id = ?", arguments: [target, source])
            try Store.recordEvent(target, kind: "status", author: author, body: "conversation \(source) merged into this one", db)
        }
    }
}
