import Foundation
import GRDB
import Metrics
import SMTPProtocol
import Synchronization

/// A message handed to the spool: the SMTP transaction plus where it came from.
public struct SpoolEntry: Sendable {
    public var queueID: String
    public var receivedAt: Int64
    public var clientIP: String
    public var receivedHeader: String
    public var transaction: SMTPTransaction
    /// The filters' decision per inbox (JSON), made before the 250; it rides along
    /// with the message and processing carries it out.
    public var filterResults: String?
    /// Sender authentication, checked before the 250: the report (JSON), its verdict and
    /// whether automation may trust the sender.
    public var authentication: (json: String, verdict: String, trusted: Bool)?

    public init(
        queueID: String, receivedAt: Int64, clientIP: String, receivedHeader: String, transaction: SMTPTransaction, filterResults: String? = nil,
        authentication: (json: String, verdict: String, trusted: Bool)? = nil
    ) {
        self.queueID = queueID
        self.receivedAt = receivedAt
        self.clientIP = clientIP
        self.receivedHeader = receivedHeader
        self.transaction = transaction
        self.filterResults = filterResults
        self.authentication = authentication
    }
}

/// The durable spool with group commit: sessions that finish DATA while a commit is
/// in progress wait together and are written in the next single transaction, so a
/// burst of N messages costs one fsync, not N. A message's completion runs only after
/// the transaction holding it is on disk; that is what allows the 250.
///
/// One writer thread owns the commits (SQLite has one writer anyway); it blocks on
/// fsync, so it must not be a cooperative-pool thread or an event loop.
public final class Spool: Sendable {
    public typealias Completion = @Sendable (Result<Int64, any Error>) -> Void
    typealias Waiter = (entry: SpoolEntry, completion: Completion)

    struct State {
        var pending: [Waiter] = []
        var batches = 0
        var messages = 0
        var largestBatch = 0
    }

    let store: Store
    let state = Mutex(State())
    /// messages ÷ transactions is the batching group commit achieves.
    let transactionsCounter = Counter(label: "postroom_spool_transactions_total")
    let messagesCounter = Counter(label: "postroom_spool_messages_total")
    let wakeUp = DispatchSemaphore(value: 0)

    public init(store: Store) {
        self.store = store
        let thread = Thread { [self] in self.writerLoop() }
        thread.name = "postroom-spool"
        thread.start()
    }

    /// Commits one message; `completion` gets its row id once it is durable.
    public func commit(_ entry: SpoolEntry, completion: @escaping Completion) {
        let wasIdle = state.withLock { state -> Bool in
            state.pending.append((entry, completion))
            return state.pending.count == 1
        }
        if wasIdle { wakeUp.signal() }
    }

    /// Commits one message and returns its row id once it is durable.
    public func commit(_ entry: SpoolEntry) async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            commit(entry) { continuation.resume(with: $0) }
        }
    }

    /// Transactions and messages committed so far, and the largest batch: their
    /// ratio is the batching achieved.
    public var statistics: (batches: Int, messages: Int, largestBatch: Int) {
        state.withLock { ($0.batches, $0.messages, $0.largestBatch) }
    }

    func writerLoop() {
        while true {
            wakeUp.wait()
            while true {
                let batch = state.withLock { state -> [Waiter] in
                    let batch = state.pending
                    state.pending = []
                    if !batch.isEmpty {
                        state.batches += 1
                        state.messages += batch.count
                        state.largestBatch = max(state.largestBatch, batch.count)
                    }
                    return batch
                }
                if batch.isEmpty { break }
                write(batch)
            }
        }
    }

    /// One transaction for the whole batch. If it fails, every message in it gets the
    /// error (and so a 451): nothing is acknowledged that is not on disk.
    func write(_ batch: [Waiter]) {
        store.intakeWaiting.add(1, ordering: .relaxed)
        defer { store.intakeWaiting.subtract(1, ordering: .relaxed) }
        do {
            let ids = try store.database.write { db in
                try batch.map { try Self.insert($0.entry, db) }
            }
            transactionsCounter.increment()
            messagesCounter.increment(by: batch.count)
            store.backlog.add(batch.count)
            for (waiter, id) in zip(batch, ids) { waiter.completion(.success(id)) }
        } catch {
            for waiter in batch { waiter.completion(.failure(error)) }
        }
    }

    static func insert(_ entry: SpoolEntry, _ db: Database) throws -> Int64 {
        let t = entry.transaction
        try db.cachedStatement(
            sql: """
                INSERT INTO message (queue_id, received_at, channel, reverse_path, client_ip, helo, protocol, tls,
                    smtputf8, body_type, size, received_header, filter_results, auth_results, auth_verdict, auth_trusted)
                VALUES (?, ?, 'smtp', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                entry.queueID, entry.receivedAt, t.reversePath.description, entry.clientIP, t.heloName,
                t.protocolName, t.tls, t.smtputf8, t.bodyType, t.body.count, entry.receivedHeader,
                entry.filterResults, entry.authentication?.json, entry.authentication?.verdict, entry.authentication?.trusted,
            ])
        let id = db.lastInsertedRowID
        try Store.insertRaw(t.body, message: id, db)
        for (position, recipient) in t.recipients.enumerated() {
            try db.cachedStatement(
                sql: "INSERT INTO message_recipient (message_id, position, address, canonical, tag, inbox_id) VALUES (?, ?, ?, ?, ?, ?)"
            ).execute(
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
