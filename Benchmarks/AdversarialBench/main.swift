// adversarial-bench: times every scanner over message content on a benign input and on
// adversarial inputs of the same size (1 MB; 64 KB with BENCH_SMOKE=1), and prints the
// ratio to the benign time. A linear (or n log n) scanner stays within 5x whatever the
// input; a ratio above that is printed with FAIL.
//
// Each measurement runs in a child process (this binary with --child) under a time
// limit, so a scanner that never finishes is reported instead of hanging the run. Every
// measurement is also taken at a quarter of the size: the growth exponent k
// (time ~ size^k) says linear (k ~ 1) or not (k ~ 2 is quadratic), independently of
// the benign baseline.
//
// Only the public API of MailMessage and Sieve is used. Internal scanners are reached
// through the nearest public entry point (MailParser.parse, MailParser.identity).
//
// Environment: BENCH_SMOKE=1 (64 KB, short limit), ADVERSARIAL_SIZE (bytes),
// ADVERSARIAL_TIMEOUT (seconds per measurement), ADVERSARIAL_FILTER (substring of the
// scanner or input name). The exit status is always 0.

import Foundation
import MailMessage
import Sieve

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Inputs

/// Deterministic pseudo-random numbers (SplitMix64).
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

let vocabulary = [
    "the", "order", "has", "not", "arrived", "yet", "please", "could", "you", "check", "tracking", "number", "thanks", "regards",
    "invoice", "customer", "support", "message", "delivery", "address", "we", "shipped", "it", "on", "Monday", "and", "will", "refund",
    "if", "parcel", "is", "lost", "kind", "best", "team", "account", "billing", "question", "about", "my", "last", "payment", "café",
]

/// Ordinary text: words in lines of about 72 characters.
func prose(_ n: Int, eol: String = "\r\n", seed: UInt64 = 42) -> String {
    var rng = SplitMix(state: seed)
    var out = ""
    out.reserveCapacity(n + 100)
    var line = 0
    while out.utf8.count < n {
        let word = vocabulary[rng.below(vocabulary.count)]
        if line + word.utf8.count > 72 {
            out += eol
            line = 0
        } else if line > 0 {
            out += " "
            line += 1
        }
        out += word
        line += word.utf8.count
    }
    return out
}

/// Prose on one line (for header values and subjects).
func words(_ n: Int) -> String { prose(n, eol: " ") }

/// `unit` repeated to about `n` bytes (whole units).
func rep(_ unit: String, _ n: Int) -> String { String(repeating: unit, count: max(1, n / max(1, unit.utf8.count))) }

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

func base64Lines(_ count: Int, seed: UInt64 = 7) -> String {
    var rng = SplitMix(state: seed)
    var data = [UInt8](repeating: 0, count: count)
    for i in data.indices { data[i] = UInt8(truncatingIfNeeded: rng.next()) }
    let encoded = Data(data).base64EncodedString()
    var lines: [Substring] = []
    var index = encoded.startIndex
    while index < encoded.endIndex {
        let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
        lines.append(encoded[index..<end])
        index = end
    }
    return lines.joined(separator: "\r\n")
}

/// `item(0) + item(1) + ...` until at least n octets: lists of distinct entries.
func numbered(_ n: Int, _ item: (Int) -> String) -> [UInt8] {
    var v = ""
    var i = 0
    while v.utf8.count < n {
        v += item(i)
        i += 1
    }
    return Array(v.utf8)
}

/// Quoted-printable the way mailers write it: =XX escapes, soft breaks at 76.
func quotedPrintable(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count * 2)
    for line in text.split(separator: "\r\n", omittingEmptySubsequences: false) {
        var column = 0
        for byte in line.utf8 {
            let piece = (byte >= 33 && byte <= 126 && byte != 61) || byte == 0x20 ? String(UnicodeScalar(byte)) : String(format: "=%02X", byte)
            if column + piece.utf8.count > 75 {
                out += "=\r\n"
                column = 0
            }
            out += piece
            column += piece.utf8.count
        }
        out += "\r\n"
    }
    return out
}

let standardHeaders = """
    From: Ann Example <ann@customer.example>\r
    To: support@example.com\r
    Subject: Where is my order?\r
    Date: Mon, 1 Jan 2024 10:00:00 +0000\r
    Message-ID: <bench-1@customer.example>\r
    MIME-Version: 1.0\r

    """

