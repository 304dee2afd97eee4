import XCTest

@testable import IMAPProtocol

/// Responses as Dovecot and RFC 3501's examples send them, fed in pieces as a network
/// would deliver them.
final class ResponseParserTests: XCTestCase {
    func parseAll(_ text: String, chunk: Int = 7) throws -> [IMAPResponse] {
        var p = IMAPResponseParser()
        var out: [IMAPResponse] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            p.feed(bytes[i..<min(bytes.count, i + chunk)])
            i += chunk
            while let r = try p.next() { out.append(r) }
        }
        XCTAssertEqual(p.buffered, 0)
        return out
    }

    func testGreetingCapabilityAndTagged() throws {
        let r = try parseAll(
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
                + "* CAPABILITY IMAP4rev1 IDLE UIDPLUS CONDSTORE\r\n"
                + "a1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
                + "a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                + "a3 BAD Error in IMAP command UID: Invalid arguments.\r\n")
        XCTAssertEqual(r.count, 5)
        guard case .untagged(.status(.ok, let code, let text)) = r[0], case .capability(let caps)? = code else { return XCTFail("\(r[0])") }
        XCTAssertTrue(caps.contains("IDLE") && caps.contains("AUTH=PLAIN") && caps.contains("STARTTLS"))
        XCTAssertEqual(text, "Dovecot (Debian) ready.")
        XCTAssertEqual(r[1], .untagged(.capability(["IMAP4REV1", "IDLE", "UIDPLUS", "CONDSTORE"])))
        XCTAssertEqual(r[2], .tagged(tag: "a1", status: .ok, code: nil, text: "Pre-login capabilities listed, post-login capabilities have more."))
        XCTAssertEqual(r[3], .tagged(tag: "a2", status: .no, code: .other("AUTHENTICATIONFAILED", nil), text: "Authentication failed."))
        guard case .tagged(_, .bad, nil, _) = r[4] else { return XCTFail() }
    }

    func testSelect() throws {
        let r = try parseAll(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                + "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
                + "* 172 EXISTS\r\n* 1 RECENT\r\n"
                + "* OK [UNSEEN 12] Message 12 is first unseen\r\n"
                + "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
                + "* OK [UIDNEXT 4392] Predicted next UID\r\n"
                + "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"
                + "A142 OK [READ-WRITE] SELECT completed\r\n")
        XCTAssertEqual(r[0], .untagged(.flags(["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"])))
        guard case .untagged(.status(.ok, .permanentFlags(let flags)?, _)) = r[1] else { return XCTFail("\(r[1])") }
        XCTAssertEqual(flags.last, "\\*")
        XCTAssertEqual(r[2], .untagged(.exists(172)))
        XCTAssertEqual(r[3], .untagged(.recent(1)))
        XCTAssertEqual(r[4], .untagged(.status(.ok, code: .other("UNSEEN", "12"), text: "Message 12 is first unseen")))
        XCTAssertEqual(r[5], .untagged(.status(.ok, code: .uidValidity(3_857_529_045), text: "UIDs valid")))
        XCTAssertEqual(r[6], .untagged(.status(.ok, code: .uidNext(4392), text: "Predicted next UID")))
        XCTAssertEqual(r[7], .untagged(.status(.ok, code: .highestModSeq(715_194_045_007), text: "Highest")))
        XCTAssertEqual(r[8], .tagged(tag: "A142", status: .ok, code: .readWrite, text: "SELECT completed"))
    }

    func testFetchWithLiteralsSplitAnywhere() throws {
        // The body holds a line that looks like a literal announcement and a bare "* OK".
        let body = "Subject: hi\r\n\r\nsee {5}\r\n* OK not a response\r\n"
        let text = "* 12 FETCH (UID 4827 RFC822.SIZE \(body.utf8.count) FLAGS (\\Seen) BODY[] {\(body.utf8.count)}\r\n\(body) MODSEQ (12))\r\nA5 OK Fetch completed.\r\n"
        for chunk in [1, 3, 7, 64, 4096] {
            let r = try parseAll(text, chunk: chunk)
            XCTAssertEqual(r.count, 2, "chunk \(chunk)")
            guard case .untagged(.fetch(12, let f)) = r[0] else { return XCTFail("\(r[0])") }
            XCTAssertEqual(f.uid, 4827)
            XCTAssertEqual(f.size, UInt64(body.utf8.count))
            XCTAssertEqual(f.flags, ["\\Seen"])
            XCTAssertEqual(f.modSeq, 12)
            XCTAssertEqual(f.body, Array(body.utf8))
        }
    }

    func testBinaryLiteralAndLiteralPlus() throws {
        var bytes: [UInt8] = Array("* 1 FETCH (BODY[] {4+}\r\n".utf8) + [0, 0xFF, 0x0D, 0x0A] + Array(" UID 9)\r\n".utf8)
        bytes += Array("* 2 FETCH (UID 10 BODY[HEADER.FIELDS (MESSAGE-ID)]<0> \"x\\\"y\")\r\n".utf8)
        var p = IMAPResponseParser()
        p.feed(bytes)
        guard case .untagged(.fetch(1, let f))? = try p.next() else { return XCTFail() }
        XCTAssertEqual(f.body, [0, 0xFF, 0x0D, 0x0A])
        XCTAssertEqual(f.uid, 9)
        guard case .untagged(.fetch(2, let g))? = try p.next() else { return XCTFail() }
        XCTAssertEqual(g.uid, 10)
        XCTAssertEqual(g.body, Array("x\"y".utf8))
        XCTAssertNil(try p.next())
    }

    /// A 20 MB message arriving in 64 KiB reads is held once: what the parser keeps never
    /// exceeds the literal plus one read, and the body handed over is the same bytes.
    func testLargeLiteralIsHeldOnce() throws {
        let size = 20 * 1024 * 1024
        var body = [UInt8](repeating: UInt8(ascii: "a"), count: size)
        for k in stride(from: 76, to: size, by: 78) { body[k] = 0x0D; body[k + 1] = 0x0A }
        let head = Array("* 7 FETCH (UID 70 BODY[] {\(size)}\r\n".utf8)
        let tail = Array(")\r\nA9 OK done\r\n".utf8)
        var p = IMAPResponseParser()
        let chunk = 65536
        var got: [IMAPResponse] = []
        for piece in [head, body, tail] {
            var i = 0
            while i < piece.count {
                p.feed(piece[i..<min(piece.count, i + chunk)])
                i += chunk
                XCTAssertLessThanOrEqual(p.buffered, size + chunk + head.count + tail.count)
                while let r = try p.next() { got.append(r) }
            }
        }
        XCTAssertEqual(got.count, 2)
        guard case .untagged(.fetch(7, let f)) = got[0] else { return XCTFail() }
        XCTAssertEqual(f.uid, 70)
        XCTAssertEqual(f.body?.count, size)
        XCTAssertTrue(f.body == body)
        XCTAssertEqual(p.buffered, 0)
    }

    func testSearchEsearchStatusListContinuation() throws {
        let r = try parseAll(
            "* SEARCH 2 84 882\r\n* SEARCH\r\n"
                + "* ESEARCH (TAG \"A282\") UID ALL 1:3,7,10:12 COUNT 7\r\n"
                + "* STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1)\r\n"
                + "* LIST (\\HasNoChildren) \".\" INBOX\r\n* LIST (\\Noselect) NIL \"\"\r\n"
                + "+ idling\r\n+\r\n* 3 EXPUNGE\r\n* BYE Logging out\r\n")
        XCTAssertEqual(r[0], .untagged(.search([2, 84, 882])))
        XCTAssertEqual(r[1], .untagged(.search([])))
        guard case .untagged(.esearch(let all?, 7)) = r[2] else { return XCTFail("\(r[2])") }
        XCTAssertEqual(all.values(limit: 100), [1, 2, 3, 7, 10, 11, 12])
        XCTAssertEqual(r[3], .untagged(.mailboxStatus(mailbox: "INBOX", ["MESSAGES": 231, "UIDNEXT": 44292, "UIDVALIDITY": 1])))
        XCTAssertEqual(r[4], .untagged(.list(attributes: ["\\HasNoChildren"], delimiter: ".", name: "INBOX")))
        XCTAssertEqual(r[5], .untagged(.list(attributes: ["\\Noselect"], delimiter: nil, name: "")))
        XCTAssertEqual(r[6], .continuation("idling"))
        XCTAssertEqual(r[7], .continuation(""))
        XCTAssertEqual(r[8], .untagged(.expunge(3)))
        XCTAssertEqual(r[9], .untagged(.status(.bye, code: nil, text: "Logging out")))
    }

    func testLimitsAndMalformedInputAreErrorsNotCrashes() throws {
        var p = IMAPResponseParser(maxLineLength: 100, maxLiteralSize: 1000)
        p.feed(Array("* 1 FETCH (BODY[] {5000}\r\n".utf8))
        XCTAssertThrowsError(try p.next()) { XCTAssertTrue("\($0)".contains("over the limit")) }

        var q = IMAPResponseParser(maxLineLength: 100, maxLiteralSize: 1000)
        q.feed(Array(repeating: UInt8(ascii: "x"), count: 500))
        XCTAssertThrowsError(try q.next()) { XCTAssertTrue("\($0)".contains("line longer")) }

        for bad in ["a1 MAYBE fine\r\n", "* 1 FETCH UID 3\r\n", "* 1 FETCH (UID 3\r\n", "* OK [UIDVALIDITY 3 text\r\n", "\r\n", "* STATUS\r\n", "* 1 FETCH (BODY[] \"open\r\n"] {
            XCTAssertThrowsError(try IMAPResponseParser.parse(Array(bad.utf8)), bad)
        }
        // Random bytes: an error or a value, never a trap.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 1...60, using: &generator)
            var bytes = (0..<n).map { _ in [UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: "["), UInt8(ascii: "]"), 0x20, UInt8(ascii: "1"), UInt8(ascii: "*"), UInt8(ascii: "A"), 0x5C].randomElement(using: &generator)! }
            bytes += [0x0D, 0x0A]
            _ = try? IMAPResponseParser.parse(bytes)
        }
    }

    func testFetchPlanBoundsCountAndBytes() {
        let uids: [UInt32] = [5, 1, 2, 3, 4, 6]
        let sizes: [UInt32: UInt64] = [1: 10, 2: 10, 3: 30_000_000, 4: 10, 5: 10, 6: 10]
        XCTAssertEqual(IMAPFetchPlan.batches(uids, sizes: sizes, maxCount: 3, maxBytes: 1000), [[1, 2], [3], [4, 5, 6]])
        XCTAssertEqual(IMAPFetchPlan.batches(uids, sizes: [:], maxCount: 4), [[1, 2, 3, 4], [5, 6]])
        XCTAssertEqual(IMAPFetchPlan.batches([], sizes: [:]), [])
    }

    func testSequenceSetDescribe() {
        XCTAssertEqual(IMAPSequenceSet.describe([7, 1, 2, 3, 10, 11]), "1:3,7,10:11")
        XCTAssertEqual(IMAPSequenceSet("5:3")?.values(limit: 10), [3, 4, 5])
        // A few bytes from a server must not expand into 16 GB.
        XCTAssertEqual(IMAPSequenceSet("1:4294967295")?.count, 4_294_967_295)
        XCTAssertNil(IMAPSequenceSet("1:4294967295")?.values(limit: 10_000_000))
        XCTAssertNil(IMAPSequenceSet("0:3"), "UID 0 does not exist")
        XCTAssertEqual(IMAPSequenceSet.describe([4_294_967_294, 4_294_967_295]), "4294967294:4294967295")
        XCTAssertNil(IMAPSequenceSet("1:*"))
    }
}

