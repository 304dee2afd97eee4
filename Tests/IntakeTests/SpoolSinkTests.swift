import Conversations
import Foundation
import Logging
import MailAuth
import NetAddress
import Outbound
import SMTPProtocol
import Sieve
import Store
import Synchronization
import GRDB
import XCTest

@testable import Intake
@testable import SMTPServer

/// What happens between the end of DATA and the 250, on a real SQLite store and real
/// scripts in a folder: the commit, the filters' refusal, and DMARC p=reject, with DNS
/// answered from a table (the checks are pure over `DNSLookup`).
final class SpoolSinkTests: XCTestCase {
    var dir: String!
    var store: Store!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-intake-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/filters", withIntermediateDirectories: true)
        store = try Store(path: dir + "/postroom.sqlite")
        _ = try await store.createInbox(name: "Sales", slug: "sales", addresses: ["sales@example.com"], fallbackDomain: "inbound.example.com")
        _ = try await store.createInbox(name: "Support", slug: "support", addresses: ["support@example.com"], fallbackDomain: "inbound.example.com")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func inboxIDs() async throws -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: try await store.listInboxes().map { ($0.slug, $0.id) })
    }

    func transaction(to slugs: [String], ids: [String: Int64], from: String = "From: ann@customer.test") -> SMTPTransaction {
        let recipients = slugs.map { slug in
            SMTPRecipient(address: MailboxAddress(localPart: slug, domain: "example.com"), inboxID: ids[slug]!, canonical: "\(slug)@example.com", tag: nil)
        }
        return SMTPTransaction(
            reversePath: .mailbox(MailboxAddress(localPart: "ann", domain: "customer.test")), recipients: recipients,
            body: Array("\(from)\r\nSubject: Hello\r\nMessage-ID: <m1@customer.test>\r\n\r\nHi\r\n".utf8), heloName: "client.test",
            protocolName: "ESMTP", tls: false, smtputf8: false, bodyType: nil, chunked: false)
    }

    func deliver(_ sink: SpoolSink, _ transaction: SMTPTransaction) async -> DeliveryResult {
        await withCheckedContinuation { continuation in
            sink.deliver(transaction, client: SMTPClientInfo(ip: "192.0.2.7", port: 40000)) { continuation.resume(returning: $0) }
        }
    }

    func sink(scripts: [String: String] = [:]) async throws -> SpoolSink {
        for (name, text) in scripts {
            try text.write(toFile: "\(dir!)/filters/\(name).sieve", atomically: true, encoding: .utf8)
        }
        let filters = FilterSet(directory: dir + "/filters")
        _ = filters.reload(force: true)
        let slugs = InboxSlugs()
        slugs.set(try await store.listInboxes())
        return SpoolSink(
            spool: Spool(store: store), hostname: "mx.example.com", logger: Logger(label: "test"), gate: FilterGate(filters: filters, slugs: slugs))
    }

    func testAcceptedMessageIsDurableWithItsReceivedHeader() async throws {
        let committed = Mutex(0)
        var sink = try await sink()
        sink.onCommitted = { committed.withLock { $0 += 1 } }
        let ids = try await inboxIDs()
        guard case .accepted(let queueID) = await deliver(sink, transaction(to: ["sales", "support"], ids: ids)) else {
            return XCTFail("not accepted")
        }
        XCTAssertEqual(committed.withLock { $0 }, 1)
        let stored = try await store.rawMessage(queueID)
        XCTAssertEqual(stored.queueID, queueID)
        XCTAssertTrue(stored.receivedHeader.contains("from client.test ([192.0.2.7])"), stored.receivedHeader)
        XCTAssertTrue(stored.receivedHeader.contains("by mx.example.com"), stored.receivedHeader)
        XCTAssertTrue(stored.receivedHeader.contains(queueID), stored.receivedHeader)
        let detail = try await store.message(queueID)
        XCTAssertEqual(Set(detail.message.recipients.map(\.address)), ["sales@example.com", "support@example.com"])
    }

    func testEveryInboxRefusingIsA550AndNothingIsStored() async throws {
        let sink = try await sink(scripts: ["sales": #"require "reject"; reject "no pitches";"#])
        let result = await deliver(sink, transaction(to: ["sales"], ids: try await inboxIDs()))
        XCTAssertEqual(result, .failed(SMTPReply(550, "5.7.1", "no pitches")))
        let stored = try await store.listMessages(inbox: nil, state: nil, limit: 10, beforeID: nil)
        XCTAssertEqual(stored.count, 0)
    }

    func testOneInboxRefusingKeepsTheOthersRecipients() async throws {
        let sink = try await sink(scripts: ["sales": #"require "reject"; reject "no pitches";"#])
        guard case .accepted(let queueID) = await deliver(sink, transaction(to: ["sales", "support"], ids: try await inboxIDs())) else {
            return XCTFail("not accepted")
        }
        let detail = try await store.message(queueID)
        XCTAssertEqual(detail.message.recipients.map(\.address), ["support@example.com"])
    }

    func testDMARCRejectRefusesWhereTheInboxSaysSo() async throws {
        var sink = try await sink()
        sink.authenticator = Authenticator(dns: TableDNS(txt: ["_dmarc.bank.test": ["v=DMARC1; p=reject"]]), authservID: "mx.example.com")
        sink.dmarcRejectDefault = "refuse"
        let ids = try await inboxIDs()
        let forged = transaction(to: ["support"], ids: ids, from: "From: security@bank.test")
        guard case .failed(let reply) = await deliver(sink, forged) else { return XCTFail("forged From accepted") }
        XCTAssertEqual(reply.code, 550)
        XCTAssertEqual(reply.enhanced, "5.7.1")
        XCTAssertTrue(reply.lines.joined().contains("bank.test publishes DMARC p=reject"), "\(reply)")
        // The default "spam": kept, with the verdict stored beside it.
        sink.dmarcRejectDefault = "spam"
        guard case .accepted(let queueID) = await deliver(sink, forged) else { return XCTFail("not accepted under spam") }
        let stored = try await store.rawMessage(queueID)
        XCTAssertTrue(String(decoding: stored.raw, as: UTF8.self).contains("dmarc=fail"))
        // What processing acts on is stored beside the report...
        let facts = try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT auth_verdict, auth_trusted, auth_verified_by, auth_from_failed, auth_dmarc_rejects FROM message WHERE queue_id = ?", arguments: [queueID])
        }
        XCTAssertEqual(facts?["auth_verdict"], "unverified")
        XCTAssertEqual(facts?["auth_from_failed"], true)
        XCTAssertEqual(facts?["auth_dmarc_rejects"], true)
        XCTAssertEqual(facts?["auth_trusted"], false)
        // ...and filing it sends the conversation to spam, quoting the report.
        try await assertFiledAsSpam(queueID)
    }

    /// Rows spooled by a version before the facts had columns: the report is decoded.
    func testRowsWithoutTheFactsAreFiledFromTheReport() async throws {
        var sink = try await sink()
        sink.authenticator = Authenticator(dns: TableDNS(txt: ["_dmarc.bank.test": ["v=DMARC1; p=reject"]]), authservID: "mx.example.com")
        guard case .accepted(let queueID) = await deliver(sink, transaction(to: ["support"], ids: try await inboxIDs(), from: "From: security@bank.test")) else {
            return XCTFail("not accepted")
        }
        try await store.database.write { db in
            try db.execute(
                sql: "UPDATE message SET auth_verified_by = NULL, auth_from_failed = NULL, auth_dmarc_rejects = NULL WHERE queue_id = ?", arguments: [queueID])
        }
        try await assertFiledAsSpam(queueID)
    }

    func assertFiledAsSpam(_ queueID: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        let processor = MessageProcessor(store: store, token: ReplyToken(secret: Array(repeating: 7, count: 32)))
        try await processor.processPending()
        let row = try await store.database.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT c.status, ct.verified_via, (SELECT body FROM event WHERE conversation_id = c.id AND kind = 'status') AS why
                    FROM entry e JOIN message m ON m.id = e.message_id JOIN conversation c ON c.id = e.conversation_id
                    LEFT JOIN contact ct ON ct.id = c.contact_id WHERE m.queue_id = ?
                    """, arguments: [queueID])
        }
        XCTAssertEqual(row?["status"], "spam", file: file, line: line)
        XCTAssertTrue((row?["why"] as String?)?.contains("bank.test publishes p=reject") ?? false, "\(String(describing: row))", file: file, line: line)
        XCTAssertTrue((row?["verified_via"] as String?)?.hasPrefix("unverified: ") ?? false, "\(String(describing: row))", file: file, line: line)
    }
}

/// DNS from a table: TXT records by name, nothing else exists.
struct TableDNS: DNSLookup {
    var txt: [String: [String]]

    func txt(_ name: String) async throws(DNSLookupFailure) -> [String] { txt[name.lowercased()] ?? [] }
    func a(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { [] }
    func aaaa(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { [] }
    func mx(_ name: String) async throws(DNSLookupFailure) -> [String] { [] }
    func ptr(_ address: IPAddress) async throws(DNSLookupFailure) -> [String] { [] }
}
