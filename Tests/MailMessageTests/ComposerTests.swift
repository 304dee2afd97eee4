import Foundation
import XCTest

@testable import MailMessage

/// What Postroom sends must parse back to what it meant (our own parser and the
/// integration test's Python email package both read it).
final class ComposerTests: XCTestCase {
    func testRoundTripThroughTheParser() {
        var c = MessageComposer(
            from: MailAddress(name: "Zoë Agent", address: "support@example.com"), to: [MailAddress(name: "Ann, Customer", address: "ann@customer.test")],
            subject: "Re: Commande n° 1234 — en retard [#42]", date: Date(timeIntervalSince1970: 0), messageID: "abc.1@mx.test",
            text: "Bonjour Ann,\n\nVotre colis part aujourd’hui.\n" + String(repeating: "x", count: 1200))
        c.cc = [MailAddress(name: nil, address: "bob@customer.test")]
        c.replyTo = MailAddress(name: "Support", address: "support+c1xdeadbeef@example.com")
        c.inReplyTo = "orig@customer.test"
        c.references = ["first@customer.test", "orig@customer.test"]
        c.html = "<p>Bonjour Ann</p>"
        c.attachments = [.init(filename: "facture é.pdf", contentType: "application/pdf", data: Array(repeating: 7, count: 1000))]
        let raw = c.compose(boundarySeed: "test")
        // Every line within 998 octets, CRLF line ends.
        for line in String(decoding: raw, as: UTF8.self).components(separatedBy: "\r\n") { XCTAssertLessThanOrEqual(line.utf8.count, 998) }
        let m = MailParser.parse(raw)
        XCTAssertEqual(m.subject, "Re: Commande n° 1234 — en retard [#42]")
        XCTAssertEqual(m.from.first?.name, "Zoë Agent")
        XCTAssertEqual(m.to.first?.name, "Ann, Customer")
        XCTAssertEqual(m.cc.map(\.address), ["bob@customer.test"])
        XCTAssertEqual(m.replyTo.first?.address, "support+c1xdeadbeef@example.com")
        XCTAssertEqual(m.messageID, "abc.1@mx.test")
        XCTAssertEqual(m.inReplyTo, ["orig@customer.test"])
        XCTAssertEqual(m.references, ["first@customer.test", "orig@customer.test"])
        XCTAssertTrue(m.text.hasPrefix("Bonjour Ann,\n\nVotre colis part aujourd’hui."))
        XCTAssertEqual(m.html, "<p>Bonjour Ann</p>")
        XCTAssertEqual(m.attachments.map(\.filename), ["facture é.pdf"])
        XCTAssertEqual(m.attachments.first?.size, 1000)
        XCTAssertEqual(m.date, 0)
        XCTAssertEqual(m.warnings, [])
    }

    func testReplySubjectAndReferences() {
        XCTAssertEqual(MessageComposer.replySubject("Re: RE: Fwd: order", ticket: nil), "Re: order")
        XCTAssertEqual(MessageComposer.replySubject("order", ticket: 7), "Re: order [#7]")
        XCTAssertEqual(MessageComposer.replySubject("Re: order [#7]", ticket: 7), "Re: order [#7]")
        let chain = (1...30).map { "m\($0)@x" }
        let trimmed = MessageComposer.references(chain)
        XCTAssertEqual(trimmed.count, 10)
        XCTAssertEqual(trimmed.first, "m1@x")
        XCTAssertEqual(trimmed.last, "m30@x")
    }

    func testEncodedWordsStayShort() {
        let encoded = MessageComposer.encodeIfNeeded(String(repeating: "é", count: 100))
        for word in encoded.split(separator: " ") { XCTAssertLessThanOrEqual(word.count, 75) }
        XCTAssertEqual(EncodedWords.decode(Array(encoded.utf8)), String(repeating: "é", count: 100))
    }
}