final class CommandTests: XCTestCase {
    func testEncodingPicksAtomQuotedOrLiteral() {
        let login = IMAPCommand(tag: "a1", [.raw("LOGIN"), .string("agent@example.test"), .string("pa ss\"\\")], secret: true)
        XCTAssertEqual(String(decoding: login.bytes, as: UTF8.self), "a1 LOGIN agent@example.test \"pa ss\\\"\\\\\"\r\n")
        XCTAssertEqual(login.parts.count, 1)
        XCTAssertEqual(login.logLine, "a1 LOGIN ***")
        XCTAssertEqual(IMAPCommand(tag: "a9", [.raw("AUTHENTICATE PLAIN"), .raw("AGFnZW50AHNlY3JldA==")], secret: true).logLine, "a9 AUTHENTICATE PLAIN ***")

        let select = IMAPCommand(tag: "a2", [.raw("SELECT"), .string("Boîte")])
        XCTAssertEqual(select.parts.count, 2)
        XCTAssertEqual(String(decoding: select.parts[0], as: UTF8.self), "a2 SELECT {6}\r\n")
        XCTAssertEqual(String(decoding: select.parts[1], as: UTF8.self), "Boîte\r\n")
        let plus = IMAPCommand(tag: "a3", [.raw("SELECT"), .string("Boîte")], literalPlus: true)
        XCTAssertEqual(plus.parts.count, 1)
        XCTAssertEqual(String(decoding: plus.bytes, as: UTF8.self), "a3 SELECT {6+}\r\nBoîte\r\n")
        XCTAssertEqual(String(decoding: IMAPCommand(tag: "a4", [.raw("SELECT"), .string("")]).bytes, as: UTF8.self), "a4 SELECT \"\"\r\n")
    }
}
