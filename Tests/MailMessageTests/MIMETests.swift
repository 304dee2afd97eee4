import XCTest

@testable import MailMessage

/// Hand-made edge cases, so the basics are covered without the shared corpus.
final class MIMETests: XCTestCase {
    func parse(_ text: String) -> ParsedMessage {
        MailParser.parse(Array(text.utf8))
    }

    func testEncodedWords() {
        XCTAssertEqual(EncodedWords.decode(Array("=?ISO-8859-1?Q?Andr=E9?= Pirard".utf8)), "André Pirard")
        // Adjacent words: the white space between them disappears.
        XCTAssertEqual(EncodedWords.decode(Array("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=".utf8)), "ab")
        XCTAssertEqual(EncodedWords.decode(Array("=?ISO-8859-1?Q?a?=  \r\n  =?ISO-8859-2?Q?_b?=".utf8)), "a b")
        XCTAssertEqual(EncodedWords.decode(Array("=?ISO-8859-1?Q?a?= b".utf8)), "a b")
        XCTAssertEqual(EncodedWords.decode(Array("=?UTF-8?Q?a_b?=".utf8)), "a b")
        // A UTF-8 character split across two words.
        XCTAssertEqual(EncodedWords.decode(Array("=?UTF-8?B?4pyT?= done =?UTF-8?Q?=E2=9C?= =?UTF-8?Q?=93?=".utf8)), "✓ done ✓")
        XCTAssertEqual(EncodedWords.decode(Array("=?iso-2022-jp?B?GyRCJF4kXyRgJGEkYhsoQg==?=".utf8)), "まみむめも")
        XCTAssertEqual(EncodedWords.decode(Array("=?windows-1252?Q?=93quoted=94?=".utf8)), "“quoted”")
        XCTAssertEqual(EncodedWords.decode(Array("=?utf-8*en?q?hi?=".utf8)), "hi")
        // Not an encoded word: left alone.
        XCTAssertEqual(EncodedWords.decode(Array("=?broken".utf8)), "=?broken")
    }

