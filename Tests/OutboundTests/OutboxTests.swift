import Crypto
import DKIM
import Foundation
import GRDB
import MailMessage
import XCTest

@testable import Outbound
@testable import Store

/// The one way out, on a real SQLite store: signed once, stored once, one delivery row
/// per recipient, in one transaction.
final class OutboxTests: XCTestCase {
    var dir: String!
    var store: Store!
    var inbox: Inbox!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-outbox-\(UUID().uuidString)"
        store = try Store.open(dataDir: dir)
        inbox = try await store.createInbox(name: "Support", addresses: ["support@example.com", "help@example.com"], fallbackDomain: "in.test")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    var outbox: Outbox {
        let key = Curve25519.Signing.PrivateKey().rawRepresentation
        return Outbox(hostname: "mx.example.com", signers: ["example.com": DKIMSigner(domain: "example.com", selector: "s1", key: .ed25519(key))])
    }

    func composer(from: String = "support@example.com") -> MessageComposer {
        MessageComposer(
            from: MailAddress(name: "Support", address: from), to: [MailAddress(name: nil, address: "ann@customer.test")], subject: "Re: Hello",
            date: Date(timeIntervalSince1970: 1_700_000_000), messageID: "r1@mx.example.com", text: "Thanks!")
    }

    func testComposedMailIsSignedOnceStoredAndQueuedPerRecipient() async throws {
        let outbox = self.outbox
        let composed = composer()
        let (id, queueID) = try await store.database.write { db in
            try outbox.enqueue(outbox.composed(composed, reversePath: "support@example.com", recipients: ["ann@customer.test", "bob@customer.test"]), db)
        }
        try await store.database.read { db in
            let raw = try Data.fetchOne(db, sql: "SELECT raw FROM message_raw WHERE message_id = ?", arguments: [id]) ?? Data()
            let text = String(decoding: raw, as: UTF8.self)
            XCTAssertEqual(text.components(separatedBy: "DKIM-Signature:").count - 1, 1, text)
            XCTAssertTrue(text.contains("d=example.com"))
            let row = try Row.fetchOne(db, sql: "SELECT channel, state, queue_id FROM message WHERE id = ?", arguments: [id])
            XCTAssertEqual(row?["channel"] as String?, "outbound")
            XCTAssertEqual(row?["state"] as String?, "processed")
            XCTAssertEqual(row?["queue_id"] as String?, queueID)
            let recipients = try String.fetchAll(db, sql: "SELECT recipient FROM outbound WHERE message_id = ? ORDER BY recipient", arguments: [id])
            XCTAssertEqual(recipients, ["ann@customer.test", "bob@customer.test"])
        }
    }

    func testAMessagePassedOnIsNotSignedByUs() async throws {
        let outbox = self.outbox
        let raw = Array("From: ann@customer.test\r\nSubject: Fwd\r\n\r\nhi\r\n".utf8)
        let (id, _) = try await store.database.write { db in
            try outbox.enqueue(
                Outbox.Outgoing(raw: raw, signingDomain: nil, reversePath: "support@example.com", headerMessageID: nil, processing: .passedOn, recipients: ["boss@example.org"]),
                db)
        }
        let stored = try await store.database.read { db in try Data.fetchOne(db, sql: "SELECT raw FROM message_raw WHERE message_id = ?", arguments: [id]) }
        XCTAssertEqual(stored.map { Array($0) }, raw)
    }

    func testTheSendingAddressIsOneOfTheInboxs() async throws {
        let outbox = self.outbox
        let inbox = self.inbox!
        try await store.database.read { db in
            XCTAssertEqual(try outbox.sender(inbox: inbox.id, requested: "Help@Example.com", db), "help@example.com")
            XCTAssertThrowsError(try outbox.sender(inbox: inbox.id, requested: "ceo@example.com", db)) { error in
                XCTAssertEqual(error as? RequestError, .conflict("ceo@example.com is not an address of this inbox"))
            }
            XCTAssertEqual(try outbox.sender(inbox: inbox.id, db), "support@example.com")
        }
    }
}
