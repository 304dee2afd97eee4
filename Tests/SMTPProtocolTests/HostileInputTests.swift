import XCTest

@testable import SMTPProtocol

/// Issue 10: what a stranger sends can neither trap nor stall the session machine or
/// the reply parser (the regression cases of the report, and their neighbours).
final class HostileInputTests: XCTestCase {
    let directory = RecipientDirectory(addresses: ["support@example.com": 1])

    func machine() -> SMTPServerStateMachine {
        SMTPServerStateMachine(configuration: .init(hostname: "mx.test", tlsAvailable: false), directory: directory)
    }

    func replies(_ actions: [SMTPServerStateMachine.Action]) -> [Int] {
        actions.compactMap { if case .reply(let r) = $0 { return r.code } else { return nil } }
    }

    /// Row 1: `count + size` overflowed and killed the process.
    func testBDATSizeNearIntMaxAfterAChunk() {
        var m = machine()
        _ = m.receive(Array("EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nBDAT 1\r\nx".utf8))
        for size in ["9223372036854775807", "9223372036854775806", "26214401"] {
            var copy = m
            let actions = copy.receive(Array("BDAT \(size)\r\n".utf8))
            XCTAssertEqual(replies(actions), [552], size)
        }
        // Just over what is left: the chunk is read and refused (RFC 3030 keeps the
        // client in step), never added up past the limit.
        var copy = m
        XCTAssertEqual(replies(copy.receive(Array("BDAT 26214400\r\n".utf8))), [])
        XCTAssertEqual(replies(copy.receive([UInt8](repeating: 0x61, count: 26_214_400))), [552])
        let actions = m.receive(Array("BDAT 9223372036854775807\r\n".utf8))
        XCTAssertEqual(replies(actions), [552])
        XCTAssertTrue(actions.contains(.close))
    }

    func testBDATOverflowingNumbersAreSyntaxErrors() {
        for size in ["18446744073709551615", "9223372036854775808", "99999999999999999999999", "-1", "+5"] {
            var m = machine()
            _ = m.receive(Array("EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\n".utf8))
            let actions = m.receive(Array("BDAT \(size) LAST\r\n".utf8))
            XCTAssertTrue(actions.contains(.close), size)
        }
    }

    func testBDATWithoutTransactionWithHugeSize() {
        var m = machine()
        let actions = m.receive(Array("EHLO x\r\nBDAT 9223372036854775807\r\n".utf8))
        XCTAssertTrue(actions.contains(.close))
    }

    func testReplyParserBoundsLinesAndLength() {
        var p = SMTPReplyParser()
        let many = String(repeating: "250-x\r\n", count: SMTPReplyParser.maxLines + 1) + "250 end\r\n"
        XCTAssertThrowsError(try p.feed(Array(many.utf8)))
        p = SMTPReplyParser()
        XCTAssertThrowsError(try p.feed(Array(("250 " + String(repeating: "a", count: SMTPReplyParser.maxLineLength + 10)).utf8)))
        p = SMTPReplyParser()
        XCTAssertThrowsError(try p.feed(Array("99999999999999999999 x\r\n".utf8)))
        p = SMTPReplyParser()
        XCTAssertThrowsError(try p.feed(Array("2\u{0}0 x\r\n".utf8)))
        // Linear in its input: a large feed of short replies in one call.
        p = SMTPReplyParser()
        let replies = try? p.feed(Array(String(repeating: "250 ok\r\n", count: 100_000).utf8))
        XCTAssertEqual(replies?.count, 100_000)
    }
}

/// Fuzzer findings kept as tests (Fuzz/Regressions holds the inputs).
final class FuzzFindingTests: XCTestCase {
    /// Nine bad commands then a bad BDAT: the tenth error closed the session, and the
    /// BDAT branch added a second 421 and a second close.
    func testBadBDATAtTheErrorLimitClosesOnce() {
        var m = SMTPServerStateMachine(configuration: .init(hostname: "mx.test", tlsAvailable: false), directory: RecipientDirectory(addresses: [:]))
        var input = String(repeating: "BOGUS\r\n", count: 9)
        input += "BDAT x\r\n"
        let actions = m.receive(Array(input.utf8))
        XCTAssertEqual(actions.filter { $0 == .close }.count, 1)
        XCTAssertEqual(actions.filter { if case .reply(let r) = $0 { return r.code == 421 } else { return false } }.count, 1)
    }
}