func message(_ contentType: String, _ body: String, extraHeaders: String = "") -> [UInt8] {
    b(standardHeaders + extraHeaders + "Content-Type: \(contentType)\r\n\r\n" + body)
}

// MARK: - Cases

struct Case {
    var scanner: String
    var input: String
    /// Calls per timed run (for scanners whose input is bounded far below 1 MB).
    var reps = 1
    /// Builds the input for a size (not timed) and returns the timed work.
    var make: (Int) -> () -> Int
}

var cases: [Case] = []
@MainActor func add(_ scanner: String, _ input: String, reps: Int = 1, _ make: @escaping (Int) -> () -> Int) {
    cases.append(Case(scanner: scanner, input: input, reps: reps, make: make))
}

// --- MIME multipart splitting, through MailParser.parse (MIMEPart.parse and
// splitMultipart are internal).
do {
    let s = "MIME (MailParser.parse)"
    add(s, "benign") { n in
        let body = "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + prose(n / 2)
            + "\r\n--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64Lines(n * 3 / 8)
            + "\r\n--b1--\r\n"
        let m = message("multipart/mixed; boundary=\"b1\"", body)
        return { MailParser.parse(m).text.utf8.count }
    }
    add(s, "~n/5 empty parts (--b lines)") { n in
        let m = message("multipart/mixed; boundary=\"b\"", rep("--b\r\n", n))
        return { MailParser.parse(m).root.children.count }
    }
    add(s, "boundary-like lines that are not boundaries") { n in
        let boundary = "=_" + String(repeating: "x", count: 60)
        let near = "--" + String(boundary.dropLast()) + "\r\n--" + boundary + "x\r\n--" + boundary + "-- x\r\n"
        let body = "--\(boundary)\r\nContent-Type: text/plain\r\n\r\n" + rep(near, n) + "--\(boundary)--\r\n"
        let m = message("multipart/mixed; boundary=\"\(boundary)\"", body)
        return { MailParser.parse(m).text.utf8.count }
    }
    add(s, "40 nested multiparts, none closed") { n in
        var body = "--b0\r\n"
        for level in 1..<40 { body += "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n" }
        body += "Content-Type: text/plain\r\n\r\n" + prose(n)
        let m = message("multipart/mixed; boundary=\"b0\"", body)
        return { MailParser.parse(m).text.utf8.count }
    }
    add(s, "40 nested message/rfc822") { n in
        let body = String(repeating: "Subject: inner\r\nContent-Type: message/rfc822\r\n\r\n", count: 39) + "Subject: last\r\n\r\n" + prose(n)
        let m = message("message/rfc822", body)
        return { MailParser.parse(m).attachments.count }
    }
    // Warnings are one array for the whole message and Headers.parse looks a warning up
    // in it (warnings.contains) once per line: parts that each warn, then a part whose
    // header lines make that lookup run for every line.
    func warningParts(_ n: Int) -> String {
        let parts = min(999, n / 1024)
        return String(
            repeating: "--b\r\nContent-Type: x\r\nContent-Type: y\r\nContent-Transfer-Encoding: zz\r\nnot a header\r\n", count: parts)
    }
    add(s, "≤999 warning parts, then 'From ' + continuation lines") { n in
        let head = warningParts(n)
        let body = head + "--b\r\nFrom someone\r\n" + rep(" a\r\n", n - head.utf8.count) + "\r\nx\r\n--b--\r\n"
        let m = message("multipart/mixed; boundary=\"b\"", body)
        return { MailParser.parse(m).warnings.count }
    }
    add(s, "≤999 warning parts, then >1000 header fields") { n in
        let head = warningParts(n)
        let body = head + "--b\r\n" + rep("a:b\r\n", n - head.utf8.count) + "\r\nx\r\n--b--\r\n"
        let m = message("multipart/mixed; boundary=\"b\"", body)
        return { MailParser.parse(m).warnings.count }
    }
    add(s, "delivery-status part of ~n/20 blocks") { n in
        let status = rep("Final-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n", n)
        let body = "--r\r\nContent-Type: text/plain\r\n\r\nbounced\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\n" + status + "\r\n--r--\r\n"
        let m = message("multipart/report; report-type=delivery-status; boundary=\"r\"", body)
        return { MailParser.parse(m).deliveryReport?.recipients.count ?? 0 }
    }
}

