import XCTest

@testable import SMTPProtocol

final class ClientTests: XCTestCase {
    func testReplyParser() throws {
        var p = SMTPReplyParser()
        XCTAssertEqual(try p.feed(Array("250-mx.test greets\r\n250-PIPE".utf8)), [])
        let replies = try p.feed(Array("LINING\r\n250 SIZE 100\r\n550 5.1.1 User unknown\r\n".utf8))
        XCTAssertEqual(replies.count, 2)
        XCTAssertEqual(replies[0].lines, ["mx.test greets", "PIPELINING", "SIZE 100"])
        XCTAssertEqual(replies[1].code, 550)
        XCTAssertEqual(replies[1].enhanced, "5.1.1")
        XCTAssertEqual(replies[1].lines, ["User unknown"])
        XCTAssertThrowsError(try p.feed(Array("garbage\r\n".utf8)))
    }
}
