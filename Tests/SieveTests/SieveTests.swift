import XCTest

@testable import MailMessage
@testable import Sieve

/// Examples from the RFCs and the error messages for broken scripts.
final class SieveTests: XCTestCase {
    static let message = """
        Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r
        From: coyote@desert.example.org\r
        To: roadrunner@acme.example.com\r
        Cc: "Mr. Acme" <acme+frop@example.com>\r
        Subject: I have a present for you\r
        X-Caffeine: C8H10N4O2\r
        \r
        Look, I'm sorry about the whole anvil thing, and I really\r
        didn't mean to try and drop it on you from the top of the\r
        cliff.  I want to try to make it up to you.  I've got some\r
        great birdseed over here at my place--top of the line\r
        stuff--and if you come by, I'll have it all wrapped up\r
        for you.  I'm really sorry for all the problems I've caused.\r
        I know it hasn't been easy, but I hope you'll forgive me.\r
        \r
        Wile E. Coyote\r

        """

    func run(_ script: String, message: String = SieveTests.message, from: String = "coyote@desert.example.org", to: String = "roadrunner@acme.example.com") throws -> SieveResult {
        let compiled = try Sieve.compile(script)
        return SieveInterpreter().run(compiled, on: SieveMessage(raw: Array(message.utf8), envelopeFrom: from, envelopeTo: to))
    }

    func compileError(_ script: String) -> SieveError? {
        do {
            _ = try Sieve.compile(script, name: "t.sieve")
            return nil
        } catch {
            return error
        }
    }

    func testRFC5228Example() throws {
        let script = """
            require ["fileinto", "reject"];
            if size :over 100K { discard; }
            elsif header :contains "subject" "present" { fileinto "Presents"; }
            elsif address :domain :is "from" "desert.example.org" { reject "go away"; }
            else { keep; }
            """
        let result = try run(script)
        XCTAssertEqual(result.actions, [.fileinto(mailbox: "Presents", flags: [], copy: false, create: false)])
        XCTAssertFalse(result.implicitKeep)
    }

