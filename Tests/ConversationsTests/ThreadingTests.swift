import Foundation
import GRDB
import NetAddress
import SMTPProtocol
import XCTest

@testable import Conversations
@testable import Outbound
@testable import Store

/// Threading, duplicates, contacts and tickets against a real SQLite store: messages
/// go through the spool exactly as SMTP delivers them, then through the processor.
final class ThreadingTests: XCTestCase {
    var dir: String!
    var store: Store!
    var spool: Spool!
    var processor: MessageProcessor!
    var queries: ConversationQueries!
    var support: Inbox!
    var sales: Inbox!
    let token = ReplyToken(secret: Array(repeating: 7, count: 32))

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-threading-\(UUID().uuidString)"
        store = try Store.open(dataDir: dir)
        spool = Spool(store: store)
        processor = MessageProcessor(store: store, token: token)
        queries = ConversationQueries(store: store)
        support = try await store.createInbox(name: "Support", addresses: ["support@example.com", "help@example.com"], fallbackDomain: "in.test")
        sales = try await store.createInbox(name: "Sales", addresses: ["sales@example.com"], fallbackDomain: "in.test")
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Spools a message for the given recipients and processes everything pending.
    @discardableResult
    func deliver(
        _ headers: [String], body: String = "Hello.\r\n", to recipients: [String], from reversePath: String = "ann@customer.test", process: Bool = true
    ) async throws -> Int64 {
        let raw = Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
        let directory = try await store.recipientDirectory().directory
        var accepted: [SMTPRecipient] = []
        for recipient in recipients {
            let address = MailboxAddress.parse(Substring(recipient))!
            guard case .accept(let inbox, let canonical, let tag) = directory.resolve(address) else { XCTFail("not ours: \(recipient)"); continue }
            accepted.append(SMTPRecipient(address: address, inboxID: inbox, canonical: canonical, tag: tag))
        }
        let transaction = SMTPTransaction(
            reversePath: reversePath.isEmpty ? .null : .mailbox(MailboxAddress.parse(Substring(reversePath))!), recipients: accepted, body: raw,
            heloName: "c", protocolName: "ESMTP", tls: false, smtputf8: false, bodyType: nil, chunked: false)
        let id = try await spool.commit(
            InboundMessage(smtp: transaction, queueID: Spool.newQueueID(), receivedAt: Store.nowMillis(), clientIP: "127.0.0.1", receivedHeader: ""))
        if process { try await processor.processPending() }
        return id
    }

