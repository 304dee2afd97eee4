import Foundation
import GRDB
import NetAddress
import SMTPProtocol
import XCTest

@testable import Conversations
@testable import Outbound
@testable import Store

/// Users, teams, routing, comments with mentions, tickets, snoozing and search.
final class PeopleTests: XCTestCase {
    var dir: String!
    var store: Store!
    var spool: Spool!
    var processor: MessageProcessor!
    var queries: ConversationQueries!
    var actions: ConversationActions!
    var people: People!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-people-\(UUID().uuidString)"
        store = try Store.open(dataDir: dir)
        spool = Spool(store: store)
        processor = MessageProcessor(store: store, token: ReplyToken(secret: Array(repeating: 1, count: 32)))
        queries = ConversationQueries(store: store)
        actions = ConversationActions(store: store)
        people = People(store: store)
        _ = try await store.createInbox(name: "Support", addresses: ["support@example.com"], fallbackDomain: "in.test")
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A new conversation from a new sender; returns its id.
    func newConversation(_ n: Int, subject: String? = nil, body: String = "Hello.") async throws -> Int64 {
        let raw = Array("From: c\(n)@customer.test\r\nSubject: \(subject ?? "question \(n)")\r\nMessage-ID: <n\(n)@customer.test>\r\n\r\n\(body)\r\n".utf8)
        let directory = try await store.recipientDirectory().directory
        let address = MailboxAddress(localPart: "support", domain: "example.com")
        guard case .accept(let inbox, let canonical, _) = directory.resolve(address) else { throw RequestError.invalid("no inbox") }
        let id = try await spool.commit(
            InboundMessage(
                smtp: SMTPTransaction(
                    reversePath: .mailbox(MailboxAddress(localPart: "c\(n)", domain: "customer.test")),
                    recipients: [SMTPRecipient(address: address, inboxID: inbox, canonical: canonical, tag: nil)], body: raw, heloName: "c",
                    protocolName: "ESMTP", tls: false, smtputf8: false, bodyType: nil, chunked: false),
                queueID: Spool.newQueueID(), receivedAt: Store.nowMillis(), clientIP: "127.0.0.1", receivedHeader: ""))
        try await processor.processPending()
        return try await store.database.read { db in try Int64.fetchOne(db, sql: "SELECT conversation_id FROM entry WHERE message_id = ?", arguments: [id])! }
    }

    func makeUsers() async throws -> [User] {
        [
            try await people.createUser(UserInput(name: "Alice Smith", email: "alice@team.test", meetingLink: "https://meet.test/alice")),
            try await people.createUser(UserInput(name: "Bob Jones", email: "bob@team.test")),
            try await people.createUser(UserInput(name: "Carol White", email: "carol@team.test")),
        ]
    }

    func testUsersAndTeams() async throws {
        let users = try await makeUsers()
        XCTAssertEqual(users.map(\.name), ["Alice Smith", "Bob Jones", "Carol White"])
        XCTAssertEqual(users[0].meetingLink, "https://meet.test/alice")
        do {
            _ = try await people.createUser(UserInput(name: "Again", email: "ALICE@team.test"))
            XCTFail("duplicate email")
        } catch let error as RequestError {
            XCTAssertEqual(error, .conflict("a user with email alice@team.test exists"))
        }
        let team = try await people.createTeam(name: "Tier 2", members: [users[1].id, users[2].id])
        XCTAssertEqual(team.members, [users[1].id, users[2].id])
        try await assertEqual(try await people.user(users[1].id).teams, [team.id])
        let away = try await people.updateUser(users[0].id, UserInput(available: false))
        XCTAssertFalse(away.available)
    }

    func testRoutingRules() async throws {
        let users = try await makeUsers()
        _ = try await people.setInboxMembers(slug: "support", users.map(\.id))
        // Nobody by default.
        let unrouted = try await newConversation(1)
        try await assertNil(try await queries.conversation(unrouted).conversation.assigneeUserId)
        // A given user.
        try await people.setRouting(slug: "support", rule: "user", target: users[2].id)
        try await assertEqual(try await queries.conversation(try await newConversation(2)).conversation.assigneeUserId, users[2].id)
        // A team.
        let team = try await people.createTeam(name: "Tier 1", members: [users[0].id])
        try await people.setRouting(slug: "support", rule: "team", target: team.id)
        try await assertEqual(try await queries.conversation(try await newConversation(3)).conversation.assigneeTeamId, team.id)
        // Round robin among available members: Bob is away.
        _ = try await people.updateUser(users[1].id, UserInput(available: false))
        try await people.setRouting(slug: "support", rule: "round-robin", target: nil)
        var robin: [Int64?] = []
        for n in 10..<14 { robin.append(try await queries.conversation(try await newConversation(n)).conversation.assigneeUserId) }
        XCTAssertEqual(robin, [users[0].id, users[2].id, users[0].id, users[2].id])
        // Fewest open: close Alice's conversations, she gets the next one.
        for c in try await queries.list(.init(assignee: users[0].id, limit: 100)).conversations {
            try await actions.setStatus(c.id, status: "closed", snoozeUntil: nil, by: nil)
        }
        try await people.setRouting(slug: "support", rule: "fewest-open", target: nil)
        try await assertEqual(try await queries.conversation(try await newConversation(20)).conversation.assigneeUserId, users[0].id)
        // The assignment is on the timeline with its reason.
        let events = try await queries.conversation(unrouted + 1).events
        XCTAssertEqual(events.first?.kind, "assignment")
        XCTAssertTrue(events.first?.body?.contains("inbox routes to user") == true)
        do {
            try await people.setRouting(slug: "support", rule: "user", target: 999)
            XCTFail("unknown user")
        } catch is RequestError {}
    }

