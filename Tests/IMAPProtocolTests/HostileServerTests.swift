import XCTest

@testable import IMAPProtocol

/// Issue 10: a hostile IMAP server's numbers and shapes stay within bounds.
final class HostileServerTests: XCTestCase {
    /// Row 8: sizes near 2^64 once overflowed the byte sum of a fetch batch.
    func testFetchPlanWithHugeSizes() {
        let plan = IMAPFetchPlan.batches([1, 2, 3], sizes: [1: .max, 2: .max, 3: 10])
        XCTAssertEqual(plan.flatMap { $0 }.sorted(), [1, 2, 3])
        XCTAssertEqual(plan.count, 3)
        let near = IMAPFetchPlan.batches([1, 2], sizes: [1: .max - 1, 2: .max - 1], maxBytes: .max)
        XCTAssertEqual(near.flatMap { $0 }, [1, 2])
    }

    func testLiteralCountPerResponseIsBounded() {
        var parser = IMAPResponseParser()
        parser.maxLiteralsPerResponse = 10
        var text = "* 1 FETCH (UID 1"
        for i in 0..<20 { text += " X\(i) {0}\r\n" }
        text += ")\r\n"
        parser.feed(Array(text.utf8))
        XCTAssertThrowsError(try parser.next())
    }

    func testLiteralOctetsAreCounted() throws {
        var parser = IMAPResponseParser()
        parser.feed(Array("* 1 FETCH (UID 1 BODY[] {5}\r\nhello)\r\n".utf8))
        _ = try parser.next()
        XCTAssertEqual(parser.literalOctets, 5)
    }

    /// Row 9: loopback is an address, not a prefix.
    func testLoopbackIsDecidedOnAddresses() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "0:0:0:0:0:0:0:1"] {
            XCTAssertTrue(IMAPHost.isLoopback(host), host)
        }
        for host in ["127.attacker.example", "127.0.0.1.evil.test", "127.0.0", "1270.0.0.1", "::2", "example.com", "", "127.0.0.256", "::ffff:127.0.0.1x"] {
            XCTAssertFalse(IMAPHost.isLoopback(host), host)
        }
        XCTAssertTrue(IMAPHost.isLoopbackAddress("::ffff:127.0.0.1"))
        XCTAssertFalse(IMAPHost.isLoopbackAddress("::ffff:10.0.0.1"))
        XCTAssertTrue(IMAPHost.isAddressLiteral("2001:db8::1"))
        XCTAssertFalse(IMAPHost.isAddressLiteral("1.2.3"))
    }

    func testPortsAndPasswordVariables() {
        XCTAssertTrue(IMAPHost.isValidPort(993))
        for port in [0, -1, 65536, 70000, Int.max] { XCTAssertFalse(IMAPHost.isValidPort(port), "\(port)") }
        XCTAssertTrue(IMAPHost.isValidPasswordEnv("POSTROOM_MAILBOX_SUPPORT"))
        for name in ["POSTROOM_OUTBOUND_PASSWORD", "HOME", "POSTROOM_MAILBOX_", "POSTROOM_MAILBOX_a", "POSTROOM_MAILBOX_X=1", "AWS_SECRET_ACCESS_KEY"] {
            XCTAssertFalse(IMAPHost.isValidPasswordEnv(name), name)
        }
    }
}
