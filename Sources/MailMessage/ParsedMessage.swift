/// What a person sees of a message, and what threading needs, parsed from its bytes.
/// Parsing never fails: problems become `warnings` and the best reading is kept.
public struct ParsedMessage: Sendable {
    public struct Attachment: Sendable, Equatable, Codable {
        /// MIME path of the part ("2", "1.3"), stable for a given message: the id
        /// by which the part can be fetched again.
        public var part: String
        public var filename: String?
        public var contentType: String
        public var size: Int
        public var contentID: String?
        /// Shown inside the HTML (cid: image) rather than listed.
        public var inline: Bool
    }

    /// The message bytes (shared, not copied: arrays are copy-on-write).
    public var raw: [UInt8]
    public var root: MIMEPart
    public var headers: Headers { root.headers }
    public var subject: String?
    public var from: [MailAddress]
    public var sender: MailAddress?
    public var replyTo: [MailAddress]
    public var to: [MailAddress]
    public var cc: [MailAddress]
    /// Unix seconds, from the Date header.
    public var date: Int64?
    public var messageID: String?
    public var inReplyTo: [String]
    public var references: [String]
    /// The new text of the message (text/plain, or text from HTML).
    public var text: String
    /// The quoted part of a reply, split from `text`.
    public var quotedText: String?
    public var html: String?
    public var attachments: [Attachment]
    public var warnings: [String]
    /// Set for delivery status notifications (bounces).
    public var deliveryReport: DeliveryReport?

    /// The first From address, the one a reply goes to by default.
    public var fromAddress: MailAddress? { from.first }

    /// The decoded content of a part (an attachment), by its MIME path.
    public func content(ofPart path: String) -> [UInt8]? {
        root.part(at: path)?.decodedBody(in: raw)
    }
}

public enum MailParser {
    /// Message-ID and first From address from the header alone: what import needs to
    /// tell a message it already has, at a fraction of a full parse.
    public static func identity(_ bytes: [UInt8]) -> (messageID: String?, from: String) {
        var warnings: [String] = []
        let (headers, _) = Headers.parse(bytes, range: 0..<bytes.count, warnings: &warnings)
        let from = headers.all("From").lazy.flatMap { MailAddress.parseList($0.rawValue) }.first?.address ?? ""
        return (headers.first("Message-ID").flatMap { MessageIDs.parse($0.rawValue).first }, from)
    }

    public static func parse(_ bytes: [UInt8]) -> ParsedMessage {
        var warnings: [String] = []
        var partBudget = MessageLimits.parts
        let root = MIMEPart.parse(
            bytes, range: 0..<bytes.count, path: "", depth: 0, defaultType: "text/plain", warnings: &warnings, partBudget: &partBudget)
        let headers = root.headers

        // The charset old mailers used for raw 8-bit headers is usually the body's.
        var fallback: String?
        root.walk { part in if fallback == nil, let c = part.charset, part.contentType.type == "text" { fallback = c } }
        func addresses(_ name: String) -> [MailAddress] {
            let all = headers.all(name).flatMap { MailAddress.parseList($0.rawValue, fallbackCharset: fallback) }
            guard all.count > MessageLimits.addressesPerField else { return all }
            warnings.append("\(name) names \(all.count) addresses; the first \(MessageLimits.addressesPerField) are used, the rest stay in the raw message")
            return Array(all.prefix(MessageLimits.addressesPerField))
        }
        var subject = headers.first("Subject")?.text(fallbackCharset: fallback)
        if subject?.isEmpty == true { subject = nil }
        var date: Int64?
        if let dateText = headers.first("Date")?.rawText, !dateText.isEmpty {
            date = MailDate.parse(dateText)
            if date == nil { warnings.append("Date '\(dateText)' not understood") }
        }
        let from = addresses("From")
        if headers.first("From") != nil && from.isEmpty { warnings.append("From header has no address") }

        var body = Body()
        collect(root, bytes: bytes, body: &body, isRoot: true)
        warnings += body.warnings
        var text = body.plain ?? body.htmlText ?? ""
        text = Self.unixLineBreaks(text)
        let (new, quoted) = QuoteSplitter.split(text)

        return ParsedMessage(
            raw: bytes, root: root, subject: subject, from: from, sender: addresses("Sender").first, replyTo: addresses("Reply-To"),
            to: addresses("To"), cc: addresses("Cc"), date: date,
            messageID: headers.first("Message-ID").flatMap { MessageIDs.parse($0.rawValue).first },
            inReplyTo: headers.all("In-Reply-To").flatMap { MessageIDs.parse($0.rawValue) },
            references: headers.all("References").flatMap { MessageIDs.parse($0.rawValue) },
            text: new, quotedText: quoted, html: body.html, attachments: body.attachments, warnings: warnings,
            deliveryReport: DeliveryReport.find(in: root, bytes: bytes))
    }

