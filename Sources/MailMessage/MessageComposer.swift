import Foundation

/// Builds RFC 5322 / MIME messages for mail Postroom sends: headers with RFC 2047
/// encoded words where needed, folded under 78 columns; multipart/alternative when
/// there is HTML; attachments in base64 with RFC 2231 file names; every line within
/// 998 octets.
public struct MessageComposer: Sendable {
    public struct Attachment: Sendable {
        public var filename: String
        public var contentType: String
        public var data: [UInt8]

        public init(filename: String, contentType: String, data: [UInt8]) {
            self.filename = filename
            self.contentType = contentType
            self.data = data
        }
    }

    public var from: MailAddress
    public var to: [MailAddress]
    public var cc: [MailAddress] = []
    public var replyTo: MailAddress?
    public var subject: String
    public var date: Date
    public var messageID: String
    public var inReplyTo: String?
    public var references: [String] = []
    public var text: String
    public var html: String?
    public var attachments: [Attachment] = []
    public var extraHeaders: [(String, String)] = []

    public init(from: MailAddress, to: [MailAddress], subject: String, date: Date, messageID: String, text: String) {
        self.from = from
        self.to = to
        self.subject = subject
        self.date = date
        self.messageID = messageID
        self.text = text
    }

    /// The message as it goes on the wire (CRLF line ends).
    public func compose(boundarySeed: String = UUID().uuidString) -> [UInt8] {
        var headers: [String] = []
        headers.append(Self.header("From", Self.addressList([from])))
        headers.append(Self.header("To", Self.addressList(to)))
        if !cc.isEmpty { headers.append(Self.header("Cc", Self.addressList(cc))) }
        if let replyTo { headers.append(Self.header("Reply-To", Self.addressList([replyTo]))) }
        headers.append(Self.header("Subject", Self.encodeIfNeeded(subject)))
        headers.append("Date: " + Self.rfc5322Date(date))
        headers.append("Message-ID: <\(Self.messageIDText(messageID))>")
        // An id longer than any mail program writes is left out: one of 1,000 characters
        // from a participant would push every later reply past the 998-octet line limit.
        let fitting = { (id: String) -> String? in
            let text = Self.messageIDText(id)
            return text.isEmpty || text.utf8.count > 250 ? nil : text
        }
        if let inReplyTo, let id = fitting(inReplyTo) { headers.append("In-Reply-To: <\(id)>") }
        let referenced = references.compactMap(fitting)
        if !referenced.isEmpty { headers.append(Self.header("References", referenced.map { "<\($0)>" }.joined(separator: " "))) }
        for (name, value) in extraHeaders {
            let safeName = String(name.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F && $0 != ":" }.map(Character.init))
            guard !safeName.isEmpty else { continue }
            headers.append(Self.header(safeName, Self.encodeIfNeeded(value)))
        }
        headers.append("MIME-Version: 1.0")

