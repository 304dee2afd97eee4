import SMTPProtocol
import XCTest

@testable import SMTPClient

/// RFC 5321 5.1 host by host, on answers alone.
final class MXFallbackTests: XCTestCase {
    let delivered = RecipientOutcome.delivered(SMTPReply(250, "2.0.0", "ok"))
    let busy = RecipientOutcome.temporaryFailure(SMTPReply(451, "4.3.0", "busy"))
    let later = RecipientOutcome.temporaryFailure(SMTPReply(421, "4.3.2", "later"))
    let unknown = RecipientOutcome.permanentFailure(SMTPReply(550, "5.1.1", "unknown"))

    func testTemporaryAnswersGoToTheNextHostAndFinalOnesStay() throws {
        var f = MXFallback(domain: "x.test", recipients: [["a@x.test", "b@x.test", "c@x.test"]])
        let first = try XCTUnwrap(f.nextAttempt())
        XCTAssertEqual(first.map(\.index), [0])
        XCTAssertEqual(first.first?.recipients, ["a@x.test", "b@x.test", "c@x.test"])
        let answers = ["a@x.test": delivered, "b@x.test": busy, "c@x.test": unknown]
        XCTAssertEqual(MXFallback.final(answers), ["a@x.test": delivered, "c@x.test": unknown])
        f.record(0, answers)
        let second = try XCTUnwrap(f.nextAttempt())
        XCTAssertEqual(second.first?.recipients, ["b@x.test"])
        f.record(0, ["b@x.test": delivered])
        XCTAssertNil(f.nextAttempt())
        XCTAssertTrue(f.conclusion().isEmpty)
    }

    func testWhenHostsRunOutTheLastTemporaryAnswerStands() throws {
        var f = MXFallback(domain: "x.test", recipients: [["a@x.test"], ["b@x.test"]])
        _ = f.nextAttempt()
        f.record(0, ["a@x.test": busy])
        f.record(1, ["b@x.test": delivered])
        _ = f.nextAttempt()
        f.record(0, ["a@x.test": later])
        let conclusion = f.conclusion()
        XCTAssertEqual(conclusion.map(\.index), [0])
        XCTAssertEqual(conclusion.first?.outcomes, ["a@x.test": later])
    }

    func testNoHostReachedIsTemporaryForEveryone() {
        var f = MXFallback(domain: "x.test", recipients: [["a@x.test"]])
        _ = f.nextAttempt()
        f.record(0, [:])
        // An empty answer (the session failed before any reply) leaves nobody open.
        XCTAssertTrue(f.conclusion().isEmpty)
        let never = MXFallback(domain: "x.test", recipients: [["a@x.test"]])
        XCTAssertEqual(never.conclusion().first?.outcomes, ["a@x.test": .temporaryFailure(SMTPReply(451, "4.4.1", "x.test: no mail host could be reached"))])
    }

    func testOnlyInternalHostsFailForGood() {
        var f = MXFallback(domain: "x.test", recipients: [["a@x.test"], ["b@x.test"]])
        f.skip("mx.x.test[10.0.0.5]")
        let conclusion = f.conclusion()
        XCTAssertEqual(conclusion.count, 2)
        XCTAssertEqual(
            conclusion.first?.outcomes,
            ["a@x.test": .permanentFailure(SMTPReply(550, "5.4.4", "x.test: mail host mx.x.test[10.0.0.5] is an internal address (outbound.allow-internal-mx)"))])
    }

    func testAnInternalHostBesideAReachableOneIsJustSkipped() throws {
        var f = MXFallback(domain: "x.test", recipients: [["a@x.test"]])
        f.skip("mx1.x.test[10.0.0.5]")
        _ = try XCTUnwrap(f.nextAttempt())
        f.record(0, ["a@x.test": busy])
        XCTAssertEqual(f.conclusion().first?.outcomes, ["a@x.test": busy])
    }
}
