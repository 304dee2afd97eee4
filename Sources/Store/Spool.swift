import Foundation
import GRDB
import SMTPProtocol
import Synchronization

/// A message handed to the spool: the SMTP transaction plus where it came from.
public struct SpoolEntry: Sendable {
    public var queueID: String
    public var receivedAt: Int64
    public var clientIP: String
    public var receivedHeader: String
    public var transaction: SMTPTransaction

    public init(queueID: String, receivedAt: Int64, clientIP: String, receivedHeader: String, transaction: SMTPTransaction) {
        self.queueID = queueID
        self.receivedAt = receivedAt
        self.clientIP = clientIP
        self.receivedHeader = receivedHeader
        self.transaction = transaction
    }
}

/// The durable spool with group commit: sessions that finish DATA while a commit is
/// in progress wait together and are written in the next single transaction, so a
/// burst of N messages costs one fsync, not N. `commit` returns only after the
/// transaction holding the message is on disk; that return is what allows the 250.
public final class Spool: Sendable {
    typealias Waiter = (entry: SpoolEntry, continuation: CheckedContinuation<Int64, any Error>)

    struct State {
        var pending: [Waiter] = []
        var writing = false
        var batches = 0
        var messages = 0
    }

    let store: Store
    let state = Mutex(State())

    public init(store: Store) {
        self.store = store
    }

    /// Commits one message; returns its row id once it is durable.
    public func commit(_ entry: SpoolEntry) async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            let startWriter = state.withLock { state -> Bool in
                state.pending.append((entry, continuation))
                if state.writing { return false }
                state.writing = true
                return true
            }
            if startWriter {
                Task { await self.drain() }
            }
        }
    }

    /// (transactions, messages) committed so far: the ratio is the batching achieved.
    public var statistics: (batches: Int, messages: Int) {
        state.withLock { ($0.batches, $0.messages) }
    }

    func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiter] in
                if state.pending.isEmpty {
                    state.writing = false
                    return []
                }
                let batch = state.pending
                state.pending = []
                state.batches += 1
                state.messages += batch.count
                return batch
            }
            if batch.isEmpty { return }
            let entries = batch.map(\.entry)
            do {
                let results: [Result<Int64, any Error>] = try await store.database.write { db in
                    try entries.map { entry in
                        do {
                            var id: Int64 = 0
                            try db.inSavepoint {
                                id = try Self.insert(entry, db)
                                return .commit
                            }
                            return .success(id)
                        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                            return .failure(error)
                        }
                    }
                }
                for (waiter, result) in zip(batch, results) {
                    waiter.continuation.resume(with: result)
                }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }

    static func insert(_ entry: SpoolEntry, _ db: Database) throws -> Int64 {
        let t = entry.transaction
        try db.execute(
            sql: """
                INSERT INTO message (queue_id, received_at, channel, reverse_path, client_ip, helo, protocol, tls,
                    smtputf8, body_type, size, received_header, raw)
                VALUES (?, ?, 'smtp', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.queueID, entry.receivedAt, t.reversePath.description, entry.clientIP, t.heloName,
                t.protocolName, t.tls, t.smtputf8, t.bodyType, t.body.count, entry.receivedHeader,
                Data(t.body),
            ])
        let id = db.lastInsertedRowID
        for (position, recipient) in t.recipients.enumerated() {
            try db.execute(
                sql: "INSERT INTO message_recipient (message_id, position, address, canonical, tag, inbox_id) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, position, recipient.address.description, recipient.canonical, recipient.tag, recipient.inboxID])
        }
        return id
    }

    /// Postfix-style queue ids: time-ordered, unique across restarts.
    /// 10 base-36 characters of microseconds since 1970, then 5 random ones.
    public static func newQueueID() -> String {
        let micros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        let alphabet = Array("0123456789BCDFGHJKLMNPQRSTVWXYZ")
        var time = String(micros, radix: 36, uppercase: true)
        while time.count < 11 { time = "0" + time }
        return time + String((0..<5).map { _ in alphabet.randomElement()! })
    }
}
