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
        guard let inbox = try await store.inbox(slug: slug) else { throw RequestError.notFound("no inbox with slug '\(slug)'") }
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

    /// The pull's view of an `import imap` into an inbox: the checkpoint is kept per
    /// inbox and `source` (the folder's URL without its password).
    public func destination(inbox slug: String, source: String) async throws -> Destination {
        guard let inbox = try await store.inbox(slug: slug) else { throw RequestError.notFound("no inbox with slug '\(slug)'") }
        return Destination(store: store, inbox: inbox.id, recipient: inbox.addresses.first ?? inbox.fallbackAddress, source: source)
    }

    public struct Destination: PullDestination {
        let store: Store
        let inbox: Int64
        let recipient: String
        let source: String

        public func checkpoint() async throws -> PullCheckpoint {
            try await store.database.read { db in
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT uid_validity, last_uid, highest_modseq FROM import_checkpoint WHERE inbox_id = ? AND source = ?", arguments: [inbox, source])
                else { return PullCheckpoint(uidValidity: nil, lastUID: 0) }
                return PullCheckpoint(
                    uidValidity: (row["uid_validity"] as Int64?).map { UInt32(clamping: $0) }, lastUID: UInt32(clamping: row["last_uid"] as Int64),
                    highestModSeq: (row["highest_modseq"] as Int64?).map { UInt64(clamping: $0) })
            }
        }

        public func record(_ messages: [(uid: UInt32, raw: [UInt8])], through: UInt32?, uidValidity: UInt32) async throws -> (added: Int, skipped: Int) {
            // Parsed outside the transaction.
            let identified = messages.map { (raw: $0.raw, info: Importer.identify($0.raw)) }
            let top = (messages.map(\.uid) + (through.map { [$0] } ?? [])).max().map(Int64.init)
            let inbox = self.inbox, recipient = self.recipient, source = self.source
            return try await store.database.write { db -> (added: Int, skipped: Int) in
                var added = 0, skipped = 0
                for m in identified {
                    if try Importer.known(m.info.id, m.info.hash, inbox: inbox, db) {
                        skipped += 1
                        continue
                    }
                    try Importer.insert(m.raw, messageID: m.info.id, hash: m.info.hash, from: m.info.from, channel: .importFile, inbox: inbox, recipient: recipient, db)
                    added += 1
                }
                try db.execute(
                    sql: """
                        INSERT INTO import_checkpoint (inbox_id, source, uid_validity, last_uid, updated_at) VALUES (?, ?, ?, COALESCE(?, 0), ?)
                        ON CONFLICT (inbox_id, source) DO UPDATE SET uid_validity = excluded.uid_validity,
                            last_uid = MAX(last_uid, excluded.last_uid), updated_at = excluded.updated_at
                        """,
                    arguments: [inbox, source, Int64(uidValidity), top, Store.nowMillis()])
                return (added, skipped)
            }
        }

        public func restart(uidValidity: UInt32) async throws { try await set(uidValidity: uidValidity, lastUID: 0) }
        public func markEnd(uidValidity: UInt32, lastUID: UInt32) async throws { try await set(uidValidity: uidValidity, lastUID: lastUID) }
        public func unchanged() async throws {}

        public func readThrough(uidValidity: UInt32, highestModSeq: UInt64?) async throws {
            let inbox = self.inbox, source = self.source
            try await store.database.write { db in
                try db.execute(
                    sql: "UPDATE import_checkpoint SET highest_modseq = ? WHERE inbox_id = ? AND source = ? AND uid_validity = ?",
                    arguments: [highestModSeq.map { Int64(clamping: $0) }, inbox, source, Int64(uidValidity)])
            }
        }

        func set(uidValidity: UInt32, lastUID: UInt32) async throws {
            let inbox = self.inbox, source = self.source
            try await store.database.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO import_checkpoint (inbox_id, source, uid_validity, last_uid, highest_modseq, updated_at) VALUES (?, ?, ?, ?, NULL, ?)
                        ON CONFLICT (inbox_id, source) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid,
                            highest_modseq = NULL, updated_at = excluded.updated_at
                        """,
                    arguments: [inbox, source, Int64(uidValidity), Int64(lastUID), Store.nowMillis()])
            }
        }
    }
}
