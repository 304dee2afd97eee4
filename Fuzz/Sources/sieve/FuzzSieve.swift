// Sieve (RFC 5228 and extensions): lexer, parser and validator over a script, and
// the interpreter running scripts over a message, with the actions' numbers fed on
// into what FilterActions does with them.
//
// Input layout (see Fuzz/README.md):
//   SCRIPT                 no NUL byte: the input is compiled as a script, and run over
//                          a fixed message when it compiles
//   SCRIPT \0 MESSAGE      the script is compiled and run over MESSAGE, then a fixed
//                          set of scripts (header, address, envelope, body, date, regex,
//                          variables, relational, editheader, vacation) runs over MESSAGE
import Foundation
import FuzzSupport
import MailMessage
@testable import Sieve

let defaultMessage = Array(
    """
    Return-Path: <alice@example.com>\r
    From: Alice Example <alice+lists@example.com>\r
    To: support@example.org, "Bob" <bob@example.net>\r
    Cc: carol@example.com\r
    Subject: =?utf-8?q?Invoice_urgent?= 2026\r
    Date: Mon, 30 Nov 2026 09:15:00 +0100\r
    Message-ID: <m1@example.com>\r
    List-Id: <list.example.com>\r
    X-Spam-Score: 7\r
    MIME-Version: 1.0\r
    Content-Type: multipart/mixed; boundary="b1"\r
    \r
    --b1\r
    Content-Type: text/plain; charset=utf-8\r
    \r
    Hello, please refund invoice 42.\r
    --b1\r
    Content-Type: application/pdf; name="a.pdf"\r
    Content-Transfer-Encoding: base64\r
    \r
    JVBERi0xLjQK\r
    --b1--\r

    """.utf8)

let fixedScriptTexts = [
    #"""
    require ["fileinto", "reject", "imap4flags", "envelope", "subaddress", "relational", "comparator-i;ascii-numeric", "copy", "mailbox"];
    if header :contains "subject" ["invoice", "refund"] { fileinto :copy :create "Billing"; }
    if address :detail :is "from" "lists" { addflag "\\Seen"; }
    if address :domain :is ["to", "cc"] "example.org" { setflag ["\\Flagged", "$label1"]; }
    if envelope :localpart :matches "from" "*a*" { keep :flags "x"; }
    if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "5" { discard; stop; }
    if header :count "ge" :comparator "i;ascii-numeric" "received" "20" { reject "loop"; }
    if exists ["list-id", "list-unsubscribe"] { fileinto "Lists"; }
    if size :over 10K { redirect :copy "big@example.com"; }
    """#,
    #"""
    require ["variables", "regex", "body", "date", "index", "editheader", "encoded-character", "relational"];
    if header :regex "subject" "^(.*)([0-9]{4})$" { set :lower "year" "${2}"; set :upperfirst "s" "${1}"; }
    if body :text :contains ["refund", "${year}"] { addheader "X-Refund" "yes"; }
    if body :raw :matches "*JVBER*" { addheader :last "X-Pdf" "${1}"; }
    if body :content "text" :regex "invoice ([0-9]+)" { set "n" "${1}"; }
    if date :value "ge" :originalzone "date" "year" "2026" { set "new" "1"; }
    if date :zone "-1200" "date" "weekday" "1" { set "w" "1"; }
    if date :index 1 :last "date" "iso8601" "*" { set "d" "${0}"; }
    if currentdate :zone "+1400" :matches "julian" "*" { set "j" "${1}"; }
    if string :count "eq" ["${n}", "${year}"] "2" { deleteheader :index 1 "received"; }
    deleteheader :regex "x-spam-score" "[0-9]+";
    if header :contains "x-pdf" "${hex:4A 56}" { set :length "l" "${s}"; set :quoteregex "q" "${s}"; set :encodeurl "u" "${s}"; }
    """#,
    #"""
    require ["vacation", "vacation-seconds", "vnd.postroom", "ereject", "ihave"];
    if header :contains "subject" "urgent" { postroom_priority "high"; postroom_assign :team "Billing"; }
    if not anyof (header :is "auto-submitted" "auto-replied", exists "list-id") {
      vacation :days 7 :subject "Re: ${subject}" :addresses ["support@example.org"] :handle "h" "We got it.";
    }
    if ihave "ereject" { if header :is "x-block" "1" { ereject "no"; } }
    if allof (true, not false) { postroom_comment "seen"; postroom_no_ticket; }
    """#,
]

/// Compiled once: the fixed scripts must compile (a harness bug otherwise).
let fixedScripts: [SieveScript] = fixedScriptTexts.enumerated().map { index, text in
    do {
        return try Sieve.compile(text, name: "fixed\(index).sieve")
    } catch {
        fatalError("fixed script \(index) does not compile: \(error)")
    }
}

/// What FilterActions does with a vacation action's period; mirrors
/// Sources/Conversations/FilterActions.swift (recordVacation), which this package
/// cannot link (it needs the store). Keep in step with it.
func usePeriod(_ v: SieveAction.Vacation) {
    let now: Int64 = 1_795_996_800_000
    let seconds = min(max(Int64(clamping: v.seconds ?? 0), 0), 365 * 86400)
    let days = min(max(Int64(clamping: v.days ?? 7), 1), 365)
    let period = (v.seconds != nil ? max(seconds, 1) : days * 86400) * 1000
    blackHole(now - period)
}

func use(_ result: SieveResult) {
    blackHole(result.sieveTestText)
    // The JSON the API and `filters test --json` answer (FilterCheck+Encoding).
    blackHole(try? JSONEncoder().encode(FilterCheck(result)))
    for action in result.actions {
        if case .vacation(let v) = action { usePeriod(v) }
    }
    blackHole((result.headerEdits, result.implicitKeep, result.runtimeError))
}

func fuzzOne(_ bytes: [UInt8]) {
    let (scriptBytes, messageBytes) = splitOnce(bytes, at: 0)
    let text = String(decoding: scriptBytes, as: UTF8.self)
    let message = SieveMessage(
        raw: messageBytes.map(Array.init) ?? defaultMessage, envelopeFrom: "alice+lists@example.com",
        envelopeTo: "support@example.org", originalRecipient: "support+x@example.org")
    // A fresh interpreter per input: its regex cache would otherwise grow without end.
    let interpreter = SieveInterpreter()
    do {
        let script = try Sieve.compile(text, name: "fuzz.sieve")
        use(interpreter.run(script, on: message))
        use(interpreter.runSequence([script] + fixedScripts.prefix(1), on: message))
    } catch {
        blackHole(error.description)
        blackHole(try? JSONEncoder().encode(FilterCheck(error)))
        if text.contains("testsuite") {
            // Pigeonhole's test files: the validator's testsuite commands.
            blackHole(try? Sieve.compile(text, name: "fuzz.svtest", allowTestsuite: true))
        }
    }
    if messageBytes != nil {
        let fixed = SieveInterpreter()
        use(fixed.runSequence(fixedScripts, on: message))
        for script in fixedScripts { use(fixed.run(script, on: message)) }
    }
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
