import XCTest

@testable import Sieve

/// Outcomes, tallies and the explanation of a difference, without files or processes.
final class FilterTrialTests: XCTestCase {
    func rules(_ text: String) throws -> FilterRules {
        FilterRules(scripts: [try Sieve.compile(text)], resolver: nil)
    }

    func message(_ subject: String, from: String = "ann@customer.test") -> SieveMessage {
        SieveMessage(raw: Array("From: \(from)\r\nSubject: \(subject)\r\n\r\nhi\r\n".utf8), envelopeFrom: from, envelopeTo: "support+orders@example.com")
    }

    func testOutcomeSummaryAndTally() throws {
        let r = try rules(#"require ["fileinto", "imap4flags", "vacation"]; if header :contains "subject" "order" { addflag "\\Flagged"; fileinto "Orders"; } if header :contains "subject" "spam" { discard; } vacation "away";"#)
        let order = FilterOutcome(r.run(message("my order")))
        XCTAssertEqual(order.summary, #"fileinto "Orders" + vacation + flags \Flagged"#)
        let spam = FilterOutcome(r.run(message("spam")))
        XCTAssertTrue(spam.discarded)
        XCTAssertEqual(spam.summary, "discard + vacation")
        var tally = FilterTally()
        [order, spam, FilterOutcome(r.run(message("hello")))].forEach { tally.add($0) }
        XCTAssertEqual(tally.text, "3 messages: 1 kept, filed Orders 1, 1 discarded, 0 rejected, 0 redirected, 3 with vacation")
    }

    func testDiscardDoesNotCountWhenTheMessageIsFiled() throws {
        let outcome = FilterOutcome(try rules(#"require "fileinto"; discard; fileinto "Kept";"#).run(message("x")))
        XCTAssertFalse(outcome.discarded)
        XCTAssertEqual(outcome.folders, ["Kept"])
    }

    func testTheDecidingTestOfAChange() throws {
        let old = try rules("require \"fileinto\";\nif header :contains \"subject\" \"hello\" { fileinto \"Hello\"; }\n")
        let new = try rules("require \"fileinto\";\nif header :contains \"subject\" \"saying hello\" { fileinto \"Hello\"; }\n")
        XCTAssertNil(FilterChange.compare(message("Saying Hello"), old: old, new: new, explain: true).change)
        let change = try XCTUnwrap(FilterChange.compare(message("Hello there"), old: old, new: new, explain: true).change)
        XCTAssertEqual(change.old.folders, ["Hello"])
        XCTAssertTrue(change.new.kept)
        XCTAssertEqual(change.because?.old, [#"line 2: header :contains "subject" "hello" → true ⇒ fileinto Hello"#])
        XCTAssertEqual(change.because?.new, [#"line 2: header :contains "subject" "saying hello" → false"#])
        // Without tracing, only the outcomes.
        XCTAssertNil(FilterChange.compare(message("Hello there"), old: old, new: new, explain: false).change?.because)
    }

    func testANewRuleWithNothingToCompareSaysTheImplicitKeepStands() throws {
        let old = try rules("keep;")
        let new = try rules("if header :contains \"subject\" \"bounce\" { discard; }")
        let change = try XCTUnwrap(FilterChange.compare(message("bounce"), old: old, new: new, explain: true).change)
        XCTAssertEqual(change.because?.new, [#"line 1: header :contains "subject" "bounce" → true ⇒ discard"#])
        XCTAssertEqual(change.because?.old, ["unconditionally ⇒ keep"])
    }
}