        let textPart = Self.textPart(text, subtype: "plain")
        var body: [String]
        let alternative: [String]
        if let html {
            let b = "alt-" + boundarySeed
            alternative = ["Content-Type: multipart/alternative; boundary=\"\(b)\"", "", "--\(b)"] + textPart + ["--\(b)"]
                + Self.textPart(html, subtype: "html") + ["--\(b)--"]
        } else {
            alternative = textPart
        }
        if attachments.isEmpty {
            body = alternative
        } else {
            let b = "mixed-" + boundarySeed
            body = ["Content-Type: multipart/mixed; boundary=\"\(b)\"", "", "--\(b)"] + alternative
            for attachment in attachments {
                body.append("--\(b)")
                body.append("Content-Type: \(Self.mediaType(attachment.contentType)); \(Self.parameter("name", attachment.filename))")
                body.append("Content-Disposition: attachment; \(Self.parameter("filename", attachment.filename))")
                body.append("Content-Transfer-Encoding: base64")
                body.append("")
                body += Self.base64Lines(attachment.data)
            }
            body.append("--\(b)--")
        }
        // The first lines of `body` are the top-level Content-Type headers.
        let separator = body.firstIndex(of: "") ?? 0
        let all = headers + body[..<separator] + [""] + body[(separator + 1)...]
        return Array((all.joined(separator: "\r\n") + "\r\n").utf8)
    }

    static func textPart(_ text: String, subtype: String) -> [String] {
        let normalised = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        let ascii = normalised.utf8.allSatisfy { $0 < 0x80 }
        let longLine = normalised.split(separator: "\n", omittingEmptySubsequences: false).contains { $0.utf8.count > 900 }
        var lines = ["Content-Type: text/\(subtype); charset=utf-8"]
        if ascii && !longLine {
            lines.append("Content-Transfer-Encoding: 7bit")
            lines.append("")
            lines += normalised.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        } else {
            lines.append("Content-Transfer-Encoding: quoted-printable")
            lines.append("")
            lines += quotedPrintable(normalised)
        }
        return lines
    }

    /// RFC 2045 6.7, lines of at most 76 characters.
    static func quotedPrintable(_ text: String) -> [String] {
        var out: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var current = ""
            let bytes = Array(line.utf8)
            for (i, byte) in bytes.enumerated() {
                let isLast = i == bytes.count - 1
                var piece: String
                if (byte == 0x20 || byte == 0x09) && !isLast {
                    piece = String(UnicodeScalar(byte))
                } else if byte >= 33 && byte <= 126 && byte != 61 {
                    piece = String(UnicodeScalar(byte))
                } else {
                    piece = String(format: "=%02X", byte)
                }
                if current.count + piece.count > 75 {
                    out.append(current + "=")
                    current = ""
                }
                current += piece
            }
            out.append(current)
        }
        return out
    }

    static func base64Lines(_ data: [UInt8]) -> [String] {
        let encoded = Data(data).base64EncodedString()
        var lines: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return lines
    }

    /// RFC 2231 for non-ASCII names, a quoted string otherwise.
    static func parameter(_ name: String, _ value: String) -> String {
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) && !value.contains("\"") && !value.contains("\\") {
            return "\(name)=\"\(value)\""
        }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~")
        return "\(name)*=utf-8''" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
    }

    /// RFC 2047 "B" words for text that is not plain ASCII, each word at most 75 chars.
    public static func encodeIfNeeded(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?utf-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?utf-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: " ")
    }

    /// A type/subtype made only of token characters (RFC 2045 5.1), else the neutral
    /// type: a value from the API can never add a parameter or a header line.
    public static func mediaType(_ text: String) -> String {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        let tspecials = Set("()<>@,;:\\\"/[]?=".utf8)
        guard parts.count == 2, text.utf8.count <= 127,
            parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !tspecials.contains($0) } })
        else { return "application/octet-stream" }
        return parts.joined(separator: "/").lowercased()
    }

    /// Whether `mediaType` keeps the text as it is.
    public static func isValidMediaType(_ text: String) -> Bool {
        mediaType(text) == text.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// A message id as it may stand between angle brackets: no space, control
    /// character or bracket, whatever the stored header held.
    static func messageIDText(_ id: String) -> String {
        String(id.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" }.map(Character.init))
    }

    /// An address as it may stand between angle brackets (already parsed by the API;
    /// this is the last line of defence).
    static func addressText(_ address: String) -> String {
        String(address.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" && $0 != "," }.map(Character.init))
    }

    static func addressList(_ addresses: [MailAddress]) -> String {
        addresses.map { original in
            var address = original
            address.address = addressText(original.address)
            guard let name = address.name, !name.isEmpty else { return "<\(address.address)>" }
            let display: String
            if name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
                let needsQuotes = name.contains { "()<>[]:;@\\,.\"".contains($0) }
                display = needsQuotes ? "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" : name
            } else {
                display = encodeIfNeeded(name)
            }
            return "\(display) <\(address.address)>"
        }.joined(separator: ", ")
    }

    /// Folds a header at spaces so lines stay within 78 characters where possible.
    static func header(_ name: String, _ value: String) -> String {
        var lines: [String] = []
        var current = name + ":"
        for word in value.split(separator: " ", omittingEmptySubsequences: false) {
            if current.count + 1 + word.count > 78 && current.count > name.count + 1 {
                lines.append(current)
                current = " " + word
            } else {
                current += " " + word
            }
        }
        lines.append(current)
        return lines.joined(separator: "\r\n")
    }

    public static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, d MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// "Re: " once, with the ticket tag when there is a ticket.
    public static func replySubject(_ original: String?, ticket: Int64?) -> String {
        // On the octets, once: Foundation's trimming and String.contains cost many times a
        // plain scan on a long subject.
        var subject = Array(Self.strippingReplyPrefixes(original ?? "").utf8)
        while let last = subject.last, last == 0x20 || last == 0x09 { subject.removeLast() }
        if let ticket {
            let tag = Array(" [#\(ticket)]".utf8)
            if !Self.contains(subject, tag.dropFirst()) { subject += subject.isEmpty ? tag.dropFirst() : tag[...] }
        }
        return "Re: " + String(decoding: subject, as: UTF8.self)
    }

    /// Whether `needle` (a short ticket tag) occurs in `haystack`: memchr to each "[",
    /// then a compare of the tag's few octets, so linear in the subject.
    static func contains(_ haystack: [UInt8], _ needle: ArraySlice<UInt8>) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return needle.isEmpty }
        return haystack.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            var at = 0
            let last = buffer.count - needle.count
            while at <= last {
                guard let found = memchr(base + at, Int32(first), last - at + 1) else { return false }
                at = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                if needle.indices.allSatisfy({ base[at + $0 - needle.startIndex] == needle[$0] }) { return true }
                at += 1
            }
            return false
        }
    }

    /// Drops leading "Re:", "AW:", "SV:", "Fwd:", "Fw:" (any case, any number, spaces
    /// around the colon) in one pass: removing them one by one was quadratic.
    public static func strippingReplyPrefixes(_ text: String) -> String {
        let bytes = Array(text.utf8)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        var i = 0
        while i < bytes.count && isSpace(bytes[i]) { i += 1 }
        let prefixes: [[UInt8]] = ["fwd", "re", "aw", "sv", "fw"].map { Array($0.utf8) }
        outer: while i < bytes.count {
            for prefix in prefixes where i + prefix.count <= bytes.count {
                var same = true
                for (k, p) in prefix.enumerated() where bytes[i + k] | 0x20 != p {
                    same = false
                    break
                }
                guard same else { continue }
                var j = i + prefix.count
                while j < bytes.count && isSpace(bytes[j]) { j += 1 }
                guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else { continue }
                j += 1
                while j < bytes.count && isSpace(bytes[j]) { j += 1 }
                i = j
                continue outer
            }
            break
        }
        return String(decoding: bytes[i...], as: UTF8.self)
    }

    /// References for a reply: the conversation's chain, trimmed to the first and the
    /// last few ids when long (RFC 5322 3.6.4 allows dropping middle ones).
    public static func references(_ chain: [String], limit: Int = 10) -> [String] {
        guard chain.count > limit else { return chain }
        return [chain[0]] + chain.suffix(limit - 1)
    }
}
