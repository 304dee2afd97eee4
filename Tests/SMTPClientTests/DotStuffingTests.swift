import XCTest

@testable import SMTPClient

final class DotStuffingTests: XCTestCase {
    func testDotStuffingAndLineEnds() {
        let out = SMTPClient.dotStuffed(Array("a\n.b\r\n..c\r\nlast".utf8))
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "a\r\n..b\r\n...c\r\nlast\r\n.\r\n")
        XCTAssertEqual(String(decoding: SMTPClient.dotStuffed([]), as: UTF8.self), "\r\n.\r\n")
    }
}