    func testRFC2231Parameters() {
        let ct = HeaderValueWithParameters.parse(Array("application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"".utf8))
        XCTAssertEqual(ct.value, "application/x-stuff")
        XCTAssertEqual(ct["title"], "This is even more ***fun*** isn't it!")
        let cd = HeaderValueWithParameters.parse(Array("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf".utf8))
        XCTAssertEqual(cd["filename"], "€ rates.pdf")
        let quoted = HeaderValueWithParameters.parse(Array("text/plain; charset=\"utf-8\" (comment); format=flowed".utf8))
        XCTAssertEqual(quoted["charset"], "utf-8")
        XCTAssertEqual(quoted["format"], "flowed")
        let encodedName = HeaderValueWithParameters.parse(Array("image/png; name=\"=?UTF-8?B?w6lsw6lwaGFudC5wbmc=?=\"".utf8))
        XCTAssertEqual(encodedName["name"], "éléphant.png")
    }

    func testAddresses() {
        let list = MailAddress.parseList(Array("\"Doe, John\" <john@x.test>, =?UTF-8?Q?J=C3=B6rg?= <jorg@y.test>, bare@z.test (Bare Name), Team: a@t.test, b@t.test;, <@route.test:routed@r.test>".utf8))
        XCTAssertEqual(list.map(\.address), ["john@x.test", "jorg@y.test", "bare@z.test", "a@t.test", "b@t.test", "routed@r.test"])
        XCTAssertEqual(list.map(\.name), ["Doe, John", "Jörg", "Bare Name", nil, nil, nil])
        XCTAssertEqual(list[3].group, "Team")
        XCTAssertEqual(MailAddress.parseList(Array("undisclosed-recipients:;".utf8)), [])
    }

    func testMessageIDs() {
        XCTAssertEqual(MessageIDs.parse(Array("<a@b> <c@d>\r\n <e@f>".utf8)), ["a@b", "c@d", "e@f"])
        XCTAssertEqual(MessageIDs.parse(Array("a@b".utf8)), ["a@b"])
        XCTAssertEqual(MessageIDs.parse(Array("".utf8)), [])
    }

    func testDates() {
        let expected: Int64 = 880127706  // Fri, 21 Nov 1997 09:55:06 -0600
        for text in [
            "Fri, 21 Nov 1997 09:55:06 -0600", "21 Nov 1997 09:55:06 -0600", "Fri, 21 Nov 97 09:55:06 -0600",
            "Fri, 21 Nov 1997 09:55:06 CST", "Fri, 21 Nov 1997 15:55:06 GMT", "Fri, 21 Nov 1997 15:55:06 +0000 (UTC)",
            "Friday, 21-Nov-1997 15:55:06 GMT", "1997-11-21T15:55:06Z", "1997-11-21 09:55:06 -0600", "Fri Nov 21 15:55:06 1997",
            "Fri, 21 Nov 1997 09:55:06 -06",
        ] {
            XCTAssertEqual(MailDate.parse(text), expected, text)
        }
        XCTAssertEqual(MailDate.parse("Fri, 21 Nov 1997 09:55 -0600"), expected - 6)
        XCTAssertNil(MailDate.parse("<HR>"))
        XCTAssertNil(MailDate.parse(""))
    }

    func testCharsets() {
        XCTAssertEqual(Charset.decode([0x93, 0x61, 0x94], charset: "windows-1252").text, "“a”")
        XCTAssertEqual(Charset.decode([0xE9], charset: "iso-8859-1").text, "é")
        XCTAssertEqual(Charset.decode(Array("é".utf8), charset: "iso-8859-1").text, "é")  // mislabelled UTF-8
        XCTAssertEqual(Charset.decode([0xE9], charset: "us-ascii").text, "é")
        XCTAssertEqual(Charset.decode([0xE9], charset: "utf-8").text, "é")
        XCTAssertEqual(Charset.decode(Array("Hi Mom -+Jjo--!".utf8), charset: "utf-7").text, "Hi Mom -☺-!")
        XCTAssertEqual(Charset.decode([0xC1, 0xD2, 0xD5], charset: "koi8-r").text, "ару")
        XCTAssertEqual(Charset.decode([0xA4, 0xA4, 0xA4, 0xE5], charset: "big5").text, "中文")
        XCTAssertEqual(Charset.decode([0xD6, 0xD0, 0xCE, 0xC4], charset: "gb2312").text, "中文")
        XCTAssertEqual(Charset.decode([0xC7, 0xD1], charset: "euc-kr").text, "한")
        XCTAssertEqual(Charset.decode([0x41, 0xFF], charset: "x-no-such-charset").text, "Aÿ")
    }

    func testTransferEncodings() {
        XCTAssertEqual(TransferEncoding.quotedPrintableDecode(Array("a=3Db=\r\nc=\nd =XY=".utf8)), Array("a=bcd =XY".utf8))
        XCTAssertEqual(TransferEncoding.base64Decode(Array("aGVs\r\nbG8=\r\n".utf8)), Array("hello".utf8))
        XCTAssertEqual(TransferEncoding.base64Decode(Array("aGVsbG8".utf8)), Array("hello".utf8))  // no padding
        XCTAssertEqual(TransferEncoding.parse("Quoted Printable"), .quotedPrintable)
        XCTAssertEqual(TransferEncoding.parse(" BASE64; "), .base64)
        XCTAssertNil(TransferEncoding.parse("spam"))
    }

    func testHTMLOnlyMail() {
        let m = parse("""
            From: a@b.test\r
            Subject: html\r
            Content-Type: text/html; charset=utf-8\r
            \r
            <html><head><style>p{color:red}</style><title>T</title></head><body><p>Hello&nbsp;<b>there</b> &amp; welcome</p><div>Line two<br>Line three</div><ul><li>one</li><li>two</li></ul><blockquote>old text</blockquote></body></html>\r

            """)
        XCTAssertEqual(m.text, "Hello there & welcome\nLine two\nLine three\n• one\n• two")
        XCTAssertEqual(m.quotedText, "> old text")
        XCTAssertNotNil(m.html)
    }

    func testAlternativePrefersPlain() {
        let m = parse("""
            From: a@b.test\r
            Content-Type: multipart/alternative; boundary="b1"\r
            \r
            --b1\r
            Content-Type: text/plain; charset=iso-8859-1\r
            Content-Transfer-Encoding: quoted-printable\r
            \r
            Caf=E9 au lait\r
            --b1\r
            Content-Type: text/html\r
            \r
            <p>Caf&eacute; <i>au lait</i></p>\r
            --b1--\r

            """)
        XCTAssertEqual(m.text, "Café au lait")
        XCTAssertEqual(m.html, "<p>Caf&eacute; <i>au lait</i></p>")
        XCTAssertEqual(m.attachments, [])
    }

    func testForwardedMessageAndNesting() {
        let m = parse("""
            From: a@b.test\r
            Subject: Fwd: report\r
            Content-Type: multipart/mixed; boundary="outer"\r
            \r
            preamble\r
            --outer\r
            Content-Type: text/plain\r
            \r
            See below.\r
            --outer\r
            Content-Type: message/rfc822\r
            \r
            From: c@d.test\r
            Subject: Quarterly report\r
            Content-Type: multipart/mixed; boundary="outer-inner"\r
            \r
            --outer-inner\r
            Content-Type: text/plain\r
            \r
            inner text\r
            --outer-inner\r
            Content-Type: application/pdf; name="q3.pdf"\r
            Content-Transfer-Encoding: base64\r
            \r
            JVBERi0=\r
            --outer-inner--\r
            --outer\r
            Content-Type: image/png\r
            Content-ID: <logo@x>\r
            Content-Disposition: inline\r
            Content-Transfer-Encoding: base64\r
            \r
            iVBORw0KGgo=\r
            --outer--\r
            epilogue\r

            """)
        XCTAssertEqual(m.text, "See below.")
        XCTAssertEqual(m.attachments.map(\.filename), ["Quarterly report.eml", nil])
        XCTAssertEqual(m.attachments.last?.contentID, "logo@x")
        XCTAssertEqual(m.attachments.last?.inline, true)
        XCTAssertEqual(m.attachments.last?.size, 8)
        let inner = m.root.part(at: "2.1")
        XCTAssertEqual(inner?.headers["Subject"], "Quarterly report")
        XCTAssertEqual(inner?.children.count, 2)
        XCTAssertEqual(m.root.part(at: "2.1.2")?.filename, "q3.pdf")
        XCTAssertEqual(m.content(ofPart: "2.1.2"), Array("%PDF-".utf8))
        XCTAssertEqual(m.content(ofPart: "3"), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertNil(m.content(ofPart: "9.9"))
    }

    func testQuoteSplitting() {
        let cases: [(String, String, String?)] = [
            ("Thanks!\n\nOn Mon, 1 Jan 2024 at 10:00, Ann <ann@x.test> wrote:\n> Hi\n> there", "Thanks!", "On Mon, 1 Jan 2024 at 10:00, Ann <ann@x.test> wrote:\n> Hi\n> there"),
            ("Sure.\n\nOn Mon, 1 Jan 2024 at 10:00, Ann Long-Name\n<ann@x.test> wrote:\n> Hi", "Sure.", "On Mon, 1 Jan 2024 at 10:00, Ann Long-Name\n<ann@x.test> wrote:\n> Hi"),
            ("Yes\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: Ann\nSubject: Q", "Yes", "-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: Ann\nSubject: Q"),
            ("Ok\n\n________________________________\nFrom: Bob <b@x.test>\nSent: Monday, January 1, 2024 10:00 AM\nTo: Ann\nSubject: Q", "Ok", nil),
            ("Ok\n\nFrom: Bob <b@x.test>\nSent: Monday, January 1, 2024 10:00 AM\nTo: Ann\nSubject: Q\n\nold", "Ok", "From: Bob <b@x.test>\nSent: Monday, January 1, 2024 10:00 AM\nTo: Ann\nSubject: Q\n\nold"),
            ("Le lun. 1 janv. 2024, Ann a écrit :\n> Salut", "Le lun. 1 janv. 2024, Ann a écrit :\n> Salut", nil),
            ("Merci\n\nLe lun. 1 janv. 2024, Ann a écrit :\n> Salut", "Merci", "Le lun. 1 janv. 2024, Ann a écrit :\n> Salut"),
            ("No quote here.\nJust text.", "No quote here.\nJust text.", nil),
            ("Reply\n\n> quoted 1\n>\n> quoted 2", "Reply", "> quoted 1\n>\n> quoted 2"),
        ]
        for (input, new, quoted) in cases {
            let (gotNew, gotQuoted) = QuoteSplitter.split(input)
            XCTAssertEqual(gotNew, new, input)
            if let quoted { XCTAssertEqual(gotQuoted, quoted, input) } else if input.contains("____") { XCTAssertNotNil(gotQuoted) } else { XCTAssertEqual(gotQuoted, nil, input) }
        }
    }

    func testBrokenInputNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        let seeds = [
            "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n",
            "Subject: =?utf-8?B?\r\n\r\n=?=?==?utf-8?q?=?=", "Content-Transfer-Encoding: base64\r\n\r\n====", "\r\n\r\n", "", ":", "From: <<<>>>,,,;;;:::\r\n",
            "Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n",
        ]
        for seed in seeds {
            _ = parse(seed)
            var bytes = Array(seed.utf8)
            for _ in 0..<200 {
                if !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                bytes.append(UInt8.random(in: 0...255, using: &rng))
                _ = MailParser.parse(bytes)
            }
        }
        // Deep nesting stops at the limit instead of overflowing the stack.
        var deep = "Content-Type: message/rfc822\r\n\r\n"
        deep = String(repeating: deep, count: 5000) + "body"
        XCTAssertTrue(parse(deep).warnings.contains { $0.contains("nesting") })
    }

    func testLargeAttachmentIsNotCopied() {
        let chunk = String(repeating: "QUJD", count: 19) + "\r\n"  // 76 chars -> 57 bytes
        let lines = 20 * 1024 * 1024 / 57 + 1
        var text = "From: a@b.test\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream; name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        text.reserveCapacity(lines * 78 + 1000)
        for _ in 0..<lines { text += chunk }
        text += "--b--\r\n"
        let bytes = Array(text.utf8)
        let m = MailParser.parse(bytes)
        XCTAssertEqual(m.text, "see attached")
        XCTAssertEqual(m.attachments.first?.filename, "big.bin")
        XCTAssertEqual(m.attachments.first?.size, lines * 57)
        // The part is a range into the one buffer; decoding happens only on request.
        let part = m.root.part(at: m.attachments[0].part)!
        XCTAssertEqual(part.bodyRange.count, lines * 78 - 2)  // the last CRLF belongs to the delimiter
        XCTAssertEqual(m.content(ofPart: part.path)?.prefix(3), [0x41, 0x42, 0x43])
    }
}

