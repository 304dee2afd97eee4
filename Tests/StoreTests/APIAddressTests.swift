import XCTest

@testable import Store

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
