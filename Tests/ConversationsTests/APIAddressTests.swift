import XCTest

@testable import Conversations

/// Issue 10, rows 4 and 17: every address from the API is one RFC 5321 mailbox.
final class APIAddressTests: XCTestCase {
    func testRefusesInjection() {
        for text in [
            "a@b.test\r\nRCPT TO:<x@evil.test>", "a@b.test\nx", "a@b.test\u{0}", "a@b.test> ORCPT=rfc822;x@evil.test", "a@b.test, c@d.test",
            "Ann <a@b.test>", "a b@c.test", "", "   ", "@b.test", "a@", "a@[127.0.0.1]", String(repeating: "a", count: 300) + "@b.test",
        ] {
            XCTAssertThrowsError(try APIAddress.parse(text, field: "cc"), text.debugDescription)
        }
    }

    func testAcceptsMailboxes() throws {
        XCTAssertEqual(try APIAddress.parse(" Ann.Lee+x@Example.COM ", field: "to"), "ann.lee+x@example.com")
        XCTAssertEqual(try APIAddress.parse("\"a.b\"@example.com", field: "to"), "\"a.b\"@example.com")
        XCTAssertThrowsError(try APIAddress.parse("\"a b\"@example.com", field: "to"))
        XCTAssertThrowsError(try APIAddress.parse("\"a>b\"@example.com", field: "to"))
        XCTAssertEqual(try APIAddress.parse("jörg@exämple.de", field: "to"), "jörg@exämple.de")
        XCTAssertEqual(try APIAddress.parseList(["a@b.test", "A@B.test"], field: "cc"), ["a@b.test"])
    }

    func testErrorNamesTheField() {
        XCTAssertThrowsError(try APIAddress.parse("a@b.test\r\n", field: "bcc")) { error in
            XCTAssertTrue("\(error)".contains("bcc"), "\(error)")
        }
    }
}

/// Issue 10, suspected item: a huge vacation `:days` or `:seconds` overflowed the
/// period arithmetic; now it is clamped (RFC 5230 4.1).
final class VacationPeriodTests: XCTestCase {
    func testHugePeriodsAreClamped() {
        XCTAssertEqual(FilterActions.periodMillis(days: Int.max, seconds: nil), 365 * 86_400_000)
        XCTAssertEqual(FilterActions.periodMillis(days: Int.min, seconds: nil), 86_400_000)
        XCTAssertEqual(FilterActions.periodMillis(days: nil, seconds: Int.max), 365 * 86_400_000)
        XCTAssertEqual(FilterActions.periodMillis(days: nil, seconds: Int.min), 1000)
        XCTAssertEqual(FilterActions.periodMillis(days: nil, seconds: nil), 7 * 86_400_000)
    }
}
