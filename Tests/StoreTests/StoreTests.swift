import Foundation
import XCTest

@testable import Store

/// Runs against a real SQLite file in a temporary folder.
final class StoreTests: XCTestCase {
    var dir: String!
    var store: Store!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-store-\(UUID().uuidString)"
        store = try Store.open(dataDir: dir)
    }

    override func tearDown() async throws {
        store = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testInboxLifecycle() async throws {
        let inbox = try await store.createInbox(name: "Sales Team", addresses: ["Sales@Example.com"], fallbackDomain: "in.postroom.test")
        XCTAssertEqual(inbox.slug, "sales-team")
        XCTAssertEqual(inbox.addresses, ["sales@example.com"])
        XCTAssertTrue(inbox.fallbackAddress.hasPrefix("sales-team-"))
        XCTAssertTrue(inbox.fallbackAddress.hasSuffix("@in.postroom.test"))

        do {
            _ = try await store.createInbox(name: "Other", addresses: ["sales@example.com"], fallbackDomain: "x.test")
            XCTFail("address taken twice")
        } catch let error as StoreError {
            XCTAssertEqual(error, .addressTaken("sales@example.com", inbox: "sales-team"))
        }
        do {
            _ = try await store.createInbox(name: "Sales Team", addresses: [], fallbackDomain: "x.test")
            XCTFail("slug taken twice")
        } catch let error as StoreError {
            XCTAssertEqual(error, .slugTaken("sales-team"))
        }
        let v1 = try await store.directoryVersion()
        let added = try await store.addAddress("orders@example.com", toInbox: "sales-team")
        XCTAssertEqual(added.addresses, ["sales@example.com", "orders@example.com"])
        let v2 = try await store.directoryVersion()
        XCTAssertGreaterThan(v2, v1)
        let removed = try await store.removeAddress("ORDERS@example.com", fromInbox: "sales-team")
        XCTAssertEqual(removed.addresses, ["sales@example.com"])
        do {
            _ = try await store.removeAddress(inbox.fallbackAddress, fromInbox: "sales-team")
            XCTFail("fallback removed")
        } catch let error as StoreError {
            XCTAssertEqual(error, .cannotRemoveFallback(inbox.fallbackAddress))
        }
        let directory = try await store.recipientAddresses()
        XCTAssertEqual(directory.addresses["sales@example.com"], inbox.id)
        XCTAssertEqual(directory.addresses[inbox.fallbackAddress], inbox.id)
        XCTAssertThrowsError(try Store.canonicalAddress("not an address"))
    }

    func testDefaultInboxOnlyOnce() async throws {
        let first = try await store.ensureDefaultInbox(hostname: "mx.test", fallbackDomain: "mx.test")
        XCTAssertEqual(first?.addresses, ["support@mx.test"])
        let second = try await store.ensureDefaultInbox(hostname: "mx.test", fallbackDomain: "mx.test")
        XCTAssertNil(second)
    }

    func testSpoolStoresOnceForTwoInboxesAndGroupCommits() async throws {
        let a = try await store.createInbox(name: "A", addresses: ["a@example.com"], fallbackDomain: "x.test")
        let b = try await store.createInbox(name: "B", addresses: ["b@example.com"], fallbackDomain: "x.test")
        let spool = Spool(store: store)
        let body = Array("Subject: Hello\r\n\r\nbody\r\n".utf8)
        let message = InboundMessage(
            queueID: "", receivedAt: Store.nowMillis(), channel: .smtp, reversePath: "",
            recipients: [
                .init(address: "a@example.com", canonical: "a@example.com", tag: nil, inboxID: a.id),
                .init(address: "b+x@example.com", canonical: "b@example.com", tag: "x", inboxID: b.id),
            ],
            raw: body,
            session: .init(clientIP: "127.0.0.1", helo: "c", protocolName: "ESMTP", tls: false, smtputf8: false, bodyType: nil, receivedHeader: "Received: x\r\n"))
        try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    var queued = message
                    queued.queueID = Spool.newQueueID()
                    return try await spool.commit(queued)
                }
            }
            for try await _ in group {}
        }
        let stats = spool.statistics
        XCTAssertEqual(stats.messages, 50)
        XCTAssertLessThanOrEqual(stats.batches, 50)
        let inA = try await store.listMessages(inbox: "a", limit: 1000)
        let inB = try await store.listMessages(inbox: "b", limit: 1000)
        XCTAssertEqual(inA.count, 50)
        XCTAssertEqual(inB.map(\.id), inA.map(\.id))
        let count = try await store.messageCount()
        XCTAssertEqual(count, 50)
        XCTAssertEqual(inA.first?.subject, "Hello")
        XCTAssertEqual(inA.first?.recipients.last?.tag, "x")
        let raw = try await store.rawMessage(inA.first!.queueId)
        XCTAssertEqual(Array(raw.raw), body)
        let detail = try await store.message(String(inA.first!.id))
        XCTAssertEqual(detail.headers.first?.name, "Subject")
    }

    func testQueueIDsAreUniqueAndOrdered() {
        let ids = (0..<1000).map { _ in Spool.newQueueID() }
        XCTAssertEqual(Set(ids).count, 1000)
        XCTAssertEqual(ids.first?.count, 16)
    }

    func testHeaderReaderUnfolds() {
        let headers = HeaderReader.headers(in: Data("Subject: a\r\n b\r\nFrom: x\r\n\r\nSubject: no\r\n".utf8))
        XCTAssertEqual(headers.map(\.name), ["Subject", "From"])
        XCTAssertEqual(headers.first?.value, "a b")
    }
}