// --- HTML to text.
do {
    let s = "HTMLText.text"
    add(s, "benign") { n in
        let unit = "<p>Hello <b>Ann</b>, your order &amp; invoice <a href=\"https://shop.example/o/1\">#1234</a> shipped.</p>\n"
            + "<div class=\"x\">We&rsquo;ll refund it if the parcel is lost &mdash; <i>kind regards</i></div><br>\n"
            + "<table><tr><td>Item</td><td>2 &times; 3</td></tr></table><ul><li>one</li><li>two</li></ul>\n"
        let html = "<html><head><title>t</title><style>p { color: red }</style></head><body>" + rep(unit, n) + "</body></html>"
        return { HTMLText.text(from: html).utf8.count }
    }
    add(s, "'<!--a>' repeated") { n in let h = rep("<!--a>", n); return { HTMLText.text(from: h).utf8.count } }
    add(s, "'<!--' + '-' run, no '>'") { n in let h = "<!--" + rep("-", n); return { HTMLText.text(from: h).utf8.count } }
    add(s, "'x<y ' repeated (no '>')") { n in let h = rep("x<y ", n); return { HTMLText.text(from: h).utf8.count } }
    add(s, "'<' run then one '>'") { n in let h = rep("<", n) + ">"; return { HTMLText.text(from: h).utf8.count } }
    add(s, "unclosed '<script>x' repeated") { n in let h = rep("<script>x", n); return { HTMLText.text(from: h).utf8.count } }
    add(s, "'&' run") { n in let h = rep("&", n); return { HTMLText.text(from: h).utf8.count } }
    add(s, "entity-like '&abcdefghij;' repeated") { n in let h = rep("&abcdefghij;", n); return { HTMLText.text(from: h).utf8.count } }
    add(s, "'<li>' repeated") { n in let h = rep("<li>", n); return { HTMLText.text(from: h).utf8.count } }
    // Each line start writes "> " once per open blockquote: output = lines x depth.
    add(s, "n/1024 open <blockquote>, then 'x<br>' lines") { n in
        let depth = max(1, n / 1024)
        let h = String(repeating: "<blockquote>", count: depth) + rep("x<br>", n - depth * 12)
        return { HTMLText.text(from: h).utf8.count }
    }
}

// --- Quote splitting.
do {
    let s = "QuoteSplitter.split"
    add(s, "benign") { n in
        let t = prose(n - 3000, eol: "\n") + "\n\nOn Mon, 1 Jan 2024 at 10:00, Ann <ann@x.example> wrote:\n" + rep("> earlier message text here\n", 2900)
        return { QuoteSplitter.split(t).new.utf8.count }
    }
    add(s, "'> ' lines") { n in let t = "new text\n" + rep("> quoted line of text\n", n); return { QuoteSplitter.split(t).new.utf8.count } }
    add(s, "'On …' lines without 'wrote:'") { n in let t = rep("On Monday Ann said something\n", n); return { QuoteSplitter.split(t).new.utf8.count } }
    add(s, "'On … wrote:' lines") { n in let t = "new text\n" + rep("On Mon, 1 Jan 2024, Ann wrote:\n", n); return { QuoteSplitter.split(t).new.utf8.count } }
    add(s, "'From: x' lines (Outlook block lookahead)") { n in let t = rep("From: x\n", n); return { QuoteSplitter.split(t).new.utf8.count } }
    add(s, "empty lines") { n in let t = "x\n" + rep("\n", n); return { QuoteSplitter.split(t).new.utf8.count } }
}

// --- RFC 2047 encoded words (EncodedWords.decode, as HeaderField.text runs it).
do {
    let s = "EncodedWords.decode"
    add(s, "benign") { n in
        let v = b(rep("Hello =?utf-8?q?caf=C3=A9?= and =?utf-8?b?w6l0w6k=?= about your order ", n))
        return { EncodedWords.decode(v).utf8.count }
    }
    add(s, "'=?a?q?x' repeated (no '?=')") { n in let v = b(rep("=?a?q?x", n)); return { EncodedWords.decode(v).utf8.count } }
    add(s, "'=?' run") { n in let v = b(rep("=?", n)); return { EncodedWords.decode(v).utf8.count } }
    add(s, "one word, n bytes of text") { n in
        let v = b("=?utf-8?b?" + rep("QUJD", n) + "?=")
        return { EncodedWords.decode(v).utf8.count }
    }
    add(s, "tiny adjacent words, same charset") { n in let v = b(rep("=?utf-8?q?a?= ", n)); return { EncodedWords.decode(v).utf8.count } }
    add(s, "tiny adjacent words, alternating iconv charsets") { n in
        let v = b(rep("=?koi8-r?q?=E1?= =?iso-8859-2?q?=E1?= ", n))
        return { EncodedWords.decode(v).utf8.count }
    }
}