    func entries(of message: Int64) async throws -> [(conversation: Int64, inbox: Int64, rule: String, detail: String?)] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT conversation_id, inbox_id, thread_rule, thread_detail FROM entry WHERE message_id = ? ORDER BY inbox_id", arguments: [message])
                .map { ($0["conversation_id"], $0["inbox_id"], $0["thread_rule"], $0["thread_detail"]) }
        }
    }

    /// Filing a batch is tried without a savepoint per message; when one fails, the
    /// batch is rolled back and filed again carefully: that one is filed for review,
    /// the others as usual, each with its search row.
    func testFailureInABatchFilesTheRestNormally() async throws {
        try await store.database.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER poison BEFORE INSERT ON entry
                    WHEN NEW.thread_rule != 'unparsed' AND (SELECT subject FROM message WHERE id = NEW.message_id) = 'poison'
                    BEGIN SELECT RAISE(ABORT, 'poisoned for the test'); END
                    """)
        }
        var ids: [Int64] = []
        for (n, subject) in ["fine one", "poison", "fine two"].enumerated() {
            ids.append(
                try await deliver(
                    ["From: ann@customer.test", "To: support@example.com", "Subject: \(subject)", "Message-ID: <batch\(n)@customer.test>"],
                    to: ["support@example.com"], process: false))
        }
        let processed = try await processor.processPending()
        XCTAssertEqual(processed, 3)
        var rules: [[String]] = []
        for id in ids { rules.append(try await entries(of: id).map(\.rule)) }
        XCTAssertEqual(rules, [["new"], ["unparsed"], ["new"]])
        let poisoned = ids[1]
        let (reason, found, notFound) = try await store.database.read { db in
            (
                try String.fetchOne(db, sql: "SELECT quarantine_reason FROM message WHERE id = ?", arguments: [poisoned]),
                try Self.searched("fine", db), try Self.searched("poison", db)
            )
        }
        XCTAssertTrue(reason?.contains("poisoned for the test") ?? false, reason ?? "no reason")
        XCTAssertEqual(found, [ids[0], ids[2]])
        XCTAssertEqual(notFound, [])
        try await assertSearchIndexIntact()
    }

    /// Messages whose entries the full-text index finds for `words`.
    static func searched(_ words: String, _ db: Database) throws -> [Int64] {
        try Int64.fetchAll(
            db, sql: "SELECT e.message_id FROM entry e WHERE e.id IN (SELECT rowid FROM message_search WHERE message_search MATCH ?) ORDER BY e.message_id",
            arguments: [words])
    }

    /// FTS5's own check of the index against the rows it reads its text from (the
    /// external content): a delete with other values than were indexed fails it.
    func assertSearchIndexIntact() async throws {
        try await store.database.write { db in
            try db.execute(sql: "INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)")
        }
    }

    func testNewConversationContactAndReplies() async throws {
        let first = try await deliver(["From: Ann Example <Ann@Customer.test>", "To: support@example.com", "Subject: Order late", "Message-ID: <m1@customer.test>"], to: ["support@example.com"])
        let e1 = try await entries(of: first)
        XCTAssertEqual(e1.map(\.rule), ["new"])
        let conversation = e1[0].conversation
        let detail = try await queries.conversation(conversation)
        XCTAssertEqual(detail.conversation.contact?.email, "ann@customer.test")
        XCTAssertEqual(detail.conversation.contact?.name, "Ann Example")
        XCTAssertEqual(detail.conversation.subject, "Order late")

        let byInReplyTo = try await deliver(["From: ann@customer.test", "Subject: Re: Order late", "Message-ID: <m2@customer.test>", "In-Reply-To: <m1@customer.test>"], to: ["support@example.com"])
        let e2 = try await entries(of: byInReplyTo)
        XCTAssertEqual(e2[0].conversation, conversation)
        XCTAssertEqual(e2[0].rule, "references")
        XCTAssertEqual(e2[0].detail, "In-Reply-To <m1@customer.test>")

        let byReferences = try await deliver(["From: ann@customer.test", "Subject: again", "Message-ID: <m3@customer.test>", "References: <unknown@x> <m2@customer.test>"], to: ["support@example.com"])
        let e3 = try await entries(of: byReferences)
        XCTAssertEqual(e3[0].conversation, conversation)
        XCTAssertEqual(e3[0].detail, "References <m2@customer.test>")

        // The same contact, matched case-insensitively, not a second one.
        let contacts = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact") }
        XCTAssertEqual(contacts, 1)
        let timeline = try await queries.conversation(conversation).timeline
        XCTAssertEqual(timeline.map(\.threadRule), ["new", "references", "references"])
    }

    func testStrangerReferencingAConversationStartsALinkedOne() async throws {
        let first = try await deliver(["From: ann@customer.test", "Subject: Private matter", "Message-ID: <p1@customer.test>"], to: ["support@example.com"])
        let original = try await entries(of: first)[0].conversation
        let stranger = try await deliver(
            ["From: news@letter.test", "Subject: Re: Private matter", "Message-ID: <s1@letter.test>", "In-Reply-To: <p1@customer.test>"],
            to: ["support@example.com"], from: "news@letter.test")
        let e = try await entries(of: stranger)[0]
        XCTAssertNotEqual(e.conversation, original)
        XCTAssertEqual(e.rule, "linked")
        let summary = try await queries.conversation(e.conversation).conversation
        XCTAssertEqual(summary.linkedConversationId, original)
        // A Cc'd colleague of the customer is a participant and threads normally.
        let withCc = try await deliver(["From: ann@customer.test", "Cc: bob@customer.test", "Subject: more", "Message-ID: <p2@customer.test>", "In-Reply-To: <p1@customer.test>"], to: ["support@example.com"])
        try await assertEqual(try await entries(of: withCc)[0].conversation, original)
        let bob = try await deliver(["From: bob@customer.test", "Subject: Re: more", "Message-ID: <b1@customer.test>", "In-Reply-To: <p2@customer.test>"], to: ["support@example.com"], from: "bob@customer.test")
        try await assertEqual(try await entries(of: bob)[0].conversation, original)
    }

    func testTrustReferencesSetting() async throws {
        try await store.database.write { db in try db.execute(sql: "UPDATE inbox SET trust_references = 1 WHERE slug = 'support'") }
        let first = try await deliver(["From: ann@customer.test", "Subject: a", "Message-ID: <t1@customer.test>"], to: ["support@example.com"])
        let other = try await deliver(["From: carl@else.test", "Subject: Re: a", "Message-ID: <t2@else.test>", "References: <t1@customer.test>"], to: ["support@example.com"], from: "carl@else.test")
        try await assertEqual(try await entries(of: other)[0].conversation, try await entries(of: first)[0].conversation)
    }

    func testReplyToken() async throws {
        let first = try await deliver(["From: ann@customer.test", "Subject: token test", "Message-ID: <k1@customer.test>"], to: ["support@example.com"])
        let conversation = try await entries(of: first)[0].conversation
        let tag = token.tag(conversationID: conversation)
        // No references at all (the customer's program dropped them): the token threads it.
        let reply = try await deliver(["From: ann@customer.test", "Subject: my answer", "Message-ID: <k2@customer.test>"], to: ["support+\(tag)@example.com"])
        let e = try await entries(of: reply)[0]
        XCTAssertEqual(e.conversation, conversation)
        XCTAssertEqual(e.rule, "token")
        // A forged token (altered signature or id) does not thread.
        var forged = tag
        forged.removeLast()
        forged += tag.hasSuffix("0") ? "1" : "0"
        let bad = try await deliver(["From: ann@customer.test", "Subject: forged", "Message-ID: <k3@customer.test>"], to: ["support+\(forged)@example.com"])
        let eb = try await entries(of: bad)[0]
        XCTAssertNotEqual(eb.conversation, conversation)
        XCTAssertEqual(eb.rule, "new")
        XCTAssertTrue(eb.detail?.contains("bad signature") == true, eb.detail ?? "")
        let otherID = "c\(conversation + 1)x" + tag.split(separator: "x")[1]
        let moved = try await deliver(["From: ann@customer.test", "Subject: moved", "Message-ID: <k4@customer.test>"], to: ["support+\(otherID)@example.com"])
        try await assertEqual(try await entries(of: moved)[0].rule, "new")
    }

    func testTicketTag() async throws {
        try await store.database.write { db in try db.execute(sql: "UPDATE inbox SET create_tickets = 1 WHERE slug = 'support'") }
        let first = try await deliver(["From: ann@customer.test", "Subject: Broken", "Message-ID: <q1@customer.test>"], to: ["support@example.com"])
        let conversation = try await entries(of: first)[0].conversation
        let summary = try await queries.conversation(conversation).conversation
        let number = try XCTUnwrap(summary.ticket?.number)
        let reply = try await deliver(["From: ann@customer.test", "Subject: Re: Broken [#\(number)]", "Message-ID: <q2@customer.test>"], to: ["support@example.com"])
        let e = try await entries(of: reply)[0]
        XCTAssertEqual(e.conversation, conversation)
        XCTAssertEqual(e.rule, "ticket-tag")
        // A customer's answer to a ticket waiting on them puts it back on us.
        try await ConversationActions(store: store).updateTicket(conversation, stage: "waiting-on-contact", priority: nil, owner: .none, by: nil)
        _ = try await deliver(["From: ann@customer.test", "Subject: Re: Broken [#\(number)]", "Message-ID: <q4@customer.test>"], to: ["support@example.com"])
        try await assertEqual(try await queries.conversation(conversation).conversation.ticket?.stage, "waiting-on-us")
        // The tag of another inbox's ticket does not thread here.
        let wrong = try await deliver(["From: ann@customer.test", "Subject: Re: [#\(number)]", "Message-ID: <q3@customer.test>"], to: ["sales@example.com"])
        try await assertEqual(try await entries(of: wrong)[0].rule, "new")
    }

    func testDuplicates() async throws {
        let headers = ["From: ann@customer.test", "Subject: twice", "Message-ID: <d1@customer.test>"]
        // One transaction to two addresses of one inbox: one entry.
        let first = try await deliver(headers, to: ["support@example.com", "help@example.com"])
        try await assertEqual(try await entries(of: first).count, 1)
        // The same Message-ID again (forwarded copy, retry): a duplicate delivery.
        let again = try await deliver(headers, to: ["help@example.com"])
        try await assertEqual(try await entries(of: again).count, 0)
        let state = try await store.database.read { db in try Row.fetchOne(db, sql: "SELECT state, duplicate_of FROM message WHERE id = ?", arguments: [again]) }
        XCTAssertEqual(state?["state"], "duplicate")
        XCTAssertEqual(state?["duplicate_of"], first)
        let conversation = try await entries(of: first)[0].conversation
        try await assertEqual(try await queries.conversation(conversation).timeline.first?.duplicateDeliveries, 1)
        // The same message for another inbox is that inbox's own conversation.
        let toSales = try await deliver(headers, to: ["sales@example.com"])
        try await assertEqual(try await entries(of: toSales).map(\.inbox), [sales.id])
        // Without a Message-ID: same body and sender within a day.
        let noID = ["From: ann@customer.test", "Subject: no id"]
        let n1 = try await deliver(noID, body: "same body\r\n", to: ["support@example.com"])
        let n2 = try await deliver(noID, body: "same body\r\n", to: ["support@example.com"])
        let n3 = try await deliver(noID, body: "other body\r\n", to: ["support@example.com"])
        try await assertEqual(try await entries(of: n1).count, 1)
        try await assertEqual(try await entries(of: n2).count, 0)
        try await assertEqual(try await entries(of: n3).count, 1)
    }

    func testClosedConversationReopensOnReply() async throws {
        let first = try await deliver(["From: ann@customer.test", "Subject: close me", "Message-ID: <r1@customer.test>"], to: ["support@example.com"])
        let conversation = try await entries(of: first)[0].conversation
        try await ConversationActions(store: store).setStatus(conversation, status: "closed", snoozeUntil: nil, by: nil)
        // An auto-reply does not re-open it.
        _ = try await deliver(["From: ann@customer.test", "Subject: Out of office", "Message-ID: <r2@customer.test>", "In-Reply-To: <r1@customer.test>", "Auto-Submitted: auto-replied"], to: ["support@example.com"])
        try await assertEqual(try await queries.conversation(conversation).conversation.status, "closed")
        _ = try await deliver(["From: ann@customer.test", "Subject: Re: close me", "Message-ID: <r3@customer.test>", "In-Reply-To: <r1@customer.test>"], to: ["support@example.com"])
        try await assertEqual(try await queries.conversation(conversation).conversation.status, "open")
    }

    func testAutomaticMailAndQuarantine() async throws {
        let list = try await deliver(["From: list@lists.test", "Subject: digest", "List-Id: <x.lists.test>", "Message-ID: <a1@lists.test>"], to: ["support@example.com"], from: "list@lists.test")
        let bounce = try await deliver(["From: MAILER-DAEMON@mx.test", "Subject: Undelivered", "Message-ID: <a2@mx.test>"], to: ["support@example.com"], from: "")
        let person = try await deliver(["From: ann@customer.test", "Subject: hi", "Message-ID: <a3@customer.test>"], to: ["support@example.com"])
        let reasons = try await store.database.read { db in
            try [list, bounce, person].map { try String.fetchOne(db, sql: "SELECT automatic FROM message WHERE id = ?", arguments: [$0]) }
        }
        XCTAssertEqual(reasons[0], "List-Id header")
        XCTAssertEqual(reasons[1], "empty reverse path (<>)")
        XCTAssertNil(reasons[2])
        // The bounce makes no contact.
        let bounceConversation = try await entries(of: bounce)[0].conversation
        try await assertNil(try await queries.conversation(bounceConversation).conversation.contact)

        let broken = try await deliver(["garbage without a colon"], body: "", to: ["support@example.com"])
        try await assertEqual(try await entries(of: broken).count, 1)
        let quarantine = try await queries.quarantine()
        XCTAssertEqual(quarantine.map(\.messageId), [broken])
    }

    func testIdempotentAndReprocess() async throws {
        let first = try await deliver(["From: ann@customer.test", "Subject: once", "Message-ID: <i1@customer.test>"], to: ["support@example.com"])
        try await processor.processPending()
        try await processor.processPending()
        try await assertEqual(try await entries(of: first).count, 1)
        try await processor.reprocess(messageID: first)
        let after = try await entries(of: first)
        XCTAssertEqual(after.count, 1)
        XCTAssertEqual(after[0].rule, "new")
        let count = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conversation") }
        XCTAssertEqual(count, 1, "the emptied conversation is removed")
        // Found once, by its new entry; the index agrees with the messages.
        let found = try await store.database.read { db in try Self.searched("once", db) }
        XCTAssertEqual(found, [first])
        try await assertSearchIndexIntact()
    }

    static func bounceBody(original: String, recipient: String, status: String) -> String {
        """
        --b\r
        Content-Type: text/plain\r
        \r
        Delivery to the following recipient failed permanently: \(recipient)\r
        --b\r
        Content-Type: message/delivery-status\r
        \r
        Reporting-MTA: dns; mx.customer.test\r
        \r
        Final-Recipient: rfc822; \(recipient)\r
        Action: failed\r
        Status: \(status)\r
        Diagnostic-Code: smtp; 550 \(status) User unknown\r
        \r
        --b\r
        Content-Type: text/rfc822-headers\r
        \r
        From: support@example.com\r
        Message-ID: <\(original)>\r
        Subject: Re: your order\r
        \r
        --b--\r

        """
    }

    func testBounceJoinsTheConversationAndSuppresses() async throws {
        let first = try await deliver(["From: ann@customer.test", "Subject: order", "Message-ID: <bo1@customer.test>"], to: ["support@example.com"])
        let conversation = try await entries(of: first)[0].conversation
        let replies = Replies(store: store, token: token, hostname: "mx.example.com")
        let reply = try await replies.reply(to: conversation, ReplyInput(text: "We are on it.", cc: ["carl@customer.test"]))
        let deliveries = try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, recipient FROM outbound WHERE message_id = ?", arguments: [reply.messageId])
                .map { (id: $0["id"] as Int64, recipient: $0["recipient"] as String) }
        }
        let annDelivery = try XCTUnwrap(deliveries.first { $0.recipient == "ann@customer.test" })
        let carlDelivery = try XCTUnwrap(deliveries.first { $0.recipient == "carl@customer.test" })
        // One signed return path per delivery: carl's copy carries his, not ann's.
        let returnPath: String? = token.returnPath(from: "support@example.com", deliveryID: annDelivery.id)
        XCTAssertEqual(returnPath, "support+\(token.bounceTag(deliveryID: annDelivery.id))@example.com")
        let carlPath = token.returnPath(from: "support@example.com", deliveryID: carlDelivery.id)
        let due = try await OutboundQueue(store: store, autoMail: nil).withToken(token).due()
        XCTAssertEqual(Set(due.flatMap { $0.returnPaths.values }), [returnPath ?? "", carlPath])
        let dsnHeaders = ["Content-Type: multipart/report; report-type=delivery-status; boundary=b"]

        // A forged report about the customer's own message (not one we sent) changes nothing.
        let forged = try await deliver(
            ["From: MAILER-DAEMON@evil.test", "Subject: Undelivered Mail", "Message-ID: <forged@evil.test>"] + dsnHeaders,
            body: Self.bounceBody(original: "bo1@customer.test", recipient: "ann@customer.test", status: "5.1.1"), to: ["support@example.com"], from: "")
        let forgedRule = try await entries(of: forged)[0].rule
        XCTAssertNotEqual(forgedRule, "bounce")
        try await assertEqual(try await Suppressions(store: queries.store).list().count, 0)

        // A report that names our reply's Message-ID but a recipient the reply never went to.
        _ = try await deliver(
            ["From: MAILER-DAEMON@evil.test", "Subject: Undelivered Mail", "Message-ID: <forged2@evil.test>"] + dsnHeaders,
            body: Self.bounceBody(original: reply.headerMessageId, recipient: "boss@customer.test", status: "5.1.1"), to: ["support@example.com"], from: "")
        try await assertEqual(try await Suppressions(store: queries.store).list().count, 0)

        // Carl (a recipient of the reply, so he knows its Message-ID and his own return
        // path) cannot get ann suppressed: neither by the Message-ID nor by his path.
        _ = try await deliver(
            ["From: MAILER-DAEMON@evil.test", "Subject: Undelivered Mail", "Message-ID: <forged4@evil.test>"] + dsnHeaders,
            body: Self.bounceBody(original: reply.headerMessageId, recipient: "ann@customer.test", status: "5.1.1"), to: ["support@example.com"], from: "")
        _ = try await deliver(
            ["From: MAILER-DAEMON@evil.test", "Subject: Undelivered Mail", "Message-ID: <forged5@evil.test>"] + dsnHeaders,
            body: Self.bounceBody(original: reply.headerMessageId, recipient: "ann@customer.test", status: "5.1.1"), to: [carlPath], from: "")
        try await assertEqual(try await Suppressions(store: queries.store).list().count, 0)

        // A forged return path (bad signature) is no better than none.
        _ = try await deliver(
            ["From: MAILER-DAEMON@evil.test", "Subject: Undelivered Mail", "Message-ID: <forged3@evil.test>"] + dsnHeaders,
            body: Self.bounceBody(original: "nothing@evil.test", recipient: "ann@customer.test", status: "5.1.1"),
            to: ["support+b\(annDelivery.id)x0000000000000000@example.com"], from: "")
        try await assertEqual(try await Suppressions(store: queries.store).list().count, 0)

        // The real bounce comes to the signed return path.
        let bounce = try await deliver(
            ["From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>", "Subject: Undelivered Mail", "Message-ID: <dsn1@mx.customer.test>"] + dsnHeaders,
            body: Self.bounceBody(original: reply.headerMessageId, recipient: "Ann@Customer.test", status: "5.1.1"), to: [returnPath ?? ""], from: "")
        let e = try await entries(of: bounce)[0]
        XCTAssertEqual(e.conversation, conversation)
        XCTAssertEqual(e.rule, "bounce")
        let timeline = try await queries.conversation(conversation).timeline
        XCTAssertEqual(timeline.last?.bounces?.first?.status, "5.1.1")
        XCTAssertEqual(timeline.last?.bounces?.first?.recipient, "ann@customer.test")
        let suppressed = try await Suppressions(store: queries.store).list()
        XCTAssertEqual(suppressed.map(\.email), ["ann@customer.test"])
        // A delay (4.x.x) about a real recipient of the reply is recorded but suppresses nothing.
        _ = try await deliver(
            ["From: MAILER-DAEMON@mx.other.test", "Subject: Delayed", "Message-ID: <dsn2@mx.other.test>"] + dsnHeaders,
            body: Self.bounceBody(original: reply.headerMessageId, recipient: "carl@customer.test", status: "4.4.1").replacingOccurrences(of: "Action: failed", with: "Action: delayed"),
            to: [returnPath ?? ""], from: "")
        try await assertEqual(try await Suppressions(store: queries.store).list().count, 1)
        try await Suppressions(store: queries.store).remove("ANN@customer.test")
        try await assertEqual(try await Suppressions(store: queries.store).list().count, 0)
    }

    func testSplitAndMerge() async throws {
        let actions = ConversationActions(store: store)
        let first = try await deliver(["From: ann@customer.test", "Subject: two matters", "Message-ID: <sm1@customer.test>"], to: ["support@example.com"])
        let second = try await deliver(["From: ann@customer.test", "Subject: Re: two matters, and another", "Message-ID: <sm2@customer.test>", "In-Reply-To: <sm1@customer.test>"], to: ["support@example.com"])
        let conversation = try await entries(of: first)[0].conversation
        try await assertEqual(try await entries(of: second)[0].conversation, conversation)
        // Split the second message out; a reply to it follows it to the new conversation.
        let split = try await actions.split(conversation, messageID: second, by: nil)
        try await assertEqual(try await entries(of: second)[0].rule, "split")
        try await assertEqual(try await queries.conversation(split).conversation.linkedConversationId, conversation)
        let followUp = try await deliver(["From: ann@customer.test", "Subject: Re: another", "Message-ID: <sm3@customer.test>", "In-Reply-To: <sm2@customer.test>"], to: ["support@example.com"])
        try await assertEqual(try await entries(of: followUp)[0].conversation, split)
        do {
            _ = try await actions.split(split, messageID: first, by: nil)
            XCTFail("message not in that conversation")
        } catch is RequestError {}
        // Merge them back: everything moves, the source is a pointer that threads onward.
        try await actions.merge(split, into: conversation, by: nil)
        let merged = try await queries.conversation(conversation)
        XCTAssertEqual(merged.timeline.map(\.messageId), [first, second, followUp])
        try await assertEqual(try await queries.conversation(split).conversation.mergedInto, conversation)
        try await assertEqual(try await queries.list(.init(inbox: "support")).conversations.map(\.id).contains(split), false)
        let late = try await deliver(["From: ann@customer.test", "Subject: Re: another", "Message-ID: <sm4@customer.test>", "In-Reply-To: <sm3@customer.test>"], to: ["support@example.com"])
        try await assertEqual(try await entries(of: late)[0].conversation, conversation)
        let other = try await deliver(["From: bob@else.test", "Subject: sales", "Message-ID: <sm5@else.test>"], to: ["sales@example.com"], from: "bob@else.test")
        do {
            try await actions.merge(try await entries(of: other)[0].conversation, into: conversation, by: nil)
            XCTFail("different inboxes")
        } catch is RequestError {}
    }

    func testContactsSearchEditMerge() async throws {
        let contacts = Contacts(store: store)
        let a = try await deliver(["From: Ann Example <ann@customer.test>", "Subject: one", "Message-ID: <ct1@customer.test>"], to: ["support@example.com"])
        let b = try await deliver(["From: ann.private@home.test", "Subject: two", "Message-ID: <ct2@home.test>"], to: ["support@example.com"], from: "ann.private@home.test")
        let first = try await queries.conversation(try await entries(of: a)[0].conversation).conversation.contact!.id
        let second = try await queries.conversation(try await entries(of: b)[0].conversation).conversation.contact!.id
        try await assertEqual(try await contacts.search("example").map(\.id), [first])
        try await assertEqual(try await contacts.search("HOME.test").map(\.id), [second])
        try await contacts.merge(second, into: first)
        let merged = try await queries.contact(first)
        XCTAssertEqual(merged.emails, ["ann.private@home.test", "ann@customer.test"])
        XCTAssertEqual(merged.conversations.count, 2)
        XCTAssertEqual(merged.channels, ["email"])
        // New mail from either address finds the merged contact.
        let c = try await deliver(["From: ann.private@home.test", "Subject: three", "Message-ID: <ct3@home.test>"], to: ["support@example.com"], from: "ann.private@home.test")
        try await assertEqual(try await queries.conversation(try await entries(of: c)[0].conversation).conversation.contact?.id, first)
        let created = try await contacts.create(email: "New@Person.test", name: "New Person")
        try await contacts.update(created, name: "Renamed", email: nil, addEmails: ["alias@person.test"])
        let edited = try await queries.contact(created)
        XCTAssertEqual(edited.name, "Renamed")
        XCTAssertEqual(edited.emails, ["alias@person.test", "new@person.test"])
        do {
            try await contacts.update(created, name: nil, email: nil, addEmails: ["ann@customer.test"])
            XCTFail("address of another contact")
        } catch is RequestError {}
    }

    func testPagination() async throws {
        for i in 0..<7 {
            try await deliver(["From: p\(i)@customer.test", "Subject: page \(i)", "Message-ID: <pg\(i)@customer.test>"], to: ["support@example.com"], from: "p\(i)@customer.test")
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await queries.list(.init(inbox: "support", limit: 3, cursor: cursor))
            seen += page.conversations.compactMap(\.subject)
            cursor = page.nextCursor
        } while cursor != nil
        XCTAssertEqual(seen, (0..<7).reversed().map { "page \($0)" })
    }

    func testSubjectTagAndTokenParsing() {
        XCTAssertEqual(SubjectTag.ticketNumber(in: "Re: Broken [#1234] again"), 1234)
        XCTAssertNil(SubjectTag.ticketNumber(in: "Re: [#] [#abc]"))
        XCTAssertEqual(token.conversationID(fromTag: token.tag(conversationID: 42)), 42)
        XCTAssertEqual(token.conversationID(fromTag: token.tag(conversationID: 42).uppercased()), 42)
        XCTAssertNil(ReplyToken(secret: Array(repeating: 8, count: 32)).conversationID(fromTag: token.tag(conversationID: 42)))
    }
}
