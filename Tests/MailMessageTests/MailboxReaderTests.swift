import Foundation
import XCTest

@testable import MailMessage

/// Import must not split or merge messages: an mbox is only as good as its separators.
final class MailboxReaderTests: XCTestCase {
    func testMboxSplitsOnSeparatorsAndUndoesQuoting() {
        let mbox = """
            From alice@example.com Mon Jan  1 00:00:00 2024
            Subject: one

            Hello
            >From the start
            >>From deeper
            From me, an unquoted line right after text

            From bob@example.com Mon Jan  1 00:00:00 2024
            Subject: two

            Body two

            """
        let messages = MailboxReader.mbox(Array(mbox.utf8))
        XCTAssertEqual(messages.count, 2)
        XCTAssertEqual(
            String(decoding: messages[0], as: UTF8.self),
            "Subject: one\r\n\r\nHello\r\nFrom the start\r\n>From deeper\r\nFrom me, an unquoted line right after text\r\n")
        XCTAssertEqual(String(decoding: messages[1], as: UTF8.self), "Subject: two\r\n\r\nBody two\r\n")
    }

    func testSeparatorWithoutBlankLineBeforeIt() {
        let mbox = "From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\nFrom b@x Tue Jan  2 10:11:12 2024\nSubject: two\n\nx\n"
        let messages = MailboxReader.mbox(Array(mbox.utf8))
        XCTAssertEqual(messages.count, 2)
        XCTAssertEqual(String(decoding: messages[1], as: UTF8.self), "Subject: two\r\n\r\nx\r\n")
    }

    func testMboxWithCRLFAndNoSeparatorIsEmpty() {
        XCTAssertEqual(MailboxReader.mbox(Array("From a b\r\nSubject: x\r\n\r\nbody\r\n".utf8)).count, 1)
        XCTAssertEqual(MailboxReader.mbox(Array("Subject: not an mbox\n\nbody\n".utf8)).count, 0)
    }

    func testPostmarkNeedsSixWordsATimeAndAYear() {
        for line in ["From a@x Mon Jan  1 00:00:00 2024", "From a@x Tue Jan 2 10:11 2024", "From  MAILER-DAEMON Fri Jul  8 12:08:34 2011"] {
            XCTAssertTrue(MailboxReader.isPostmark(Array(line.utf8)), line)
        }
        for line in ["From me, an unquoted line", "From a@x Mon Jan 1 000:00:00 2024", "From a@x Mon Jan 1 00:00:00 20245",
            "From a@x Mon Jan 1 0:00 2024", "From Jan 1 00:00 2024", "From a@x Mon Jan 1 :00 2024", ""] {
            XCTAssertFalse(MailboxReader.isPostmark(Array(line.utf8)), line)
        }
    }

    func testEmptyLinesAndBareLFAtEnd() {
        let messages = MailboxReader.mbox(Array("\n\nFrom a b\n\n\n\nx\n>\n>From\n>From \nlast".utf8))
        XCTAssertEqual(messages.map { String(decoding: $0, as: UTF8.self) }, ["\r\n\r\n\r\nx\r\n>\r\n>From\r\nFrom \r\nlast\r\n"])
    }

    func testSeparatorsWithNothingBetweenAreNoMessage() {
        XCTAssertEqual(MailboxReader.mbox(Array("From a b\nFrom c d\n\nFrom \nSubject: x\n".utf8)).map { String(decoding: $0, as: UTF8.self) }, ["Subject: x\r\n"])
    }

    func testMaildirOldestFirstAndCRLF() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("maildir-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["cur", "new", "tmp"] { try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
        try Data("Subject: b\n\nx\n".utf8).write(to: URL(fileURLWithPath: dir + "/cur/200.host:2,S"))
        try Data("Subject: a\n\nx\n".utf8).write(to: URL(fileURLWithPath: dir + "/new/100.host"))
        try Data("Subject: tmp\n\n".utf8).write(to: URL(fileURLWithPath: dir + "/tmp/50.host"))
        let files = MailboxReader.maildirFiles(dir)
        XCTAssertEqual(files.map { ($0 as NSString).lastPathComponent }, ["100.host", "200.host:2,S"])
        XCTAssertEqual(MailboxReader.crlf(Array("a\nb\r\n".utf8)), Array("a\r\nb\r\n".utf8))
    }
}
