import Crypto
import Foundation
import GRDB
import MailMessage
import Store

/// Imports history into an inbox. Messages go through the same processing as SMTP mail
/// (as channel "import"); a message already in the inbox (same Message-ID, or without
/// one the same content) is skipped, so running an import again adds nothing.
public struct Importer: Sendable {
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var imported: Int
        public var skipped: Int

        public init(done: Int, total: Int, imported: Int, skipped: Int) {
            self.done = done
            self.total = total
            self.imported = imported
            self.skipped = skipped
        }
    }

    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// Adds the messages not already there; calls `progress` after each batch.
    public func run(inbox slug: String, messages: [[UInt8]], channel: InboundMessage.Channel = .importFile, progress: (Progress) -> Void) async throws -> Progress {
        guard let inbox = try await store.inbox(slug: slug) else { throw ConversationError.notFound("no inbox with slug '\(slug)'") }
        let recipient = inbox.addresses.first ?? inbox.fallbackAddress
        var state = Progress(done: 0, total: messages.count, imported: 0, skipped: 0)
        var index = 0
        while index < messages.count {
            let batch = Array(messages[index..<min(messages.count, index + 200)])
            index += batch.count
            // Parse outside the transaction.
            let prepared = batch.map { raw -> (raw: [UInt8], id: String?, hash: String, from: String) in
                let info = Self.identify(raw)
                return (raw, info.id, info.hash, info.from)
            }
            let (added, skipped) = try await store.database.write { db -> (Int, Int) in
                var added = 0, skipped = 0
                for m in prepared {
                    if try Self.known(m.id, m.hash, inbox: inbox.id, db) {
                        skipped += 1
                        continue
                    }
                    try Self.insert(m.raw, messageID: m.id, hash: m.hash, from: m.from, channel: channel, inbox: inbox.id, recipient: recipient, db)
                    added += 1
                }
                return (added, skipped)
            }
            state.done += batch.count
            state.imported += added
            state.skipped += skipped
            progress(state)
        }
        return state
    }

    /// Stores one message as spooled, so the processor files it like SMTP mail.
    static func insert(
        _ raw: [UInt8], messageID: String?, hash: String, from: String, channel: InboundMessage.Channel, inbox: Int64, recipient: String,
        filterResults: String? = nil, _ db: Database
    ) throws {
        try Store.insertInbound(
            InboundMessage(
                queueID: Spool.newQueueID(), receivedAt: Store.nowMillis(), channel: channel, reversePath: from,
                recipients: [.init(address: recipient, canonical: recipient, tag: nil, inboxID: inbox)], raw: raw, filterResults: filterResults,
                headerMessageID: messageID, importHash: hash),
            db)
    }

    static func identify(_ raw: [UInt8]) -> (id: String?, hash: String, from: String) {
        let identity = MailParser.identity(raw)
        return (identity.messageID, ContentHash.of(raw), identity.from)
    }

    /// Already in this inbox: by Message-ID (stored or still spooled), else by content.
    /// CROSS JOIN keeps SQLite from walking every recipient row of the inbox (its plan
    /// without statistics): the message index narrows to a few rows first.
    static func known(_ messageID: String?, _ hash: String, inbox: Int64, _ db: Database) throws -> Bool {
        if let messageID {
            if try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM message_id_index WHERE inbox_id = ? AND header_message_id = ?"), arguments: [inbox, messageID]) != nil {
                return true
            }
            return try Int.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM message m CROSS JOIN message_recipient r ON r.message_id = m.id WHERE r.inbox_id = ? AND m.header_message_id = ? LIMIT 1"),
                arguments: [inbox, messageID]) != nil
        }
        return try Int.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM message m CROSS JOIN message_recipient r ON r.message_id = m.id WHERE r.inbox_id = ? AND m.import_hash = ? LIMIT 1"),
            arguments: [inbox, hash]) != nil
    }
}
