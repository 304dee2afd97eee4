import Synchronization

/// "Whichever comes first": a timer and the work it guards both finish, and only the
/// first to claim acts (answers the client, resumes the continuation).
public final class Once: Sendable {
    let done = Mutex(false)

    public init() {}

    /// True for the first caller only.
    public func claim() -> Bool {
        done.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
