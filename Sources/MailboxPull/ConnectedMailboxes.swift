import Foundation
import GRDB
import IMAPProtocol
import Store

/// A team's existing mailbox at a provider, pulled over IMAP into an inbox.
public struct ConnectedMailbox: Sendable, Codable, Equatable {
    /// `id user@host/folder -> inbox`, as the startup log and `config show` list it.
    public var summary: String { "\(id) \(username)@\(host)/\(folder) -> \(inbox)" }

    public var id: Int64
    public var inbox: String
    public var host: String
    public var port: Int
    public var security: String
    public var username: String
    /// The environment variable the password is read from; the password itself is never stored or shown.
    public var passwordEnv: String
    public var folder: String
    public var importHistory: Bool
    public var uidValidity: Int64?
    public var lastUid: Int64
    public var status: String
    public var lastSync: String?
    public var pulled: Int64
    public var lastError: String?
    /// Failed attempts in a row, and when the next one is due (backoff).
    public var failures: Int64
    public var nextAttempt: String?
    /// CONDSTORE (RFC 7162): the folder's HIGHESTMODSEQ when it was last read through.
    public var highestModSeq: Int64?
}

/// The store side of connected mailboxes: settings, status, and the checkpoint that is
/// committed in the same transaction as the messages it covers, so a restart or kill -9
/// neither pulls a message twice nor skips one.
public struct ConnectedMailboxes: Sendable {
    let store: Store

    public init(store: Store) { self.store = store }

