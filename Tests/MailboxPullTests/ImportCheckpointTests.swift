import Foundation
import GRDB
import XCTest

@testable import MailboxPull
@testable import Store

/// `import imap`'s destination on a real SQLite store: messages and the checkpoint move
/// together, what is already in the inbox is skipped, a new UIDVALIDITY starts over.
final class ImportCheckpointTests: XCTestCase {
    var dir = ""
    var store: Store!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-pull-\(UUID().uuidString)"
        store = try Store.open(dataDir: dir)
        _ = try await store.createInbox(name: "History", slug: "history", addresses: ["history@example.com"], fallbackDomain: "in.test")
    }

    override func tearDown() async throws {
        store = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func message(_ n: Int) -> [UInt8] {
        Array("From: ann@customer.test\r\nTo: history@example.com\r\nSubject: n\(n)\r\nMessage-ID: <n\(n)@customer.test>\r\n\r\nbody \(n)\r\n".utf8)
    }

    func testBatchesMoveTheCheckpointWithTheMessages() async throws {
        let importer = Importer(store: store)
        let destination = try await importer.destination(inbox: "history", source: "imap://ann@imap.test:993/INBOX")
        var checkpoint = try await destination.checkpoint()
        XCTAssertEqual(checkpoint, PullCheckpoint(uidValidity: nil, lastUID: 0))

        var done = try await destination.record([(1, Self.message(1)), (2, Self.message(2))], through: 3, uidValidity: 77)
        XCTAssertEqual(done.added, 2)
        XCTAssertEqual(done.skipped, 0)
        checkpoint = try await destination.checkpoint()
        XCTAssertEqual(checkpoint, PullCheckpoint(uidValidity: 77, lastUID: 3))

        // The same message again (another UID) is skipped; the checkpoint never moves back.
        done = try await destination.record([(2, Self.message(2))], through: 2, uidValidity: 77)
        XCTAssertEqual(done.added, 0)
        XCTAssertEqual(done.skipped, 1)
        checkpoint = try await destination.checkpoint()
        XCTAssertEqual(checkpoint.lastUID, 3)

        try await destination.readThrough(uidValidity: 77, highestModSeq: 500)
        checkpoint = try await destination.checkpoint()
        XCTAssertEqual(checkpoint.highestModSeq, 500)
        XCTAssertEqual(PullPlan.decide(checkpoint, uidValidity: 77, uidNext: 4, highestModSeq: 500, startFromNow: false), .unchanged)

        // Another folder of the same inbox has its own checkpoint.
        let other = try await importer.destination(inbox: "history", source: "imap://ann@imap.test:993/Archive")
        let otherCheckpoint = try await other.checkpoint()
        XCTAssertEqual(otherCheckpoint.uidValidity, nil)

        try await destination.restart(uidValidity: 78)
        checkpoint = try await destination.checkpoint()
        XCTAssertEqual(checkpoint, PullCheckpoint(uidValidity: 78, lastUID: 0))
        let stored = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message WHERE channel = 'import'") }
        XCTAssertEqual(stored, 2)
    }

    func testAnUnknownInboxIsNotFound() async throws {
        do {
            _ = try await Importer(store: store).destination(inbox: "nosuch", source: "imap://a@b:143/INBOX")
            XCTFail("expected notFound")
        } catch let error as RequestError {
            XCTAssertEqual(error, .notFound("no inbox with slug 'nosuch'"))
        }
    }
}
