import IMAPClient
import Synchronization

/// Where pulled messages go, with their checkpoint: a connected mailbox's inbox, or the
/// inbox an `import imap` fills. Each `record` stores the messages not already there
/// and moves the checkpoint in one transaction, so a crash or kill -9 between batches
/// neither stores a message twice nor skips one.
public protocol PullDestination: Sendable {
    func checkpoint() async throws -> PullCheckpoint
    /// Stores the batch and moves the checkpoint to `through` (the highest UID the batch
    /// covers, expunged ones included); nil `through` just confirms the folder.
    /// Returns how many were new and how many were already in the inbox.
    func record(_ messages: [(uid: UInt32, raw: [UInt8])], through: UInt32?, uidValidity: UInt32) async throws -> (added: Int, skipped: Int)
    func restart(uidValidity: UInt32) async throws
    func markEnd(uidValidity: UInt32, lastUID: UInt32) async throws
    /// The connection was good and nothing was fetched.
    func unchanged() async throws
    func readThrough(uidValidity: UInt32, highestModSeq: UInt64?) async throws
}

/// The one checkpointed pull, shared by connected mailboxes (`MailboxWatcher`,
/// `postroom mailbox sync`) and `postroom import imap`.
public enum MailboxPull {
    public struct Progress: Sendable, Equatable {
        /// UIDs in the folder to consider: new ones, plus (with `countPulledBefore`) those
        /// behind the checkpoint, counted as already there.
        public var total: Int
        public var done: Int
        public var added: Int
        public var skipped: Int

        public init(total: Int = 0, done: Int = 0, added: Int = 0, skipped: Int = 0) {
            self.total = total
            self.done = done
            self.added = added
            self.skipped = skipped
        }
    }

    /// One pass over the folder the session examined. `countPulledBefore` searches the
    /// whole folder so UIDs behind the checkpoint show as skipped (what `import`
    /// reports); a watcher asks only for what is new.
    @discardableResult
    public static func pull(
        _ session: IMAPSession, _ folder: IMAPFolderState, into destination: some PullDestination, startFromNow: Bool = false,
        countPulledBefore: Bool = false, batchSize: Int = 50, progress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) async throws -> Progress {
        var checkpoint = try await destination.checkpoint()
        let after: UInt32
        switch PullPlan.decide(checkpoint, folder: folder, startFromNow: startFromNow) {
        case .restart:
            try await destination.restart(uidValidity: folder.uidValidity)
            checkpoint = PullCheckpoint(uidValidity: folder.uidValidity, lastUID: 0)
            after = 0
        case .markEnd(let atLeast):
            let last = try await session.uids().last ?? 0
            try await destination.markEnd(uidValidity: folder.uidValidity, lastUID: max(last, atLeast))
            try await destination.unchanged()
            return Progress()
        case .unchanged:
            try await destination.unchanged()
            guard countPulledBefore else { return Progress() }
            // Nothing new: every message in the folder is one pulled before.
            let all = try await session.uids().count
            let state = Progress(total: all, done: all, added: 0, skipped: all)
            progress(state)
            return state
        case .fetch(let from):
            after = from
        }
        var state = Progress()
        let uids: [UInt32]
        if countPulledBefore {
            let all = try await session.uids()
            uids = all.filter { $0 > after }
            state.total = all.count
            state.done = all.count - uids.count
            state.skipped = state.done
        } else {
            uids = try await session.uids(after: after)
            state.total = uids.count
        }
        let tally = Tally(state)
        if !uids.isEmpty { progress(state) }
        _ = try await session.fetchBatches(uids, maxCount: batchSize) { pulled, through in
            let done = try await destination.record(pulled, through: through, uidValidity: folder.uidValidity)
            let now = tally.add(covered: pulled.count, done)
            progress(now)
            return done.added
        }
        if uids.isEmpty {
            _ = try await destination.record([], through: nil, uidValidity: folder.uidValidity)
            progress(tally.value)
        }
        // Read through as of EXAMINE: anything added since has a higher mod-sequence.
        if let now = folder.highestModSeq, checkpoint.highestModSeq != now {
            try await destination.readThrough(uidValidity: folder.uidValidity, highestModSeq: now)
        }
        return tally.value
    }

    /// Counts carried between batches (recorded one at a time, in order).
    final class Tally: Sendable {
        private let state: Mutex<Progress>
        init(_ value: Progress) { state = Mutex(value) }

        var value: Progress { state.withLock { $0 } }

        func add(covered: Int, _ done: (added: Int, skipped: Int)) -> Progress {
            state.withLock {
                $0.done += covered
                $0.added += done.added
                $0.skipped += done.skipped
                return $0
            }
        }
    }
}

extension IMAPAccount {
    /// The folder an import reads, as its checkpoint is keyed: user, host, port and
    /// folder, never the password.
    public var source: String {
        "imap://\(user)@\(host.lowercased()):\(port)/\(folder)"
    }
}