    /// CRLF to LF, on the UTF-8 bytes (a lone CR stays): linear, and untouched text is
    /// not copied.
    static func unixLineBreaks(_ text: String) -> String {
        var text = text
        let converted = text.withUTF8 { input -> String? in
            guard input.contains(UInt8(ascii: "\r")) else { return nil }
            // Written straight into the new string's storage: dropping a CR before LF
            // only shortens, so the input's length is enough.
            return String(unsafeUninitializedCapacity: input.count) { output in
                var written = 0
                var index = 0
                let count = input.count
                while index < count {
                    let byte = input[index]
                    if byte == UInt8(ascii: "\r"), index + 1 < count, input[index + 1] == UInt8(ascii: "\n") {
                        output[written] = UInt8(ascii: "\n")
                        index += 2
                    } else {
                        output[written] = byte
                        index += 1
                    }
                    written += 1
                }
                return written
            }
        }
        return converted ?? text
    }

    struct Body {
        var plain: String?
        var html: String?
        var htmlText: String?
        var attachments: [ParsedMessage.Attachment] = []
        var warnings: [String] = []
    }

    static func isAttachment(_ part: MIMEPart) -> Bool {
        if part.disposition?.value == "attachment" { return true }
        if part.filename != nil && part.contentType.type != "text" { return true }
        if part.disposition?.value == "inline" && part.filename != nil && part.contentType.type == "text" && part.contentType.subtype != "plain" && part.contentType.subtype != "html" { return true }
        return false
    }

    /// Depth-first: the first text/plain and text/html that are not attachments make
    /// the body; everything else with content is an attachment. In
    /// multipart/alternative, plain text wins when it has content.
    static func collect(_ part: MIMEPart, bytes: [UInt8], body: inout Body, isRoot: Bool) {
        if part.isMultipart {
            if part.children.isEmpty {
                // No parts found: show the raw body rather than nothing.
                if body.plain == nil {
                    body.plain = Charset.decode(bytes[part.bodyRange], charset: part.charset).text
                }
                return
            }
            for child in part.children { collect(child, bytes: bytes, body: &body, isRoot: false) }
            return
        }
        if part.isMessage && !isRoot {
            let inner = part.children.first
            let name = inner?.headers.first("Subject")?.text
            body.attachments.append(
                .init(
                    part: part.path, filename: part.filename ?? ((name?.isEmpty == false ? name! : "message") + ".eml"),
                    contentType: part.contentType.value, size: part.decodedSize(in: bytes), contentID: part.contentID, inline: false))
            return
        }
        let type = part.contentType.value
        if !isAttachment(part) && (type == "text/plain" || type == "text" || type == "text/html" || (isRoot && part.contentType.type == "text")) {
            let decoded = part.text(in: bytes)
            if let warning = decoded.warning { body.warnings.append("part \(part.path.isEmpty ? "body" : part.path): \(warning)") }
            if type == "text/html" {
                if body.html == nil {
                    body.html = decoded.text
                    body.htmlText = HTMLText.text(from: decoded.text)
                    return
                }
            } else if body.plain == nil {
                body.plain = decoded.text
                return
            } else if part.disposition?.value != "attachment" && part.filename == nil {
                // A further inline text part (e.g. a footer added by a list): append it.
                body.plain! += "\n" + decoded.text
                return
            }
        }
        if part.bodyRange.isEmpty && part.filename == nil { return }
        let inline = part.contentID != nil && part.disposition?.value != "attachment"
        body.attachments.append(
            .init(
                part: part.path.isEmpty ? "1" : part.path, filename: part.filename, contentType: part.contentType.value,
                size: part.decodedSize(in: bytes), contentID: part.contentID, inline: inline))
    }
}
