import NetAddress
import XCTest

@testable import SMTPProtocol

final class ParsingTests: XCTestCase {
    func testCommandParsing() throws {
        XCTAssertEqual(try SMTPCommand.parse("ehlo Client.Test").get(), .ehlo("Client.Test"))
        XCTAssertEqual(try SMTPCommand.parse("MAIL FROM:<>").get(), .mail(.null, parameters: []))
        XCTAssertEqual(
            try SMTPCommand.parse("mail from: <a@b.test> size=10 BODY=8BITMIME").get(),
            .mail(.mailbox(MailboxAddress(localPart: "a", domain: "b.test")), parameters: [MailParameter("SIZE", "10"), MailParameter("BODY", "8BITMIME")]))
        XCTAssertEqual(try SMTPCommand.parse("RCPT TO:<\"odd >name\"@b.test>").get(), .rcpt(MailboxAddress(localPart: "\"odd >name\"", domain: "b.test"), parameters: []))
        XCTAssertEqual(try SMTPCommand.parse("RCPT TO:<Postmaster>").get(), .rcpt(MailboxAddress(localPart: "postmaster", domain: ""), parameters: []))
        XCTAssertEqual(try SMTPCommand.parse("BDAT 100 last").get(), .bdat(size: 100, last: true))
        XCTAssertThrowsError(try SMTPCommand.parse("BDAT -1").get())
        XCTAssertThrowsError(try SMTPCommand.parse("BDAT 1 MORE").get())
        XCTAssertThrowsError(try SMTPCommand.parse("MAIL FROM:a@b.test").get())
        XCTAssertThrowsError(try SMTPCommand.parse("RCPT TO:<a@@b>").get())
        XCTAssertThrowsError(try SMTPCommand.parse("RCPT TO:<a..b@c.test>").get())
        XCTAssertThrowsError(try SMTPCommand.parse("RCPT TO:<a@-b.test>").get())
        XCTAssertThrowsError(try SMTPCommand.parse("EHLO").get())
        XCTAssertEqual(try SMTPCommand.parse("STARTTLS").get(), .startTLS)
        XCTAssertThrowsError(try SMTPCommand.parse("STARTTLS now").get())
    }

    func testAddressLiteral() {
        XCTAssertNotNil(MailboxAddress.parse("user@[192.0.2.1]"))
        XCTAssertNil(MailboxAddress.parse("user@[]"))
    }

    func testDirectory() {
        let d = RecipientDirectory(addresses: ["support@example.com": 1])
        XCTAssertEqual(d.resolve(MailboxAddress(localPart: "SUPPORT", domain: "Example.Com")), .accept(inboxID: 1, canonical: "support@example.com", tag: nil))
        XCTAssertEqual(d.resolve(MailboxAddress(localPart: "support+a+b", domain: "example.com")), .accept(inboxID: 1, canonical: "support@example.com", tag: "a+b"))
        XCTAssertEqual(d.resolve(MailboxAddress(localPart: "+x", domain: "example.com")), .unknownUser)
        XCTAssertEqual(d.resolve(MailboxAddress(localPart: "support", domain: "example.org")), .relayDenied)
        XCTAssertEqual(d.resolve(MailboxAddress(localPart: "postmaster", domain: "example.com")), .accept(inboxID: 1, canonical: "postmaster@example.com", tag: nil))
        XCTAssertEqual(d.resolve(MailboxAddress(localPart: "postmaster", domain: "example.org")), .relayDenied)
    }

    func testReplyWire() {
        XCTAssertEqual(String(decoding: SMTPReply(250, "2.0.0", ["a", "b"]).wire, as: UTF8.self), "250-2.0.0 a\r\n250 2.0.0 b\r\n")
        XCTAssertEqual(String(decoding: SMTPReply.greeting("h").wire, as: UTF8.self), "220 h ESMTP Postroom\r\n")
    }

    func testReceivedHeaderAndDate() {
        XCTAssertEqual(ReceivedHeader.rfc5322Date(0), "Thu, 1 Jan 1970 00:00:00 +0000")
        XCTAssertEqual(ReceivedHeader.rfc5322Date(1_795_593_600), "Wed, 25 Nov 2026 08:00:00 +0000")
        XCTAssertEqual(ReceivedHeader.rfc5322Date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000")
        let header = ReceivedHeader.make(
            heloName: "evil\r\nX-Injected: 1", clientIP: "192.0.2.1", hostname: "mx.test", protocolName: "ESMTPS",
            queueID: "Q1", recipients: [SMTPRecipient(address: MailboxAddress(localPart: "a", domain: "b.test"), inboxID: 1, canonical: "a@b.test", tag: nil)],
            unixTime: 0)
        XCTAssertEqual(header, "Received: from evilX-Injected: 1 ([192.0.2.1])\r\n\tby mx.test (Postroom) with ESMTPS id Q1\r\n\tfor <a@b.test>; Thu, 1 Jan 1970 00:00:00 +0000\r\n")
    }
}