    public func add(
        inbox slug: String, host: String, port: Int, security: String, username: String, passwordEnv: String, folder: String, importHistory: Bool
    ) async throws -> ConnectedMailbox {
        guard ["implicit", "starttls", "plain"].contains(security) else {
            throw RequestError.invalid("security is implicit, starttls or plain, not '\(security)'")
        }
        if security == "plain" && !IMAPHost.isLoopback(host) { throw RequestError.conflict("plain IMAP (no TLS) is allowed only to a loopback address") }
        guard IMAPHost.isValidPort(port) else { throw RequestError.invalid("port must be 1-65535, not \(port)") }
        guard IMAPHost.isValidPasswordEnv(passwordEnv) else {
            throw RequestError.invalid(
                "passwordEnv must name a variable starting with \(IMAPHost.passwordEnvPrefix) (upper-case letters, digits, _), not '\(passwordEnv)'")
        }
        guard !host.isEmpty, host.unicodeScalars.count <= 253, !host.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == 0x2F || $0 == 0x40 }) else {
            throw RequestError.invalid("host must be a host name or an IP address")
        }
        guard let inbox = try await store.inbox(slug: slug) else { throw RequestError.notFound("no inbox with slug '\(slug)'") }
        let id = try await store.database.write { db -> Int64 in
            try db.execute(
                sql: """
                    INSERT INTO connected_mailbox (inbox_id, host, port, security, username, password_env, folder, import_history, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [inbox.id, host, port, security, username, passwordEnv, folder, importHistory, Store.nowMillis()])
            return db.lastInsertedRowID
        }
        guard let added = try await get(id) else { throw RequestError.notFound("mailbox \(id) vanished") }
        return added
    }

    public func list() async throws -> [ConnectedMailbox] {
        try await store.database.read { db in try Row.fetchAll(db, sql: Self.select + " ORDER BY c.id").map(Self.mailbox) }
    }

    public func get(_ id: Int64) async throws -> ConnectedMailbox? {
        try await store.database.read { db in try Row.fetchOne(db, sql: Self.select + " WHERE c.id = ?", arguments: [id]).map(Self.mailbox) }
    }

    @discardableResult
    public func remove(_ id: Int64) async throws -> Bool {
        try await store.database.write { db in
            try db.execute(sql: "DELETE FROM connected_mailbox WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    /// A good connection: the status is connected and the failure count starts over.
    public func connected(_ id: Int64) async throws {
        try await store.database.write { db in
            try db.execute(
                sql: "UPDATE connected_mailbox SET status = 'connected', last_error = NULL, failures = 0, next_attempt = NULL, last_sync = ? WHERE id = ?",
                arguments: [Store.nowMillis(), id])
        }
    }

    /// A failed attempt: the error becomes the status, with the count and the time of
    /// the next attempt. Returns the count of failures in a row.
    @discardableResult
    public func failed(_ id: Int64, error: String, retryIn seconds: Double) async throws -> Int64 {
        try await store.database.write { db in
            try db.execute(
                sql: "UPDATE connected_mailbox SET status = 'error', last_error = ?, failures = failures + 1, next_attempt = ? WHERE id = ?",
                arguments: [PeerText.excerpt(error), Store.nowMillis() + Int64(seconds * 1000), id])
            return try Int64.fetchOne(db, sql: "SELECT failures FROM connected_mailbox WHERE id = ?", arguments: [id]) ?? 0
        }
    }

    /// The folder was read through while its HIGHESTMODSEQ was `modSeq`: a later
    /// connection that sees the same value can skip the search (nothing changed).
    public func readThrough(_ id: Int64, uidValidity: UInt32, highestModSeq modSeq: UInt64?) async throws {
        try await store.database.write { db in
            try db.execute(
                sql: "UPDATE connected_mailbox SET highest_modseq = ? WHERE id = ? AND uid_validity = ?",
                arguments: [modSeq.map { Int64(clamping: $0) }, id, Int64(uidValidity)])
        }
    }

    /// Starting from now: remember where the folder ends without pulling anything.
    public func startFromNow(_ id: Int64, uidValidity: UInt32, lastUID: UInt32) async throws {
        try await store.database.write { db in
            try db.execute(
                sql: "UPDATE connected_mailbox SET uid_validity = ?, last_uid = ? WHERE id = ?", arguments: [Int64(uidValidity), Int64(lastUID), id])
        }
    }

    /// Stores pulled messages (those not already in the inbox) and moves the checkpoint
    /// to the highest UID among them, in one transaction. Returns how many were new.
    /// `filter` gives the inbox filters' decisions (stored for processing) per message.
    public func record(
        _ id: Int64, uidValidity: UInt32, messages: [(uid: UInt32, raw: [UInt8])], through: UInt32? = nil, filter: ([UInt8], _ from: String) -> String? = { _, _ in nil }
    ) async throws -> Int {
        let identified = messages.map { m -> (uid: UInt32, raw: [UInt8], info: (id: String?, hash: String, from: String), filters: String?) in
            let info = Importer.identify(m.raw)
            return (m.uid, m.raw, info, filter(m.raw, info.from))
        }
        return try await store.database.write { db -> Int in
            guard let inbox = try Int64.fetchOne(db, sql: "SELECT inbox_id FROM connected_mailbox WHERE id = ?", arguments: [id]) else {
                throw RequestError.notFound("no connected mailbox \(id)")
            }
            // Pulled mail was sent to the inbox's primary address.
            let recipient = try Store.sendingAddresses(inbox: inbox, db).first ?? ""
            var added = 0
            for m in identified {
                if try Importer.known(m.info.id, m.info.hash, inbox: inbox, db) { continue }
                try Importer.insert(
                    m.raw, messageID: m.info.id, hash: m.info.hash, from: m.info.from, channel: .imap(mailbox: id), inbox: inbox, recipient: recipient,
                    filterResults: m.filters, db)
                added += 1
            }
            let top = (messages.map(\.uid) + (through.map { [$0] } ?? [])).max().map(Int64.init)
            try db.execute(
                sql: """
                    UPDATE connected_mailbox SET uid_validity = ?, last_uid = MAX(last_uid, COALESCE(?, last_uid)), pulled = pulled + ?,
                        status = 'connected', last_error = NULL, failures = 0, next_attempt = NULL, last_sync = ? WHERE id = ?
                    """,
                arguments: [Int64(uidValidity), top, added, Store.nowMillis(), id])
            return added
        }
    }

    /// A new UIDVALIDITY: every UID is void, so the folder is read again from the start
    /// (duplicates are skipped by Message-ID and content).
    public func resetForNewValidity(_ id: Int64, uidValidity: UInt32) async throws {
        try await store.database.write { db in
            try db.execute(
                sql: "UPDATE connected_mailbox SET uid_validity = ?, last_uid = 0, highest_modseq = NULL WHERE id = ?", arguments: [Int64(uidValidity), id])
        }
    }

    static let select = """
        SELECT c.*, i.slug FROM connected_mailbox c JOIN inbox i ON i.id = c.inbox_id
        """

    static func mailbox(_ row: Row) -> ConnectedMailbox {
        ConnectedMailbox(
            id: row["id"], inbox: row["slug"], host: row["host"], port: row["port"], security: row["security"], username: row["username"],
            passwordEnv: row["password_env"], folder: row["folder"], importHistory: row["import_history"], uidValidity: row["uid_validity"],
            lastUid: row["last_uid"], status: row["status"], lastSync: (row["last_sync"] as Int64?).map(Store.iso), pulled: row["pulled"],
            lastError: row["last_error"], failures: row["failures"], nextAttempt: (row["next_attempt"] as Int64?).map(Store.iso),
            highestModSeq: row["highest_modseq"])
    }
}

extension ConnectedMailboxes {
    /// The pull's view of one connected mailbox; `filter` gives the inbox filters'
    /// decisions (stored for processing) for each pulled message and its sender.
    public func destination(_ id: Int64, filter: @escaping @Sendable ([UInt8], _ from: String) -> String? = { _, _ in nil }) -> Destination {
        Destination(mailboxes: self, id: id, filter: filter)
    }

    public struct Destination: PullDestination {
        let mailboxes: ConnectedMailboxes
        let id: Int64
        let filter: @Sendable ([UInt8], String) -> String?

        public func checkpoint() async throws -> PullCheckpoint {
            guard let m = try await mailboxes.get(id) else { throw RequestError.notFound("no connected mailbox \(id)") }
            return PullCheckpoint(
                uidValidity: m.uidValidity.map { UInt32(clamping: $0) }, lastUID: UInt32(clamping: m.lastUid),
                highestModSeq: m.highestModSeq.map { UInt64(clamping: $0) })
        }

        public func record(_ messages: [(uid: UInt32, raw: [UInt8])], through: UInt32?, uidValidity: UInt32) async throws -> (added: Int, skipped: Int) {
            let added = try await mailboxes.record(id, uidValidity: uidValidity, messages: messages, through: through, filter: filter)
            return (added, messages.count - added)
        }

        public func restart(uidValidity: UInt32) async throws { try await mailboxes.resetForNewValidity(id, uidValidity: uidValidity) }
        public func markEnd(uidValidity: UInt32, lastUID: UInt32) async throws { try await mailboxes.startFromNow(id, uidValidity: uidValidity, lastUID: lastUID) }
        public func unchanged() async throws { try await mailboxes.connected(id) }
        public func readThrough(uidValidity: UInt32, highestModSeq: UInt64?) async throws {
            try await mailboxes.readThrough(id, uidValidity: uidValidity, highestModSeq: highestModSeq)
        }
    }
}
