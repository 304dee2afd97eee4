import XCTest

@testable import MailMessage

/// Issue 10: message content that once trapped or stalled processing, and the bounds
/// that keep memory in check whatever a message contains.
final class HostileMessageTests: XCTestCase {
    /// Row 2: a 12+ digit year overflowed the day arithmetic (and crash-looped).
    func testHugeYearsAreNotDates() {
        for text in [
            "1 Jan 999999999999999 00:00:00 +0000", "Jun 2 772626772626", "Mon, 1 Jan 9223372036854775807 00:00:00 +0000",
            "2020-01-01T99999999999:00:00Z", "99999-01-01",             "31 Dec 10000 23:59:59 +0000",
        ] {
            XCTAssertNil(MailDate.parse(text), text)
        }
        XCTAssertEqual(MailDate.parse("1 Jan 1970 00:00:00 +0000"), 0)
        XCTAssertNotNil(MailDate.parse("31 Dec 9999 23:59:59 -1200"))
        let parsed = MailParser.parse(Array("Date: 1 Jan 999999999999999 00:00:00 +0000\r\nFrom: a@b.test\r\n\r\nx\r\n".utf8))
        XCTAssertNil(parsed.date)
    }

    /// Row 3: `<!--a>` repeated without `-->` was quadratic.
    func testUnclosedCommentsAreLinear() {
        let html = String(repeating: "<!--a>", count: 20_000)
        XCTAssertEqual(HTMLText.text(from: html), "")
        XCTAssertEqual(HTMLText.text(from: "a<!-- x > y --> b"), "a b")
        XCTAssertEqual(HTMLText.text(from: "<p>one</p><!-- never closed <p>two"), "one")
    }

    /// Row 14: a million empty parts used +170 MB; now at most MessageLimits.parts.
    func testPartCountIsBounded() {
        var raw = "From: a@b.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        raw += String(repeating: "--b\r\n\r\n", count: 50_000) + "--b--\r\n"
        let parsed = MailParser.parse(Array(raw.utf8))
        var count = 0
        parsed.root.walk { _ in count += 1 }
        XCTAssertLessThanOrEqual(count, MessageLimits.parts + 1)
        XCTAssertTrue(parsed.warnings.contains { $0.contains("MIME parts") })
    }

    func testHeaderFieldsAndAddressesAreBounded() {
        var raw = String(repeating: "X-A: 1\r\n", count: 5000)
        raw += "From: a@b.test\r\nCc: " + (0..<5000).map { "u\($0)@c.test" }.joined(separator: ", ") + "\r\n\r\nbody\r\n"
        let parsed = MailParser.parse(Array(raw.utf8))
        XCTAssertLessThanOrEqual(parsed.headers.fields.count, MessageLimits.headerFields)
        XCTAssertTrue(parsed.warnings.contains { $0.contains("header fields") })
        XCTAssertEqual(parsed.text, "body")

        let cc = "From: a@b.test\r\nCc: " + (0..<5000).map { "u\($0)@c.test" }.joined(separator: ", ") + "\r\n\r\nbody\r\n"
        let withCc = MailParser.parse(Array(cc.utf8))
        XCTAssertEqual(withCc.cc.count, MessageLimits.addressesPerField)
        XCTAssertTrue(withCc.warnings.contains { $0.contains("Cc names 5000 addresses") })
    }

    func testNestingIsBounded() {
        var raw = "From: a@b.test\r\n"
        for i in 0..<200 { raw += "Content-Type: multipart/mixed; boundary=b\(i)\r\n\r\n--b\(i)\r\n" }
        raw += "\r\ninner\r\n"
        let parsed = MailParser.parse(Array(raw.utf8))
        XCTAssertTrue(parsed.warnings.contains { $0.contains("nesting") })
    }