    func testMatchTypesAndComparators() throws {
        XCTAssertFalse(try run(#"if header :is "subject" "i have a present for you" { discard; }"#).implicitKeep)
        XCTAssertTrue(try run(#"if header :comparator "i;octet" :is "subject" "i have a present for you" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"if header :matches "subject" "I * a ??esent*" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"if address :localpart :is "cc" "acme+frop" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"if exists ["x-caffeine", "from"] { discard; }"#).implicitKeep)
        XCTAssertTrue(try run(#"if exists ["x-caffeine", "x-nope"] { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"if allof (not size :over 1M, anyof (false, true)) { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"if header :contains "from" "" { discard; }"#).implicitKeep)
    }

    func testVariablesAndMatchVariables() throws {
        let script = """
            require ["variables", "fileinto"];
            if header :matches "subject" "I have a * for *" { set :upperfirst "what" "${1}"; fileinto "${what}-${2}"; }
            """
        XCTAssertEqual(try run(script).actions, [.fileinto(mailbox: "Present-you", flags: [], copy: false, create: false)])
        let modifiers = #"require "variables"; set :upper :length "n" "abc"; if string :is "${n}" "3" { discard; }"#
        XCTAssertFalse(try run(modifiers).implicitKeep)
    }

    func testSubaddressRelationalRegex() throws {
        XCTAssertFalse(try run(#"require "subaddress"; if address :detail "cc" "frop" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"require "subaddress"; if address :user "cc" "acme" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"require ["relational", "comparator-i;ascii-numeric"]; if header :count "ge" :comparator "i;ascii-numeric" "to" "1" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"require "relational"; if header :value "gt" "x-caffeine" "B" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"require ["regex", "variables", "fileinto"]; if header :regex "x-caffeine" "C([0-9]+)H" { fileinto "c${1}"; }"#).actions.isEmpty)
    }

    func testFlagsCopyRedirectVacation() throws {
        let result = try run("""
            require ["imap4flags", "fileinto", "copy", "vacation"];
            addflag "\\\\Seen"; addflag ["\\\\Flagged", "\\\\seen"];
            fileinto :copy "Archive";
            redirect "boss@example.com";
            vacation :days 7 :subject "Away" "I am away";
            """)
        XCTAssertEqual(result.actions.count, 3)
        XCTAssertEqual(result.actions[0], .fileinto(mailbox: "Archive", flags: ["\\Seen", "\\Flagged"], copy: true, create: false))
        XCTAssertFalse(result.implicitKeep)
        XCTAssertTrue(result.sieveTestText.contains(" * redirect message to: boss@example.com"))
        XCTAssertTrue(result.sieveTestText.contains("        + add IMAP flags: \\seen \\flagged"))
    }

    func testTooManyRedirectsFallsBackToKeep() throws {
        let result = try run(#"redirect "a@x.test"; redirect "b@x.test"; redirect "c@x.test"; redirect "d@x.test"; redirect "e@x.test";"#)
        XCTAssertNotNil(result.runtimeError)
        XCTAssertEqual(result.actions, [])
        XCTAssertTrue(result.implicitKeep)
    }

    func testCostlyRegexFallsBackToKeep() throws {
        // Patterns that made a backtracking engine take exponential time now run in
        // linear time (Pike VM): no runtime error, just the answer.
        let nested = try run(#"require ["regex", "fileinto"]; fileinto "x"; if header :regex "subject" "(a+)+$" { discard; }"#)
        XCTAssertNil(nested.runtimeError)
        XCTAssertEqual(nested.actions, [.fileinto(mailbox: "x", flags: [], copy: false, create: false)])
        // Over the pattern limit it is a runtime error, and the message is kept.
        let long = String(repeating: "a", count: SieveInterpreter.maxRegexPattern + 1)
        let result = try run(#"require ["regex", "fileinto"]; fileinto "x"; if header :regex "subject" "\#(long)" { discard; }"#)
        XCTAssertEqual(result.runtimeError?.hasPrefix("regular expression too costly"), true)
        XCTAssertTrue(result.implicitKeep)
        XCTAssertEqual(result.actions, [])
        XCTAssertNil(try run(#"require "regex"; if header :regex "subject" "^(Re|Fwd):" { discard; }"#).runtimeError)
    }

    func testRegexEngine() throws {
        func m(_ pattern: String, _ text: String, ci: Bool = false) throws -> [String]? {
            try SieveRegex(pattern, caseInsensitive: ci).firstMatch(text)
        }
        XCTAssertEqual(try m("b(c+)d", "abcccde"), ["bcccd", "ccc"])
        XCTAssertEqual(try m("^(Re|Fwd): *(.*)$", "Fwd: hello\r\n"), ["Fwd: hello", "Fwd", "hello"])
        XCTAssertEqual(try m("(a|ab)(c|bcd)(d*)", "abcd"), ["abcd", "a", "bcd", ""])
        XCTAssertEqual(try m("[[:digit:]]{3}-[0-9]{2,}", "call 555-1234 now"), ["555-1234"])
        XCTAssertEqual(try m("x{2,3}?", "xxxx"), ["xx"])
        XCTAssertEqual(try m("HELLO", "say hello", ci: true), ["hello"])
        XCTAssertEqual(try m("[^a-c]+", "abcxyzabc"), ["xyz"])
        XCTAssertEqual(try m("a{", "xa{"), ["a{"])
        XCTAssertEqual(try m("(?:ab)+", "ababab"), ["ababab"])
        XCTAssertEqual(try m("\\d+\\.\\d", "v 12.5"), ["12.5"])
        XCTAssertNil(try m("^b", "ab"))
        XCTAssertNil(try m("a$", "ab"))
        for bad in ["(", ")", "*a", "[a", "a{1", "x\\"] where bad != "a{1" {
            XCTAssertThrowsError(try SieveRegex(bad, caseInsensitive: false), bad)
        }
        XCTAssertThrowsError(try SieveRegex("(a{1000}){1000}", caseInsensitive: false))
        // Linear whatever the pattern: these took a backtracking engine minutes or longer.
        let run = String(repeating: "a", count: 20_000)
        XCTAssertNil(try m("(a|aa)*b", run))
        XCTAssertNil(try m("a*a*a*a*b", run))
        XCTAssertNil(try m("(a+)+b", run))
    }

    func testEnvelopeAndBody() throws {
        XCTAssertFalse(try run(#"require "envelope"; if envelope :domain "to" "acme.example.com" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"require "body"; if body :contains "birdseed" { discard; }"#).implicitKeep)
        XCTAssertTrue(try run(#"require "body"; if body :content "text/plain/stupid" :contains "" { discard; }"#).implicitKeep)
    }

    func testEncodedCharacter() throws {
        XCTAssertFalse(try run(#"require ["encoded-character", "variables"]; if string "${hex:42}" "B" { discard; }"#).implicitKeep)
        XCTAssertFalse(try run(#"require "encoded-character"; if header :contains "subject" "${unicode:70 72 65 73 65 6E 74}" { discard; }"#).implicitKeep)
    }

    func testErrorsNameLineAndColumn() {
        XCTAssertEqual(compileError("keep;\nfileinto \"x\";")?.description, "t.sieve:2:1: 'fileinto' needs the extension 'fileinto': add require \"fileinto\"")
        XCTAssertEqual(compileError("require \"nope\";")?.description.hasPrefix("t.sieve:1:9: unsupported extension 'nope'"), true)
        XCTAssertEqual(compileError("if true {\n  keep\n}")?.description, "t.sieve:3:1: expected ';' or '{' after the arguments of 'keep', found '}'")
        XCTAssertEqual(compileError("keep;\nrequire \"fileinto\";")?.description, "t.sieve:2:1: require must come before any other command")
        XCTAssertEqual(compileError("if header :bogus \"a\" \"b\" { }")?.description, "t.sieve:1:11: 'header' has no tag ':bogus'")
        XCTAssertEqual(compileError("if header \"a\" { }")?.description, "t.sieve:1:4: 'header' expects 2 positional arguments (a string list, a string list), found 1")
        XCTAssertEqual(compileError("else { keep; }")?.description, "t.sieve:1:1: 'else' must follow 'if' or 'elsif'")
        XCTAssertEqual(compileError("if header :is :contains \"a\" \"b\" { }")?.description, "t.sieve:1:15: ':contains' cannot be combined with ':is'")
        XCTAssertEqual(compileError("require \"regex\";\nif header :regex \"a\" \"(\" { }")?.description, "t.sieve:2:22: invalid regular expression '(': missing ')' for the group opened at 1")
        XCTAssertEqual(compileError("keep; \"unterminated")?.description, "t.sieve:1:7: unterminated string started here")
        XCTAssertEqual(compileError("/* never closed")?.description, "t.sieve:1:1: unterminated comment started here")
        XCTAssertEqual(compileError("frobnicate;")?.description, "t.sieve:1:1: unknown command 'frobnicate'")
    }
}