// --- RFC 2231 parameters (HeaderValueWithParameters.parse).
do {
    let s = "HeaderValueWithParameters.parse"
    add(s, "benign") { n in
        let v = b("attachment; filename=\"report.pdf\"" + rep("; size=12345; p=\"quoted value\"", n))
        return { HeaderValueWithParameters.parse(v).parameters.count }
    }
    add(s, "'; a' repeated (no '=')") { n in let v = b("attachment" + rep("; a", n)); return { HeaderValueWithParameters.parse(v).parameters.count } }
    add(s, "';' run") { n in let v = b("attachment" + rep(";", n)); return { HeaderValueWithParameters.parse(v).parameters.count } }
    add(s, "'name*K*=%41' continuations, descending K") { n in
        let count = n / 16
        var v = "attachment; name*0*=utf-8''%41"
        for k in stride(from: count, to: 0, by: -1) { v += "; name*\(k)*=%42" }
        let bytes = b(v)
        return { HeaderValueWithParameters.parse(bytes).parameters.count }
    }
    add(s, "'name*999999=a' repeated") { n in let v = b("attachment" + rep("; name*999999=a", n)); return { HeaderValueWithParameters.parse(v).parameters.count } }
    add(s, "unclosed '(' comment") { n in let v = b("attachment; (" + rep("x", n)); return { HeaderValueWithParameters.parse(v).parameters.count } }
    add(s, "quoted filename of '=?a?q?x' (no '?=')") { n in
        let v = b("attachment; filename=\"" + rep("=?a?q?x", n) + "\"")
        return { HeaderValueWithParameters.parse(v).parameters.count }
    }
}

// --- Header section and unfolding, through MailParser.identity (Headers.parse is
// internal; identity runs it plus From and Message-ID).
do {
    let s = "Headers (MailParser.identity)"
    add(s, "benign") { n in
        // 200 fields of ordinary length, then a References field folded over 1 MB.
        var h = "From: Ann <ann@x.example>\r\nMessage-ID: <id@x.example>\r\n"
        for i in 0..<200 { h += "X-Field-\(i): " + words(60) + "\r\n" }
        h += "References: <first@x.example>\r\n"
        var i = 0
        while h.utf8.count < n { h += " <ref-\(i).1699999999@mail.example.com>\r\n"; i += 1 }
        let m = b(h + "\r\nbody\r\n")
        return { MailParser.identity(m).from.utf8.count }
    }
    add(s, "continuation lines") { n in let m = b("From: a@b.example\r\nSubject: a\r\n" + rep(" b\r\n", n) + "\r\nbody"); return { MailParser.identity(m).from.utf8.count } }
    add(s, "one n-byte line") { n in let m = b("From: a@b.example\r\nX: " + rep("a", n) + "\r\n\r\nbody"); return { MailParser.identity(m).from.utf8.count } }
    add(s, "tiny fields, far past the field limit") { n in let m = b("From: a@b.example\r\n" + rep("a:\r\n", n) + "\r\nbody"); return { MailParser.identity(m).from.utf8.count } }
    add(s, "mbox 'From ' line + continuation lines") { n in let m = b("From x\r\n" + rep(" a\r\n", n) + "\r\nbody"); return { MailParser.identity(m).from.utf8.count } }
}