    func testTransferDecodersOnEdgeInput() {
        let uu = "junk\r\nbegin 644 x.txt\r\n\r\nM2&5L;&\\L('=O<FQD(2!4:&4@<75I8VL@8G)O=VX@9F]X(&IU;7!S(&]V97(N\n\"86( \r\n\"86\n`\nend\nM2&5L\n"
        XCTAssertEqual(
            String(decoding: TransferEncoding.uuencode.decode(Array(uu.utf8)), as: UTF8.self),
            "Hello, world! The quick brown fox jumps over.aba`")  // "86 alone: the last octet lacks its low bits
        XCTAssertEqual(TransferEncoding.uuencode.decode(Array("begin 6\n".utf8)), [])
        XCTAssertEqual(String(decoding: TransferEncoding.base64.decode(Array("SGVs\r\nbG8=SGk=\r\n!!".utf8)), as: UTF8.self), "HelloHi")
        XCTAssertEqual(TransferEncoding.base64.decode(Array("=".utf8)), [])
        XCTAssertEqual(TransferEncoding.base64.decode("SGk".utf8), Array("Hi".utf8))
    }

    func testInvalidOctetsEachBecomeOneReplacement() {
        let eucJP: [UInt8] = [0xFF, 0xFF, 0xA4, 0xA2, 0x41, 0xFF, 0xFE, 0x42, 0xA4]
        let decoded = Charset.decode(eucJP, charset: "euc-jp")
        XCTAssertEqual(decoded.text, "\u{FFFD}\u{FFFD}\u{3042}A\u{FFFD}\u{FFFD}B\u{FFFD}")
        XCTAssertNotNil(decoded.warning)
        // Twice: the second decode uses the table the first one learnt.
        XCTAssertEqual(Charset.decode(eucJP, charset: "euc-jp").text, decoded.text)
        let sjis: [UInt8] = [0x82, 0xA0, 0xFD, 0xFD, 0x61]
        XCTAssertEqual(Charset.decode(sjis, charset: "shift_jis").text, "\u{3042}\u{FFFD}\u{FFFD}a")
    }

    func testReplySubjectPrefixesStripInOnePass() {
        XCTAssertEqual(MessageComposer.replySubject("Re: RE: aw: Fwd : sv:Order", ticket: 7), "Re: Order [#7]")
        XCTAssertEqual(MessageComposer.replySubject("Rebate", ticket: nil), "Re: Rebate")
        XCTAssertEqual(MessageComposer.replySubject("  \t ", ticket: 9), "Re: [#9]")
        XCTAssertEqual(MessageComposer.replySubject(" Re:  x [#91] \t", ticket: 9), "Re: x [#91] [#9]")
        XCTAssertEqual(MessageComposer.replySubject("[#9]", ticket: 9), "Re: [#9]")
        XCTAssertEqual(MessageComposer.replySubject("[", ticket: 9), "Re: [ [#9]")
        let many = String(repeating: "Re: ", count: 100_000) + "x"
        XCTAssertEqual(MessageComposer.replySubject(many, ticket: nil), "Re: x")
    }

    /// Row 4/17: nothing from the API reaches a header or parameter unencoded.
    func testComposerNeverWritesRawLineBreaks() {
        XCTAssertEqual(MessageComposer.mediaType("text/plain\r\nX-Evil: 1"), "application/octet-stream")
        XCTAssertEqual(MessageComposer.mediaType("application/pdf"), "application/pdf")
        XCTAssertFalse(MessageComposer.isValidMediaType("text/html; charset=\"x\""))
        var composer = MessageComposer(
            from: MailAddress(name: "A\r\nBcc: x@evil.test", address: "a@b.test"), to: [MailAddress(name: nil, address: "c@d.test\r\nBcc: y@evil.test")],
            subject: "Hi\r\nBcc: z@evil.test", date: Date(timeIntervalSince1970: 0), messageID: "m@x\r\nBcc: w@evil.test", text: "body")
        composer.inReplyTo = "r@x>\r\nBcc: v@evil.test"
        composer.attachments = [.init(filename: "a\r\n.txt", contentType: "text/plain\r\nX-Evil: 1", data: [1])]
        let text = String(decoding: composer.compose(), as: UTF8.self)
        let headerSection = text.components(separatedBy: "\r\n\r\n")[0]
        XCTAssertFalse(headerSection.lowercased().contains("\r\nbcc:"), headerSection)
        XCTAssertFalse(text.contains("\r\nX-Evil"), text)
        for line in text.components(separatedBy: "\r\n") { XCTAssertFalse(line.contains("\r") || line.contains("\n")) }
    }
}
