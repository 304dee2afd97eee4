import XCTest

@testable import Conversations

/// The threading rules on plain values, without a store: each row is the facts the
/// queries would gather and the decision they must lead to.
final class ThreadingDecisionTests: XCTestCase {
    typealias Facts = ThreadingFacts
    typealias Decision = Threading.Decision

    struct Row {
        var name: String
        var facts: Facts
        var expected: Threading.Outcome
    }

    static let ann = "ann@customer.test"

    static func facts(_ change: (inout Facts) -> Void) -> Facts {
        var facts = Facts()
        facts.sender = ann
        change(&facts)
        return facts
    }

    static let rows: [Row] = [
        Row(
            name: "nothing names a conversation",
            facts: facts { _ in },
            expected: .file(Decision(rule: .new, detail: "no reference, token or ticket tag matched"))),
        Row(
            name: "a duplicate wins over everything",
            facts: facts {
                $0.duplicate = .init(original: 9, reason: "same Message-ID <a@x>")
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
                $0.senderTakesPartIn = [1]
            },
            expected: .duplicate(original: 9, reason: "same Message-ID <a@x>")),
        Row(
            name: "a bounce of our mail joins the conversation of what it reports on",
            facts: facts { $0.bounce = .init(originalMessageID: "out@postroom", conversation: 4) },
            expected: .file(Decision(conversationID: 4, rule: .bounce, detail: "delivery report for <out@postroom>"))),
        Row(
            name: "In-Reply-To from a participant",
            facts: facts {
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
                $0.senderTakesPartIn = [1]
            },
            expected: .file(Decision(conversationID: 1, rule: .references, detail: "In-Reply-To <a@x>"))),
        Row(
            name: "References are read newest first",
            facts: facts {
                $0.references = ["old@x", "new@x"]
                $0.knownReferences = ["old@x": 1, "new@x": 2]
                $0.senderTakesPartIn = [1, 2]
            },
            expected: .file(Decision(conversationID: 2, rule: .references, detail: "References <new@x>"))),
        Row(
            name: "In-Reply-To before References",
            facts: facts {
                $0.inReplyTo = ["irt@x"]
                $0.references = ["ref@x"]
                $0.knownReferences = ["irt@x": 3, "ref@x": 2]
                $0.senderTakesPartIn = [2, 3]
            },
            expected: .file(Decision(conversationID: 3, rule: .references, detail: "In-Reply-To <irt@x>"))),
        Row(
            name: "a stranger's reference starts a linked conversation",
            facts: facts {
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
            },
            expected: .file(Decision(rule: .linked, detail: "In-Reply-To <a@x> names conversation 1, but ann@customer.test is not a participant", linkedTo: 1))),
        Row(
            name: "an inbox that trusts references believes a stranger",
            facts: facts {
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
                $0.trustReferences = true
            },
            expected: .file(Decision(conversationID: 1, rule: .references, detail: "In-Reply-To <a@x>"))),
        Row(
            name: "a From failing DMARC is not believed, even by a trusting inbox",
            facts: facts {
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
                $0.senderTakesPartIn = [1]
                $0.trustReferences = true
                $0.dmarcFailure = "no aligned pass"
            },
            expected: .file(
                Decision(rule: .linked, detail: "In-Reply-To <a@x> names conversation 1, but the From domain fails DMARC (no aligned pass)", linkedTo: 1))),
        Row(
            name: "unknown references fall through to new",
            facts: facts { $0.references = ["elsewhere@x"] },
            expected: .file(Decision(rule: .new, detail: "no reference, token or ticket tag matched"))),
        Row(
            name: "a reply token of this inbox",
            facts: facts { $0.tokens = [.conversation(tag: "c5.sig", id: 5, sameInbox: true)] },
            expected: .file(Decision(conversationID: 5, rule: .token, detail: "reply token +c5.sig"))),
        Row(
            name: "a reply token beats a stranger's reference",
            facts: facts {
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
                $0.tokens = [.conversation(tag: "c5.sig", id: 5, sameInbox: true)]
            },
            expected: .file(Decision(conversationID: 5, rule: .token, detail: "reply token +c5.sig"))),
        Row(
            name: "a token of another inbox is noted, not followed",
            facts: facts { $0.tokens = [.conversation(tag: "c5.sig", id: 5, sameInbox: false)] },
            expected: .file(Decision(rule: .new, detail: "reply token +c5.sig names a conversation of another inbox"))),
        Row(
            name: "a forged token is noted on the linked decision",
            facts: facts {
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
                $0.tokens = [.badSignature(tag: "c5.bad")]
            },
            expected: .file(
                Decision(
                    rule: .linked,
                    detail: "In-Reply-To <a@x> names conversation 1, but ann@customer.test is not a participant; reply token +c5.bad has a bad signature and was ignored",
                    linkedTo: 1))),
        Row(
            name: "a ticket tag from a participant",
            facts: facts {
                $0.ticket = .init(number: 12, conversation: 7)
                $0.senderTakesPartIn = [7]
            },
            expected: .file(Decision(conversationID: 7, rule: .ticketTag, detail: "subject tag [#12]"))),
        Row(
            name: "a ticket tag from a stranger links",
            facts: facts { $0.ticket = .init(number: 12, conversation: 7) },
            expected: .file(Decision(rule: .linked, detail: "subject tag [#12] names conversation 7, but ann@customer.test is not a participant", linkedTo: 7))),
        Row(
            name: "a ticket number this inbox does not have",
            facts: facts { $0.ticket = .init(number: 99, conversation: nil) },
            expected: .file(Decision(rule: .new, detail: "no reference, token or ticket tag matched"))),
        Row(
            name: "an untrusted reference is not overridden by a ticket tag",
            facts: facts {
                $0.inReplyTo = ["a@x"]
                $0.knownReferences = ["a@x": 1]
                $0.ticket = .init(number: 12, conversation: 7)
                $0.senderTakesPartIn = [7]
            },
            expected: .file(Decision(rule: .linked, detail: "In-Reply-To <a@x> names conversation 1, but ann@customer.test is not a participant", linkedTo: 1))),
        Row(
            name: "no From: the stranger rule names the sender generically",
            facts: facts {
                $0.sender = nil
                $0.ticket = .init(number: 3, conversation: 2)
            },
            expected: .file(Decision(rule: .linked, detail: "subject tag [#3] names conversation 2, but the sender is not a participant", linkedTo: 2))),
    ]

    func testEveryRow() {
        for row in Self.rows {
            XCTAssertEqual(Threading.decide(row.facts), row.expected, row.name)
        }
    }
}