// --- Address lists.
do {
    let s = "MailAddress.parseList"
    add(s, "benign") { n in
        let bytes = numbered(n) { i in "Person \(i) <user\(i)@example.com>, " }
        return { MailAddress.parseList(bytes).count }
    }
    add(s, "bare addresses 'uN@example.com, '") { n in
        let bytes = numbered(n) { i in "u\(i)@example.com, " }
        return { MailAddress.parseList(bytes).count }
    }
    add(s, "'(' run (nested comments)") { n in let v = b(rep("(", n)); return { MailAddress.parseList(v).count } }
    add(s, "'((((' … '))))' balanced, then an address") { n in
        let v = b(rep("(", n / 2) + rep(")", n / 2) + " a@b.example")
        return { MailAddress.parseList(v).count }
    }
    add(s, "unclosed quote") { n in let v = b("\"" + rep("a ", n)); return { MailAddress.parseList(v).count } }
    add(s, "unclosed '<'") { n in let v = b("<" + rep("a", n)); return { MailAddress.parseList(v).count } }
    add(s, "'<>' repeated") { n in let v = b(rep("<>", n)); return { MailAddress.parseList(v).count } }
    add(s, "words without commas") { n in let v = b(rep("a ", n)); return { MailAddress.parseList(v).count } }
    add(s, "'a@b ' without commas") { n in let v = b(rep("a@b ", n)); return { MailAddress.parseList(v).count } }
    add(s, "'g:' groups repeated") { n in let v = b(rep("g:", n)); return { MailAddress.parseList(v).count } }
    add(s, "display name of '=?a?q?x' (no '?=')") { n in
        let v = b("\"" + rep("=?a?q?x", n) + "\" <a@b.example>")
        return { MailAddress.parseList(v).count }
    }
}

// --- Subject normalisation.
do {
    let s = "Subject (MessageComposer)"
    add(s, "benign") { n in let v = "Re: " + words(n); return { MessageComposer.strippingReplyPrefixes(v).utf8.count } }
    add(s, "strippingReplyPrefixes: 'Re: ' × n/4") { n in let v = rep("Re: ", n) + "x"; return { MessageComposer.strippingReplyPrefixes(v).utf8.count } }
    add(s, "strippingReplyPrefixes: 'AW:' × n/3") { n in let v = rep("AW:", n) + "x"; return { MessageComposer.strippingReplyPrefixes(v).utf8.count } }
    add(s, "strippingReplyPrefixes: 'Re ' (no colon) × n/3") { n in let v = rep("Re ", n); return { MessageComposer.strippingReplyPrefixes(v).utf8.count } }
    add(s, "replySubject: 'Re: ' × n/4, ticket 42") { n in let v = rep("Re: ", n) + "x"; return { MessageComposer.replySubject(v, ticket: 42).utf8.count } }
}

// --- Dates: MailDate.parse refuses text over 1000 bytes, so the cases are 999-byte
// inputs timed 2000 times, plus one n-byte input.
do {
    let s = "MailDate.parse (999 B × 2000)"
    func pad(_ t: String) -> String { String(decoding: Array(t.utf8.prefix(990)), as: UTF8.self) }
    add(s, "benign", reps: 2000) { _ in let t = pad("Tue, 1 Apr 1997 09:06:31 -0800 " + words(2000).replacingOccurrences(of: "é", with: "e")); return { Int(MailDate.parse(t) ?? 0) } }
    add(s, "'1:' × 499 (one time token)", reps: 2000) { _ in let t = pad("1 Jan 2024 " + rep("1:", 2000)); return { Int(MailDate.parse(t) ?? 0) } }
    add(s, "'(' run", reps: 2000) { _ in let t = pad(rep("(", 2000)); return { Int(MailDate.parse(t) ?? 0) } }
    add(s, "'a ' tokens", reps: 2000) { _ in let t = pad(rep("janx ", 2000)); return { Int(MailDate.parse(t) ?? 0) } }
    add(s, "'1-jan-2024 ' tokens", reps: 2000) { _ in let t = pad(rep("1-jan-2024 ", 2000)); return { Int(MailDate.parse(t) ?? 0) } }
    add(s, "n bytes of garbage (refused by length)", reps: 2000) { n in let t = rep("x1:", n); return { Int(MailDate.parse(t) ?? 0) } }
}

// --- Message ids.
do {
    let s = "MessageIDs.parse"
    add(s, "benign") { n in
        let bytes = numbered(n) { i in "<msg-\(i).1699999999@mail.example.com> " }
        return { MessageIDs.parse(bytes).count }
    }
    add(s, "'<' run") { n in let v = b(rep("<", n)); return { MessageIDs.parse(v).count } }
    add(s, "'<' run then '>'") { n in let v = b(rep("<", n) + ">"); return { MessageIDs.parse(v).count } }
    add(s, "'<>' repeated") { n in let v = b(rep("<>", n)); return { MessageIDs.parse(v).count } }
    add(s, "'<a' repeated, '>' at the end") { n in let v = b(rep("<a", n) + ">"); return { MessageIDs.parse(v).count } }
    add(s, "no angles, 'a@b ' words") { n in let v = b(rep("a@b ", n)); return { MessageIDs.parse(v).count } }
}

