/// Splits the visible text of a reply into what is new and what is quoted, so a
/// conversation shows the new part and keeps the rest one click away. It looks for
/// the attribution lines mail programs write ("On ... wrote:", in a few languages),
/// "-----Original Message-----", Outlook's From/Sent/To/Subject block, and a final
/// block of `>` lines.
public enum QuoteSplitter {
    public static func split(_ text: String) -> (new: String, quoted: String?) {
        let lines = Self.lines(text)
        guard let cut = firstQuoteLine(lines) else { return (text.trimmingCharacters(in: "\n "), nil) }
        let new = lines[..<cut].joined(separator: "\n").trimmingCharacters(in: "\n ")
        let quoted = lines[cut...].joined(separator: "\n").trimmingCharacters(in: "\n ")
        if new.isEmpty { return (text.trimmingCharacters(in: "\n "), nil) }  // all quoted: show it all
        return (new, quoted.isEmpty ? nil : quoted)
    }

    /// The lines of `text`, split at LF on the UTF-8 bytes (a CR before the LF dropped):
    /// linear, without walking grapheme clusters.
    static func lines(_ text: String) -> [Substring] {
        let utf8 = text.utf8
        var lines: [Substring] = []
        var start = utf8.startIndex
        var index = start
        while index < utf8.endIndex {
            if utf8[index] == UInt8(ascii: "\n") {
                var end = index
                if end > start, utf8[utf8.index(before: end)] == UInt8(ascii: "\r") { end = utf8.index(before: end) }
                lines.append(Substring(utf8[start..<end]))
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        var end = utf8.endIndex
        if end > start, utf8[utf8.index(before: end)] == UInt8(ascii: "\r") { end = utf8.index(before: end) }
        lines.append(Substring(utf8[start..<end]))
        return lines
    }

    /// Whether a line can start a quote: its first character (after spaces and tabs) is
    /// one that some attribution, separator or Outlook header begins with. Most lines of
    /// a message are not, and skip the lower-casing and prefix tests.
    static func mayStartQuote(_ line: Substring) -> Bool {
        for byte in line.utf8 where byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") {
            if byte >= 0x80 { return true }
            switch byte | 0x20 {  // ASCII letters to lower case
            case UInt8(ascii: "o"), UInt8(ascii: "l"), UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "w"),
                UInt8(ascii: "d"), UInt8(ascii: "f"), UInt8(ascii: "v"):
                return true
            default:
                return byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "*")
            }
        }
        return false
    }

    static let attributionEndings = ["wrote:", "writes:", "a écrit :", "a écrit:", "schrieb:", "escribió:", "ha scritto:", "schreef:", "napisał:", "skrev:", "kirjoitti:"]
    static let attributionStarts = ["on ", "le ", "am ", "el ", "il ", "op ", "den ", "w dniu "]
    static let separators = ["-----original message-----", "----- original message -----", "-----ursprüngliche nachricht-----", "-----message d'origine-----", "________________________________"]

    static func firstQuoteLine(_ lines: [Substring]) -> Int? {
        for (i, line) in lines.enumerated() {
            if line.isEmpty || !mayStartQuote(line) { continue }  // nothing to find there; skip the per-line work
            let lower = line.trimmingCharacters(in: " \t").lowercased()
            if separators.contains(where: { lower.hasPrefix($0) }) { return i }
            // "On <date>, <name> wrote:" (possibly wrapped onto the next line)
            if attributionStarts.contains(where: { lower.hasPrefix($0) }) {
                if attributionEndings.contains(where: { lower.hasSuffix($0) }) { return i }
                if i + 1 < lines.count {
                    let next = lines[i + 1].trimmingCharacters(in: " \t").lowercased()
                    if attributionEndings.contains(where: { next.hasSuffix($0) }) && !next.hasPrefix(">") { return i }
                }
            }
            // Outlook: From: / Sent: / To: / Subject: block
            if lower.hasPrefix("from:") || lower.hasPrefix("*from:*") || lower.hasPrefix("von:") || lower.hasPrefix("de :") || lower.hasPrefix("de:") {
                let following = lines[(i + 1)..<min(lines.count, i + 6)].map { $0.trimmingCharacters(in: " \t*").lowercased() }
                let hasSent = following.contains { $0.hasPrefix("sent:") || $0.hasPrefix("date:") || $0.hasPrefix("gesendet:") || $0.hasPrefix("envoyé :") }
                let hasSubject = following.contains { $0.hasPrefix("subject:") || $0.hasPrefix("to:") || $0.hasPrefix("betreff:") || $0.hasPrefix("objet :") }
                if hasSent && hasSubject { return i }
            }
        }
        // A final block of ">" lines (blank lines allowed inside it).
        var start: Int?
        for (i, line) in lines.enumerated().reversed() {
            if line.isEmpty { continue }
            let trimmed = line.trimmingCharacters(in: " \t")
            if trimmed.hasPrefix(">") {
                start = i
            } else if trimmed.isEmpty {
                continue
            } else {
                break
            }
        }
        return start
    }
}
