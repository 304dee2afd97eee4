import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log back into the database file beside the writer, not in it.
///
/// SQLite's own checkpoint runs inside the commit that takes the log past 1,000
/// pages: on the single writer, so a spool commit (with its 250 waiting) or a filing
/// transaction paid for copying and syncing four megabytes, 13% of the writer's time
/// while filing (perf, `messages process` over 20,000 spooled messages). Here that
/// commit only signals, and a connection of the checkpointer's own runs a PASSIVE
/// checkpoint, which never takes the writer lock: the writer goes on committing while
/// pages are copied. When the writer never pauses, a passive checkpoint can never
/// reach the log's end, so the log would not start over (a new log begins only when
/// a write starts with everything copied); past `backstopPages` the committing
/// connection checkpoints itself, as SQLite would have, copying only what the
/// background checkpoints have not. Measured: filing 20,000 spooled messages went from
/// 237 to about 195 µs a message, end to end (Benchmarks/end-to-end's load) from
/// 1,955-2,146 to 2,454-2,643 msg/s.
final class WALCheckpointer: Sendable {
    /// Log size (pages) that starts a background checkpoint: SQLite's default.
    static let backgroundPages: Int32 = 1000
    /// Log size at which the writer checkpoints itself (64 MiB of 4 KiB pages).
    static let backstopPages: Int32 = 16_000

    let path: String
    let scheduled = Atomic<Bool>(false)
    let queue = DispatchQueue(label: "postroom.wal-checkpoint", qos: .utility)
    /// Checkpoints run so far (for tests).
    let runs = Atomic<Int>(0)
    /// The checkpointer's connection, opened at its first checkpoint and kept: opening
    /// one per checkpoint read and parsed the whole schema each time (`PRAGMA
    /// schema_version`, about 40% of a checkpoint's CPU under a burst, perf). Touched
    /// only on `queue`.
    let connection = Mutex(Connection())

    /// An SQLite handle used from one serial queue only.
    struct Connection: @unchecked Sendable {
        var handle: OpaquePointer?
        /// Set by close(): a signal that comes later opens nothing (a connection
        /// opened after the store closed would never be closed).
        var closed = false
    }

    init(path: String) {
        self.path = path
        // Kept for the life of the process: the hooks of the pool's connections point
        // at it, and SQLite says nothing when a connection (and its hook) is gone.
        _ = Unmanaged.passRetained(self)
    }

    /// Replaces SQLite's automatic checkpoint on `db` with this one. The hook is SQLite's
    /// own mechanism for it (sqlite3_wal_autocheckpoint is a WAL hook too), called after
    /// each commit with the log's size.
    func install(on db: Database) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, connection, name, pages in
                guard let context else { return SQLITE_OK }
                if pages >= WALCheckpointer.backstopPages {
                    sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if pages >= WALCheckpointer.backgroundPages {
                    Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue().schedule()
                }
                return SQLITE_OK
            }, context)
    }

    /// One checkpoint at a time; signals while one is queued are folded into it.
    func schedule() {
        guard scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        queue.async { self.run() }
    }

    /// A PASSIVE checkpoint on the checkpointer's own connection: it syncs the log,
    /// copies what no reader still needs and syncs the database file (synchronous FULL,
    /// said here rather than left to the build's default). A connection that fails to
    /// open or to checkpoint (I/O) is closed and opened again at the next commit past
    /// the threshold; one that found another checkpoint running (the writer's own past
    /// `backstopPages`, or another process's) is kept. `runs` counts the checkpoints
    /// that completed.
    func run() {
        scheduled.store(false, ordering: .releasing)
        guard let handle = open() else { return }
        let result = sqlite3_wal_checkpoint_v2(handle, "main", SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        guard result == SQLITE_OK else {
            if result & 0xff != SQLITE_BUSY && result & 0xff != SQLITE_LOCKED { closeNow() }
            return
        }
        runs.add(1, ordering: .relaxed)
    }

    /// The kept connection, opened when there is none.
    private func open() -> OpaquePointer? {
        let (kept, closed) = connection.withLock { ($0.handle, $0.closed) }
        if let kept { return kept }
        if closed { return nil }
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
            // A new connection learns the database is in WAL mode at its first read.
            sqlite3_exec(handle, "PRAGMA synchronous = FULL; PRAGMA schema_version", nil, nil, nil) == SQLITE_OK
        else {
            sqlite3_close_v2(handle)
            return nil
        }
        connection.withLock { $0.handle = handle }
        return handle
    }

    private func closeNow() {
        let handle = connection.withLock { connection in
            defer { connection.handle = nil }
            return connection.handle
        }
        sqlite3_close_v2(handle)
    }

    /// Closes the kept connection after any queued checkpoint, so that when the pool's
    /// connections close, the last one can copy the log back and remove it as SQLite
    /// does. A later signal opens nothing.
    func close() {
        queue.sync {
            connection.withLock { $0.closed = true }
            closeNow()
        }
    }
}
