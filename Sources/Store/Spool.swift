import Foundation
import GRDB
import Metrics
import Synchronization

/// The durable spool with group commit: sessions that finish DATA while a commit is
/// in progress wait together and are written in the next single transaction, so a
/// burst of N messages costs one fsync, not N. A message's completion runs only after
/// the transaction holding it is on disk; that is what allows the 250.
///
/// One writer thread owns the commits (SQLite has one writer anyway); it blocks on
/// fsync, so it must not be a cooperative-pool thread or an event loop.
public final class Spool: Sendable {
    public typealias Completion = @Sendable (Result<Int64, any Error>) -> Void
    typealias Waiter = (message: InboundMessage, completion: Completion)

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
    public func commit(_ message: InboundMessage, completion: @escaping Completion) {
        let wasIdle = state.withLock { state -> Bool in
            state.pending.append((message, completion))
            return state.pending.count == 1
        }
        if wasIdle { wakeUp.signal() }
    }

    /// Commits one message and returns its row id once it is durable.
    public func commit(_ message: InboundMessage) async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            commit(message) { continuation.resume(with: $0) }
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
            // synchronous = FULL asserted for every spool commit: the 250 depends on it,
            // whatever a relaxed processing write (`writeRedoable`) left on the connection.
            let ids = try store.database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                var ids: [Int64] = []
                try db.inTransaction {
                    ids = try batch.map { try Store.insertInbound($0.message, db) }
                    return .commit
                }
                return ids
            }
            transactionsCounter.increment()
            messagesCounter.increment(by: batch.count)
            // A burst: group commit is batching, or the next batch is already waiting.
            // A trickle (one message per commit, nothing queued) is not one.
            if batch.count > 1 || state.withLock({ !$0.pending.isEmpty }) {
                store.intakeBusyUntil.store(DispatchTime.now().uptimeNanoseconds &+ Self.burstWindow, ordering: .relaxed)
            }
            store.backlog.add(batch.count)
            for (waiter, id) in zip(batch, ids) { waiter.completion(.success(id)) }
        } catch {
            for waiter in batch { waiter.completion(.failure(error)) }
        }
    }

    /// How long after its last batched commit intake still counts as under a burst.
    static let burstWindow: UInt64 = 50_000_000

    /// Postfix-style queue ids: time-ordered, unique across restarts.
    /// 10 base-36 characters of microseconds since 1970, then 5 random ones.
    public static func newQueueID() -> String {
        let micros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        var time = String(micros, radix: 36, uppercase: true)
        if time.utf8.count < 11 { time = String(repeating: "0", count: 11 - time.utf8.count) + time }
        // One random draw (one getrandom call) for the five characters.
        var bits = UInt64.random(in: 0...UInt64.max)
        let count = UInt64(queueIDAlphabet.count)
        let random = (0..<5).map { _ -> UInt8 in
            defer { bits /= count }
            return queueIDAlphabet[Int(bits % count)]
        }
        return time + String(decoding: random, as: UTF8.self)
    }

    static let queueIDAlphabet = Array("0123456789BCDFGHJKLMNPQRSTVWXYZ".utf8)
}
