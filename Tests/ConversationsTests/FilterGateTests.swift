import Foundation
import NetAddress
import SMTPProtocol
import Sieve
import XCTest

@testable import Conversations

/// The per-inbox filter policy before the 250, on real scripts in a real folder and
/// SMTP transactions as the server hands them over; no network, no database.
final class FilterGateTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "postroom-gate-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A gate over the given scripts (name → text) for inboxes 1 = sales, 2 = support.
    func gate(_ scripts: [String: String]) throws -> FilterGate {
        for (name, text) in scripts {
            try text.write(toFile: "\(dir!)/\(name).sieve", atomically: true, encoding: .utf8)
        }
        let filters = FilterSet(directory: dir)
        _ = filters.reload(force: true)
        let slugs = InboxSlugs()
        slugs.set([1: "sales", 2: "support"])
        return FilterGate(filters: filters, slugs: slugs)
    }

    func transaction(to inboxes: [Int64], subject: String = "Hello") -> SMTPTransaction {
        let recipients = inboxes.map { inbox in
            let local = inbox == 1 ? "sales" : "support"
            return SMTPRecipient(address: MailboxAddress(localPart: local, domain: "example.com"), inboxID: inbox, canonical: "\(local)@example.com", tag: nil)
        }
        return SMTPTransaction(
            reversePath: .mailbox(MailboxAddress(localPart: "ann", domain: "customer.test")), recipients: recipients,
            body: Array("From: ann@customer.test\r\nSubject: \(subject)\r\n\r\nHi\r\n".utf8), heloName: "c", protocolName: "ESMTP", tls: false,
            smtputf8: false, bodyType: nil, chunked: false)
    }

    func decisions(_ json: String?) throws -> [String: FilterDecision] {
        guard let json else { return [:] }
        return try JSONDecoder().decode([String: FilterDecision].self, from: Data(json.utf8))
    }

    func testNoScriptsMeansInactive() throws {
        XCTAssertFalse(try gate([:]).isActive)
    }

    func testEveryInboxRejectingAnswers550WithTheReason() throws {
        let gate = try gate(["sales": #"require "reject"; reject "no sales pitches";"#])
        guard case .reject(let reply) = gate.evaluate(transaction(to: [1])) else { return XCTFail("not rejected") }
        XCTAssertEqual(reply.code, 550)
        XCTAssertEqual(reply.enhanced, "5.7.1")
        XCTAssertEqual(reply.lines, ["no sales pitches"])
    }

    func testOneInboxRejectingKeepsTheOthersRecipients() throws {
        let gate = try gate([
            "sales": #"require "reject"; reject "not here";"#,
            "support": #"require "fileinto"; fileinto "Triage";"#,
        ])
        guard case .proceed(let kept, let json) = gate.evaluate(transaction(to: [1, 2])) else { return XCTFail("rejected whole") }
        XCTAssertEqual(kept.recipients.map(\.inboxID), [2])
        let stored = try decisions(json)
        XCTAssertEqual(Array(stored.keys), ["support"])
        XCTAssertTrue(stored["support"]?.actions.contains { if case .fileinto(let box, _, _, _) = $0 { box == "Triage" } else { false } } ?? false)
    }

    func testAGlobalScriptRunsForEveryInbox() throws {
        let gate = try gate(["global": #"require "fileinto"; if header :contains "subject" "invoice" { fileinto "Billing"; }"#])
        guard case .proceed(let kept, let json) = gate.evaluate(transaction(to: [1, 2], subject: "Your invoice")) else { return XCTFail("rejected") }
        XCTAssertEqual(kept.recipients.count, 2)
        XCTAssertEqual(Set(try decisions(json).keys), ["sales", "support"])
    }

    func testAnInboxWithoutAKnownSlugIsLeftAlone() throws {
        let gate = try gate(["global": #"require "reject"; reject "closed";"#])
        gate.slugs.set([2: "support"])
        guard case .proceed(let kept, _) = gate.evaluate(transaction(to: [1, 2])) else { return XCTFail("rejected whole") }
        XCTAssertEqual(kept.recipients.map(\.inboxID), [1])
    }

    func testPulledMailIsNeverRejected() throws {
        let gate = try gate(["support": #"require "reject"; reject "nope";"#])
        let json = gate.evaluatePulled(Array("Subject: x\r\n\r\nbody\r\n".utf8), inbox: "support", from: "ann@customer.test", to: "support@example.com")
        let decision = try XCTUnwrap(try decisions(json)["support"])
        XCTAssertEqual(decision.rejection, "nope")
    }

    func testReasonsBecomeOnePrintableReplyLine() {
        XCTAssertEqual(FilterGate.oneLine("first line\r\nsecond line"), "first line")
        XCTAssertEqual(FilterGate.oneLine("tab\there \u{7}bell"), "tabhere bell")
        XCTAssertEqual(FilterGate.oneLine("\r\n"), "Message rejected")
        XCTAssertEqual(FilterGate.oneLine(String(repeating: "x", count: 500)).count, 200)
    }
}
