// A message as MessageProcessor and the Sieve interpreter see it: MailParser.parse
// (MIME tree, charsets, transfer encodings, HTML to text, quote splitting, delivery
// reports), every header field through the structured-field parsers (encoded words,
// RFC 2231 parameters, address lists, Message-IDs, MailDate), and every parsed date
// on into the time arithmetic that uses it (Sieve's date parts, the conversation
// view's milliseconds, day differences).
//
// Input: the message bytes. Short inputs (< 1 KiB) also go whole through each
// field parser, so a mutated header value is tested without a message around it.
import Foundation
import FuzzSupport
@testable import MailMessage
@testable import Sieve

/// A fixed "now" (2026-11-30T00:00:00Z), so runs repeat.
let now: Int64 = 1_795_996_800

nonisolated(unsafe) let isoFormatter: ISO8601DateFormatter = {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter
}()

let dateParts = ["year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601", "std11", "zone", "weekday"]

/// What the code after the parser does with a Date header's value.
func useDate(_ seconds: Int64, text: String) {
    // Sieve date/currentdate (Interpreter.dateTest): original zone, or a zone argument.
    let offset = DateParts.originalOffset(text) ?? 0
    for zone in [offset, 0, 14 * 60, -12 * 60] {
        for name in dateParts { blackHole(DateParts.part(name, seconds: seconds, offsetMinutes: zone)) }
    }
    // Conversations: sent_at is stored in seconds and shown as milliseconds
    // (ConversationQueries: `Self.iso($0 * 1000)`).
    let millis = seconds * 1000
    blackHole(isoFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000)))
    // Age in days, as vacation periods and auto-reply windows are computed.
    let days = (now - seconds) / 86400
    blackHole(Int(days))
    // Replies quote the original's date (MessageComposer writes RFC 5322 dates).
    let written = MessageComposer.rfc5322Date(Date(timeIntervalSince1970: TimeInterval(seconds)))
    blackHole(MailDate.parse(written))
}

func parseDate(_ text: String) {
    if let seconds = MailDate.parse(text) { useDate(seconds, text: text) }
}

/// One structured header value through every parser a field may meet.
func parseField(_ raw: [UInt8]) {
    blackHole(EncodedWords.decode(raw))
    blackHole(EncodedWords.decode(raw, fallbackCharset: "koi8-r"))
    for address in MailAddress.parseList(raw, fallbackCharset: "iso-8859-1") { blackHole(address.description) }
    let parameters = HeaderValueWithParameters.parse(raw)
    blackHole((parameters.type, parameters.subtype, parameters["filename"], parameters["charset"]))
    blackHole(MessageIDs.parse(raw))
    parseDate(Charset.headerText(raw))
}

func fuzzOne(_ bytes: [UInt8]) {
    let message = MailParser.parse(bytes)
    blackHole(MailParser.identity(bytes))
    blackHole((message.subject, message.fromAddress, message.sender, message.replyTo, message.to, message.cc))
    blackHole((message.messageID, message.inReplyTo, message.references, message.warnings))
    if let date = message.date {
        useDate(date, text: message.headers.first("Date")?.rawText ?? "")
    }
    // The text shown, split again as the conversation view does for its own quotes.
    blackHole(QuoteSplitter.split(message.text))
    if let quoted = message.quotedText { blackHole(QuoteSplitter.split(quoted)) }
    if let html = message.html { blackHole(QuoteSplitter.split(HTMLText.text(from: html))) }
    for attachment in message.attachments {
        blackHole(message.content(ofPart: attachment.part)?.count)
    }
    if let report = message.deliveryReport {
        for recipient in report.recipients { blackHole(recipient.isHardBounce) }
    }
    message.root.walk { part in
        blackHole((part.filename, part.contentID, part.charset, part.isMessage))
        for field in part.headers.fields { parseField(field.rawValue) }
        blackHole(part.decodedSize(in: bytes))
    }
    if bytes.count < 1024 {
        parseField(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        blackHole(QuoteSplitter.split(HTMLText.text(from: text)))
        blackHole(QuoteSplitter.split(text))
        blackHole(Charset.decode(bytes, charset: "iso-2022-jp"))
        blackHole(TransferEncoding.quotedPrintableDecode(bytes))
        blackHole(TransferEncoding.base64Decode(bytes))
        blackHole(TransferEncoding.uudecode(bytes))
    }
    // Importing an mbox splits it first.
    if bytes.count < 16 * 1024 {
        for entry in MailboxReader.mbox(bytes).prefix(4) { blackHole(MailParser.identity(MailboxReader.crlf(entry))) }
    }
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