// --- Transfer encodings.
do {
    let s = "quoted-printable decode"
    add(s, "benign") { n in let v = b(quotedPrintable(prose(n * 2 / 3))); return { TransferEncoding.quotedPrintable.decode(v).count } }
    add(s, "'=' run") { n in let v = b(rep("=", n)); return { TransferEncoding.quotedPrintable.decode(v).count } }
    add(s, "'=\\r\\n' soft breaks") { n in let v = b(rep("=\r\n", n)); return { TransferEncoding.quotedPrintable.decode(v).count } }
    add(s, "'=' + 70 spaces + 'x' repeated") { n in let v = b(rep("=" + String(repeating: " ", count: 70) + "x", n)); return { TransferEncoding.quotedPrintable.decode(v).count } }
    add(s, "'=' + n spaces, no line end") { n in let v = b("=" + rep(" ", n) + "x"); return { TransferEncoding.quotedPrintable.decode(v).count } }
    add(s, "'=\\r' without LF") { n in let v = b(rep("=\r", n)); return { TransferEncoding.quotedPrintable.decode(v).count } }
}
do {
    let s = "base64 decode"
    add(s, "benign") { n in let v = b(base64Lines(n * 3 / 4)); return { TransferEncoding.base64Decode(v).count } }
    add(s, "'=' run") { n in let v = b(rep("=", n)); return { TransferEncoding.base64Decode(v).count } }
    add(s, "'A=' repeated") { n in let v = b(rep("A=", n)); return { TransferEncoding.base64Decode(v).count } }
    add(s, "bytes outside the alphabet") { n in let v = b(rep("!", n)); return { TransferEncoding.base64Decode(v).count } }
}
do {
    let s = "uudecode"
    add(s, "benign") { n in
        let line = "M" + String(repeating: "86)C", count: 15) + "\n"
        let v = b("begin 644 file.bin\n" + rep(line, n) + "`\nend\n")
        return { TransferEncoding.uuencode.decode(v).count }
    }
    add(s, "one n-byte line") { n in let v = b("begin 644 f\nM" + rep("86)C", n) + "\nend\n"); return { TransferEncoding.uuencode.decode(v).count } }
    add(s, "'begin' + empty lines") { n in let v = b("begin 644 f\n" + rep("\n", n)); return { TransferEncoding.uuencode.decode(v).count } }
}

// --- Charsets (iconv).
do {
    let s = "Charset.decode"
    add(s, "benign (ISO-8859-2 through iconv)") { n in
        let v = Array(prose(n).utf8.map { $0 >= 0x80 ? UInt8(0xE9) : $0 })
        return { Charset.decode(v, charset: "iso-8859-2").text.utf8.count }
    }
    add(s, "EUC-JP, every byte invalid") { n in let v = [UInt8](repeating: 0xFF, count: n); return { Charset.decode(v, charset: "euc-jp").text.utf8.count } }
}

// --- Mailbox import.
do {
    let s = "MailboxReader.mbox"
    add(s, "benign") { n in
        let one = "From ann@x.example Mon Jan  1 00:00:00 2024\n" + String(decoding: message("text/plain", prose(4000, eol: "\n")), as: UTF8.self) + "\n\n"
        let v = b(rep(one, n))
        return { MailboxReader.mbox(v).count }
    }
    add(s, "one message of blank lines") { n in let v = b("From x Mon Jan  1 00:00:00 2024\n" + rep("\n", n)); return { MailboxReader.mbox(v).count } }
    add(s, "'From ' lines") { n in let v = b(rep("From \n", n)); return { MailboxReader.mbox(v).count } }
    add(s, "body lines 'From x' (not separators)") { n in let v = b("From x Mon Jan  1 00:00:00 2024\n" + rep("a\nFrom x\n", n)); return { MailboxReader.mbox(v).count } }
    add(s, "'>From ' lines") { n in let v = b("From x Mon Jan  1 00:00:00 2024\n" + rep(">>>>From x\n", n)); return { MailboxReader.mbox(v).count } }
}

