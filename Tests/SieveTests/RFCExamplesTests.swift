import XCTest

@testable import Sieve

/// The examples of the RFCs each extension comes from, run on messages that exercise them.
final class RFCExamplesTests: XCTestCase {
    func run(_ script: String, _ message: String, from: String = "sender@example.org", to: String = "me@example.com") throws -> SieveResult {
        try SieveInterpreter().run(Sieve.compile(script), on: SieveMessage(raw: Array(message.utf8), envelopeFrom: from, envelopeTo: to))
    }

    let plain = "From: boss@example.com\r\nTo: me@example.com\r\nSubject: MAKE MONEY FAST\r\nX-Spam-Score: 7\r\nDate: Fri, 14 Mar 2008 18:00:00 +0100\r\n\r\nbuy now\r\n"

    /// RFC 3894 (copy) section 3.
    func testCopy() throws {
        let r = try run(#"require ["copy", "fileinto"]; fileinto :copy "incoming"; redirect :copy "boss@example.com";"#, plain)
        XCTAssertTrue(r.implicitKeep)
        XCTAssertEqual(r.actions, [.fileinto(mailbox: "incoming", flags: [], copy: true, create: false), .redirect(address: "boss@example.com", copy: true)])
    }

    /// RFC 5173 (body) section 6: "if body :raw :contains "MAKE MONEY FAST" { discard; }"
    func testBody() throws {
        XCTAssertFalse(try run(#"require "body"; if body :text :contains "buy now" { discard; }"#, plain).implicitKeep)
        let mime = "From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x\r\nContent-Type: application/pdf\r\n\r\nMAKE MONEY\r\n--x--\r\n"
        XCTAssertFalse(try run(#"require "body"; if body :raw :contains "MAKE MONEY" { discard; }"#, mime).implicitKeep)
        XCTAssertTrue(try run(#"require "body"; if body :content "text" :contains "MAKE MONEY" { discard; }"#, mime).implicitKeep)
        XCTAssertFalse(try run(#"require "body"; if body :content "application/pdf" :contains "MAKE MONEY" { discard; }"#, mime).implicitKeep)
    }

    /// RFC 5229 (variables) section 3 and 4.
    func testVariables() throws {
        let script = """
            require ["variables", "fileinto"];
            set "honorific" "Mr";
            set "first_name" "Wile";
            set "last_name" "Coyote";
            set "vacation" "Dear ${HONORIFIC} ${last_name},";
            if string :is "${vacation}" "Dear Mr Coyote," { fileinto "ok"; }
            set :upperfirst "b" "${first_name}";
            set :length "l" "${unknown}${last_name}";
            if string :is "${l}" "6" { fileinto "len"; }
            """
        XCTAssertEqual(try run(script, plain).actions.count, 2)
        let matches = #"require ["variables", "fileinto"]; if header :matches "subject" "MAKE * FAST" { fileinto "${1}"; }"#
        XCTAssertEqual(try run(matches, plain).actions, [.fileinto(mailbox: "MONEY", flags: [], copy: false, create: false)])
    }

    /// RFC 5230 (vacation) section 4.1.
    func testVacation() throws {
        let r = try run(#"require "vacation"; vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"] "I'm away until October 19.";"#, plain)
        guard case .vacation(let v)? = r.actions.first else { return XCTFail() }
        XCTAssertEqual(v.days, 23)
        XCTAssertEqual(v.addresses.count, 2)
        XCTAssertTrue(r.implicitKeep)
    }

    /// RFC 5231 (relational) section 8.
    func testRelational() throws {
        XCTAssertFalse(try run(#"require ["relational", "comparator-i;ascii-numeric"]; if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { discard; }"#, plain).implicitKeep)
        XCTAssertTrue(try run(#"require ["relational", "comparator-i;ascii-numeric"]; if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "10" { discard; }"#, plain).implicitKeep)
        XCTAssertFalse(try run(#"require ["relational", "comparator-i;ascii-numeric"]; if address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "1" { discard; }"#, plain).implicitKeep)
    }

    /// RFC 5232 (imap4flags) section 7.
    func testImap4Flags() throws {
        let script = """
            require ["imap4flags", "fileinto"];
            if header :contains "subject" "MONEY" { setflag "\\\\Deleted"; addflag "\\\\Seen"; fileinto "spam"; }
            if hasflag :contains "seen" { keep; }
            """
        let r = try run(script, plain)
        XCTAssertEqual(r.actions.first, .fileinto(mailbox: "spam", flags: ["\\Deleted", "\\Seen"], copy: false, create: false))
        XCTAssertEqual(r.actions.last, .keep(flags: ["\\Deleted", "\\Seen"]))
    }

    /// RFC 5233 (subaddress) section 6.
    func testSubaddress() throws {
        let script = #"require ["envelope", "subaddress", "fileinto"]; if envelope :detail "to" "mailinglist" { fileinto "lists"; }"#
        XCTAssertEqual(try run(script, plain, to: "ken+mailinglist@example.org").actions.count, 1)
        XCTAssertEqual(try run(script, plain, to: "ken@example.org").actions.count, 0)
    }

    /// RFC 5260 (date) section 6.
    func testDate() throws {
        XCTAssertFalse(try run(#"require ["date", "relational"]; if date :value "ge" :originalzone "date" "hour" "17" { discard; }"#, plain).implicitKeep)
        XCTAssertFalse(try run(#"require "date"; if date :is :zone "+0000" "date" "time" "17:00:00" { discard; }"#, plain).implicitKeep)
        XCTAssertFalse(try run(#"require "date"; if date :is :originalzone "date" "weekday" "5" { discard; }"#, plain).implicitKeep)
        XCTAssertFalse(try run(#"require ["date", "relational"]; if currentdate :value "ge" "year" "2020" { discard; }"#, plain).implicitKeep)
    }

    /// RFC 5260 (index) section 6.
    func testIndex() throws {
        let received = "Received: from a by b; Fri, 14 Mar 2008 18:00:00 +0100\r\nReceived: from c by d; Fri, 14 Mar 2008 17:00:00 +0100\r\n" + plain
        XCTAssertFalse(try run(#"require "index"; if header :index 2 :contains "received" "from c" { discard; }"#, received).implicitKeep)
        XCTAssertFalse(try run(#"require "index"; if header :index 1 :last :contains "received" "from c" { discard; }"#, received).implicitKeep)
    }

    /// RFC 5293 (editheader) section 7.
    func testEditheader() throws {
        let script = """
            require ["editheader", "variables"];
            addheader "X-Hello" "World";
            deleteheader :is "x-spam-score" "7";
            if allof (exists "x-hello", not exists "x-spam-score") { discard; }
            """
        let r = try run(script, plain)
        XCTAssertFalse(r.implicitKeep)
        XCTAssertEqual(r.headerEdits.count, 2)
        // Received is protected.
        XCTAssertTrue(try run(#"require "editheader"; deleteheader "received"; if not exists "received" { discard; }"#, "Received: x\r\n" + plain).implicitKeep)
    }

    /// RFC 5429 (reject, ereject) section 2.
    func testReject() throws {
        let r = try run(#"require "ereject"; if header :contains "subject" "MONEY" { ereject "I don't want this."; }"#, plain)
        XCTAssertEqual(r.actions, [.reject(reason: "I don't want this.", extended: true)])
        XCTAssertFalse(r.implicitKeep)
    }

    /// RFC 5490 (mailbox) section 3.
    func testMailbox() throws {
        let r = try run(#"require ["mailbox", "fileinto"]; if mailboxexists "Spam" { fileinto :create "Spam"; }"#, plain)
        XCTAssertEqual(r.actions, [.fileinto(mailbox: "Spam", flags: [], copy: false, create: true)])
    }

    /// RFC 6609 (include) section 3: included scripts share globals, :once runs once.
    func testInclude() throws {
        struct Scripts: SieveScriptResolver {
            func script(named name: String, global: Bool) throws -> SieveScript? {
                switch name {
                case "spam": return try Sieve.compile(#"require ["fileinto"]; if header :contains "subject" "MONEY" { fileinto "Spam"; }"#)
                default: return nil
                }
            }
        }
        let script = try Sieve.compile(#"require "include"; include :personal :once "spam"; include :once "spam"; include :optional "missing";"#)
        let r = SieveInterpreter(resolver: Scripts()).run(script, on: SieveMessage(raw: Array(plain.utf8), envelopeFrom: "a@b", envelopeTo: "c@d"))
        XCTAssertEqual(r.actions, [.fileinto(mailbox: "Spam", flags: [], copy: false, create: false)])
        let missing = SieveInterpreter(resolver: Scripts()).run(try Sieve.compile(#"require "include"; include "missing";"#), on: SieveMessage(raw: Array(plain.utf8), envelopeFrom: "a", envelopeTo: "b"))
        XCTAssertNotNil(missing.runtimeError)
        XCTAssertTrue(missing.implicitKeep)
    }
}
