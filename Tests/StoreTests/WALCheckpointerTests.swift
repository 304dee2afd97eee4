import Foundation
import GRDB
import XCTest

@testable import Store

/// The log is copied back into the database file by the checkpointer's own
/// connection, not by the commit that grew it, and a later write starts a new log.
final class WALCheckpointerTests: XCTestCase {
    var dir: String!
    var store: Store!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-wal-\(UUID().uuidString)"
        store = try Store.open(dataDir: dir)
    }

    override func tearDown() async throws {
        store = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testLogIsCopiedBesideTheWriterAndStartsOver() async throws {
        try await store.database.write { db in try db.execute(sql: "CREATE TABLE t (b BLOB NOT NULL)") }
        // About 1,200 pages of log in twelve commits: past the 1,000 that start a checkpoint.
        let blob = Data(repeating: 7, count: 400_000)
        for _ in 0..<12 {
            try await store.database.write { db in try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: [blob]) }
        }
        let deadline = Date().addingTimeInterval(10)
        while store.checkpointer.runs.load(ordering: .relaxed) == 0 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertGreaterThan(store.checkpointer.runs.load(ordering: .relaxed), 0, "no checkpoint ran")
        // Wait for the last scheduled checkpoint to finish; then everything is copied.
        await withCheckedContinuation { done in store.checkpointer.queue.async { done.resume() } }
        let before = try await store.database.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        XCTAssertEqual(before.walFrameCount, before.checkpointedFrameCount, "frames left uncopied")
        XCTAssertGreaterThan(before.walFrameCount, 1000)
        // A write after a complete checkpoint starts the log over.
        try await store.database.write { db in try db.execute(sql: "INSERT INTO t VALUES (x'00')") }
        let after = try await store.database.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        XCTAssertLessThan(after.walFrameCount, 10, "the log did not start over")
        let rows = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") }
        XCTAssertEqual(rows, 13)
        // The checkpointer keeps its connection between checkpoints and closes it with
        // the store: then the pool's last connection copies the log back and removes it.
        XCTAssertNotNil(store.checkpointer.connection.withLock { $0.handle })
        store = nil
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/postroom.sqlite-wal"), "the log outlived the store")
    }

    /// A store written by a newer Postroom (a migration this one does not know) is
    /// refused at open, not written to.
    func testNewerStoreIsRefused() async throws {
        try await store.database.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999-from-the-future')") }
        store = nil
        XCTAssertThrowsError(try Store.open(dataDir: dir)) { error in
            XCTAssertEqual(error as? StoreError, .newerStore(dir + "/postroom.sqlite"))
        }
    }
}
