import IMAPClient

/// Where a pull stopped last time: the folder's UIDVALIDITY, the highest UID stored,
/// and (CONDSTORE, RFC 7162) the folder's HIGHESTMODSEQ when it was last read through.
/// It is committed in the same transaction as the messages it covers.
public struct PullCheckpoint: Sendable, Equatable {
    public var uidValidity: UInt32?
    public var lastUID: UInt32
    public var highestModSeq: UInt64?

    public init(uidValidity: UInt32?, lastUID: UInt32, highestModSeq: UInt64? = nil) {
        self.uidValidity = uidValidity
        self.lastUID = lastUID
        self.highestModSeq = highestModSeq
    }
}

/// What one pull does, decided from the checkpoint and what EXAMINE said, without I/O.
public enum PullStep: Sendable, Equatable {
    /// The folder's UIDVALIDITY changed (RFC 3501 2.3.1.1): every UID is void, so the
    /// folder is read again from the start (what is already here is skipped).
    case restart
    /// First connection of a mailbox that starts from now: remember where the folder
    /// ends (at least `atLeast`) and fetch nothing.
    case markEnd(atLeast: UInt32)
    /// CONDSTORE: nothing in the folder changed since it was last read through.
    case unchanged
    /// Fetch the UIDs above `after`.
    case fetch(after: UInt32)
}

public enum PullPlan {
    /// `startFromNow`: a mailbox connected without its history.
    public static func decide(_ checkpoint: PullCheckpoint, uidValidity: UInt32, uidNext: UInt32?, highestModSeq: UInt64?, startFromNow: Bool) -> PullStep {
        if let known = checkpoint.uidValidity, known != uidValidity { return .restart }
        if checkpoint.uidValidity == nil && startFromNow {
            // UIDNEXT - 1 is at least the last UID the folder ever gave (0 when unknown).
            return .markEnd(atLeast: uidNext.map { $0 == 0 ? 0 : $0 - 1 } ?? 0)
        }
        if let now = highestModSeq, let seen = checkpoint.highestModSeq, checkpoint.uidValidity == uidValidity, seen == now { return .unchanged }
        return .fetch(after: checkpoint.uidValidity == nil ? 0 : checkpoint.lastUID)
    }

    public static func decide(_ checkpoint: PullCheckpoint, folder: IMAPFolderState, startFromNow: Bool) -> PullStep {
        decide(checkpoint, uidValidity: folder.uidValidity, uidNext: folder.uidNext, highestModSeq: folder.highestModSeq, startFromNow: startFromNow)
    }
}