    func testAssignCommentMentionTicketAndStatus() async throws {
        let users = try await makeUsers()
        try await store.database.write { db in try db.execute(sql: "UPDATE inbox SET create_tickets = 1") }
        let conversation = try await newConversation(1)
        try await actions.assign(conversation, user: users[1].id, team: nil, by: users[0].id)
        let comment = try await actions.comment(conversation, author: users[0].id, body: "@bob can you look? cc @carol.white and @Alice")
        XCTAssertEqual(comment.mentions, [users[0].id, users[1].id])
        let withEmail = try await actions.comment(conversation, author: users[1].id, body: "@carol please")
        XCTAssertEqual(withEmail.mentions, [users[2].id])
        try await actions.updateTicket(conversation, stage: "waiting-on-us", priority: "high", owner: .some(users[1].id), by: users[0].id)
        var summary = try await queries.conversation(conversation).conversation
        XCTAssertEqual(summary.assigneeUserId, users[1].id)
        XCTAssertEqual(summary.ticket?.stage, "waiting-on-us")
        XCTAssertEqual(summary.ticket?.priority, "high")
        XCTAssertEqual(summary.ticket?.ownerId, users[1].id)
        try await actions.updateTicket(conversation, stage: nil, priority: nil, owner: .some(nil), by: nil)
        try await assertNil(try await queries.conversation(conversation).conversation.ticket?.ownerId)
        do {
            try await actions.updateTicket(conversation, stage: "lost", priority: nil, owner: .none, by: nil)
            XCTFail("bad stage")
        } catch is RequestError {}
        // Snooze, then the time passes.
        try await actions.setStatus(conversation, status: "snoozed", snoozeUntil: Date().addingTimeInterval(3600), by: users[1].id)
        summary = try await queries.conversation(conversation).conversation
        XCTAssertEqual(summary.status, "snoozed")
        XCTAssertNotNil(summary.snoozedUntil)
        try await assertEqual(try await actions.wakeSnoozed(), 0)
        try await assertEqual(try await actions.wakeSnoozed(now: Store.nowMillis() + 3_700_000), 1)
        try await assertEqual(try await queries.conversation(conversation).conversation.status, "open")
        let kinds = try await queries.conversation(conversation).events.map(\.kind)
        XCTAssertEqual(kinds, ["assignment", "comment", "comment", "ticket", "ticket", "status", "status"])
        do {
            try await actions.setStatus(conversation, status: "snoozed", snoozeUntil: nil, by: nil)
            XCTFail("snooze without time")
        } catch is RequestError {}
    }

    func testReprocessKeepsTheConversationAndItsComments() async throws {
        let users = try await makeUsers()
        let conversation = try await newConversation(1)
        _ = try await actions.comment(conversation, author: users[0].id, body: "internal note")
        let message = try await store.database.read { db in try Int64.fetchOne(db, sql: "SELECT message_id FROM entry WHERE conversation_id = ?", arguments: [conversation])! }
        try await processor.reprocess(messageID: message)
        let detail = try await queries.conversation(conversation)
        XCTAssertEqual(detail.timeline.map(\.messageId), [message])
        XCTAssertEqual(detail.events.map(\.body), ["internal note"])
        try await assertEqual(try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conversation") }, 1)
    }

    func testSearchAndFilters() async throws {
        let users = try await makeUsers()
        try await store.database.write { db in try db.execute(sql: "UPDATE inbox SET create_tickets = 1") }
        let refund = try await newConversation(1, subject: "Refund please", body: "The blender arrived broken.")
        let invoice = try await newConversation(2, subject: "Invoice question", body: "Where is my invoice for März?")
        let other = try await newConversation(3, subject: "Hello", body: "Just saying hi")
        try await actions.assign(invoice, user: users[0].id, team: nil, by: nil)
        func ids(_ filter: ConversationQueries.Filter) async throws -> [Int64] {
            try await queries.list(filter).conversations.map(\.id).sorted()
        }
        try await assertEqual(try await ids(.init(text: "blender")), [refund])
        try await assertEqual(try await ids(.init(text: "blend")), [refund])  // prefix
        try await assertEqual(try await ids(.init(text: "invoice märz")), [invoice])
        try await assertEqual(try await ids(.init(text: "\"unbalanced OR")), [])
        try await assertEqual(try await ids(.init(assignee: users[0].id)), [invoice])
        try await assertEqual(try await ids(.init(unassigned: true)), [refund, other])
        try await assertEqual(try await ids(.init(hasTicket: true)), [refund, invoice, other])
        try await assertEqual(try await ids(.init(channel: "email")), [refund, invoice, other])
        // Only channels that exist may be named (openapi.yaml's enum): a typo is a 400, not an empty list.
        do {
            _ = try await ids(.init(channel: "chat"))
            XCTFail("an unknown channel was taken")
        } catch let error as RequestError {
            XCTAssertEqual(error, .invalid("channel must be email (the only channel so far)"))
        }
    }
}