// --- Sieve over message text (compile once; the message is parsed once, outside the
// timing; each run evaluates the script, including the body extraction).
@MainActor func sieveCase(_ scanner: String, _ input: String, script: String, body: @escaping (Int) -> String) {
    add(scanner, input) { n in
        let compiled: SieveScript
        do { compiled = try Sieve.compile(script) } catch {
            FileHandle.standardError.write(Data("script does not compile: \(error)\n".utf8))
            exit(3)
        }
        let raw = message("text/plain; charset=utf-8", body(n))
        let msg = SieveMessage(raw: raw, envelopeFrom: "ann@customer.example", envelopeTo: "support@example.com")
        let interpreter = SieveInterpreter()
        return {
            let result = interpreter.run(compiled, on: msg)
            return result.actions.count + (result.runtimeError == nil ? 0 : 1000)
        }
    }
}
do {
    let proseBody = { (n: Int) in prose(n) }
    let aRun = { (n: Int) in String(repeating: "a", count: n) }
    let s1 = "Sieve body :contains"
    sieveCase(s1, "benign", script: #"require "body"; if body :contains "tracking number 12345" { discard; }"#, body: proseBody)
    sieveCase(s1, "key 'a'×1000+'b' over an 'a' run", script: #"require "body"; if body :contains ""# + String(repeating: "a", count: 1000) + #"b" { discard; }"#, body: aRun)
    let s2 = "Sieve body :matches"
    sieveCase(s2, "benign", script: #"require "body"; if body :matches "*tracking number 12345*" { discard; }"#, body: proseBody)
    sieveCase(s2, "'*a*b' over an 'a' run", script: #"require "body"; if body :matches "*a*b" { discard; }"#, body: aRun)
    sieveCase(s2, "'*a*a*a*a*b' over an 'a' run", script: #"require "body"; if body :matches "*a*a*a*a*b" { discard; }"#, body: aRun)
    sieveCase(s2, "'*?*?*x' over an 'a' run", script: #"require "body"; if body :matches "*?*?*x" { discard; }"#, body: aRun)
    let s3 = "Sieve body :regex"
    sieveCase(s3, "benign", script: #"require ["body", "regex"]; if body :regex "order [0-9]+ shipped" { discard; }"#, body: proseBody)
    sieveCase(s3, "'a*a*a*b' over an 'a' run", script: #"require ["body", "regex"]; if body :regex "a*a*a*b" { discard; }"#, body: aRun)
    sieveCase(s3, "'(a|aa)*b' over an 'a' run", script: #"require ["body", "regex"]; if body :regex "(a|aa)*b" { discard; }"#, body: aRun)
    sieveCase(s3, "'.*.*=' over an 'a' run", script: #"require ["body", "regex"]; if body :regex ".*.*=" { discard; }"#, body: aRun)
}

// MARK: - Child: one measurement

func milliseconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
}

let arguments = CommandLine.arguments
if arguments.count == 2, arguments[1] == "--list" {
    for (index, c) in cases.enumerated() { print(index, c.scanner, "|", c.input) }
    exit(0)
}
if arguments.count == 4, arguments[1] == "--child", let index = Int(arguments[2]), let size = Int(arguments[3]), cases.indices.contains(index) {
    // A scanner that amplifies its input must not take the machine's memory with it.
    var limit = rlimit(rlim_cur: 8 << 30, rlim_max: 8 << 30)
    _ = setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
    let c = cases[index]
    let work = c.make(size)
    var best = Double.infinity
    var sink = 0
    // The best of at least three runs, and of more (up to 30, about 300 ms) for fast
    // cases: a millisecond case measured three times is mostly the machine's noise.
    var spent = 0.0
    for run in 0..<30 {
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<c.reps { sink &+= work() }
        let ms = milliseconds(clock.now - start)
        best = min(best, ms)
        spent += ms
        if ms > 1500 || (run >= 2 && spent > 300) { break }  // slow enough that noise does not matter
    }
    print(String(format: "%.4f", best), sink)
    exit(0)
}

// MARK: - Parent: run every case in a child, print the table

/// Line by line, unbuffered, so a long run shows progress.
func out(_ line: String = "") { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let env = ProcessInfo.processInfo.environment
let smoke = env["BENCH_SMOKE"] == "1"
let size = Int(env["ADVERSARIAL_SIZE"] ?? "") ?? (smoke ? 64 << 10 : 1 << 20)
let timeout = Double(env["ADVERSARIAL_TIMEOUT"] ?? "") ?? (smoke ? 5 : 15)
let filter = env["ADVERSARIAL_FILTER"].flatMap { $0.isEmpty ? nil : $0.lowercased() }
let selfPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]

enum Outcome {
    case ms(Double)
    case timeout
    case failed(String)
}

@MainActor func measure(_ index: Int, _ bytes: Int, limit: Double) -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: selfPath)
    process.arguments = ["--child", String(index), String(bytes)]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.standardError
    do { try process.run() } catch { return .failed("cannot start: \(error)") }
    let clock = ContinuousClock()
    let deadline = clock.now + .milliseconds(Int(limit * 1000))
    while process.isRunning && clock.now < deadline { usleep(5000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return .timeout
    }
    process.waitUntilExit()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    if process.terminationReason == .uncaughtSignal { return .failed("killed by signal \(process.terminationStatus)") }
    guard process.terminationStatus == 0, let first = output.split(separator: " ").first, let ms = Double(first) else {
        return .failed("exit \(process.terminationStatus)")
    }
    return .ms(ms)
}

func sizeText(_ n: Int) -> String {
    n >= 1 << 20 && n % (1 << 20) == 0 ? "\(n >> 20) MB" : (n >= 1024 ? "\(n >> 10) KB" : "\(n) B")
}
func msText(_ ms: Double) -> String { ms >= 100 ? String(format: "%.0f", ms) : (ms >= 10 ? String(format: "%.1f", ms) : String(format: "%.2f", ms)) }
/// k in time ~ size^k from two sizes a quarter apart; only when the larger time is
/// long enough to mean something.
func growth(_ big: Double, _ small: Double) -> String {
    guard big >= 5, small > 0 else { return "–" }
    return String(format: "%.1f", log(big / small) / log(4))
}

out("Adversarial inputs: \(sizeText(size)) each (benign and adversarial), best of 3, limit \(Int(timeout)) s per measurement.")
out("k: time ~ size^k, from the time at the full size and at a quarter of it (1 = linear, 2 = quadratic).")
out()
out("| scanner | input | ms | ms at ¼ size | k | ratio to benign | |")
out("|---|---|---:|---:|---:|---:|---|")

var failures: [String] = []
var benignMS: [String: Double] = [:]
for (index, c) in cases.enumerated() {
    if let filter, !c.scanner.lowercased().contains(filter), !(c.input.lowercased().contains(filter) || c.input.hasPrefix("benign")) { continue }
    let full = measure(index, size, limit: timeout)
    var msColumn = "", quarterColumn = "", kColumn = "–", ratioColumn = "", verdict = ""
    switch full {
    case .ms(let ms):
        msColumn = msText(ms)
        if case .ms(let q) = measure(index, size / 4, limit: timeout) {
            quarterColumn = msText(q)
            kColumn = growth(ms, q)
        }
        if c.input.hasPrefix("benign") {
            benignMS[c.scanner] = ms
            ratioColumn = "1.0"
        } else if let base = benignMS[c.scanner] {
            let ratio = ms / max(base, 0.001)
            ratioColumn = String(format: "%.1f", ratio)
            if ratio > 5 {
                verdict = "FAIL"
                failures.append("\(c.scanner): \(c.input) (\(ratioColumn)x)")
            }
        }
    case .timeout:
        msColumn = "> \(Int(timeout * 1000))"
        verdict = "FAIL"
        ratioColumn = benignMS[c.scanner].map { String(format: "> %.0f", timeout * 1000 / max($0, 0.001)) } ?? "–"
        // Find a size that finishes, to show how the time grows.
        var n = size / 4
        var found = false
        while n >= 1024 && !smoke && !found {
            if case .ms(let ms) = measure(index, n, limit: timeout / 3) {
                found = true
                var note = "\(msText(ms)) at \(sizeText(n))"
                if case .ms(let q) = measure(index, n / 4, limit: timeout / 3) { note += ", k \(growth(ms, q))" }
                quarterColumn = note
            }
            n /= 4
        }
        if !found { quarterColumn = smoke ? "–" : "> \(Int(timeout / 3)) s down to 1 KB" }
        failures.append("\(c.scanner): \(c.input) (did not finish in \(Int(timeout)) s)")
    case .failed(let why):
        msColumn = "error"
        verdict = "FAIL (\(why))"
        failures.append("\(c.scanner): \(c.input) (\(why))")
    }
    out("| \(c.scanner) | \(c.input) | \(msColumn) | \(quarterColumn) | \(kColumn) | \(ratioColumn) | \(verdict) |")
}
out()
if failures.isEmpty {
    out("Every adversarial input stays within 5x of its scanner's benign time.")
} else {
    out("\(failures.count) adversarial inputs over 5x the benign time:")
    for f in failures { out("  FAIL \(f)") }
}
exit(0)
