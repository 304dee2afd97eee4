/// Plain text from HTML, for mail that has no text/plain part: tags dropped, block
/// elements become line breaks, entities decoded, script/style/head skipped,
/// blockquotes kept as `> ` lines so quote splitting still sees them.
public enum HTMLText {
    static let blockTags: Set<String> = [
        "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr", "pre", "blockquote", "section", "article", "header", "footer", "title",
    ]
    static let skippedTags: Set<String> = ["script", "style", "head", "title"]
    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "copy": "©", "reg": "®", "trade": "™",
        "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "euro": "€", "bull": "•",
        "laquo": "«", "raquo": "»", "eacute": "é", "egrave": "è", "agrave": "à", "uuml": "ü", "ouml": "ö", "auml": "ä", "szlig": "ß",
    ]

    /// Deepest quoting written out (mail programs nest a few levels; more is noise).
    static let maxQuoteDepth = 20
    /// "> " repeated 0...maxQuoteDepth times, made once.
    static let quotePrefixes = (0...maxQuoteDepth).map { String(repeating: "> ", count: $0) }

    public static func text(from html: String) -> String {
        var out = ""
        var quoteDepth = 0
        var skipping: String?
        var s = Substring(html)
        var atLineStart = true
        func newline() {
            while out.last == " " { out.removeLast() }
            out.append("\n")
            atLineStart = true
        }
        func emit(_ c: Character) {
            if c.isWhitespace && c != "\u{00A0}" {
                if !atLineStart && out.last != " " { out.append(" ") }
                return
            }
            // Quote marks are capped: lines × depth made 1 MB of nested
            // blockquotes into hundreds of MB of "> ".
            if atLineStart && quoteDepth > 0 { out += quotePrefixes[min(quoteDepth, maxQuoteDepth)] }
            atLineStart = false
            out.append(c)
        }
        func emit(_ text: String) {
            for c in text { emit(c) }
        }
        while let c = s.first {
            if c == "<" {
                guard let close = s.firstIndex(of: ">") else { break }
                let tag = s[s.index(after: s.startIndex)..<close]
                s = s[s.index(after: close)...]
                if tag.hasPrefix("!--") {
                    // A comment runs to `-->`; one never closed runs to the end (as in
                    // HTML's own parser). Searching again after every `>` instead was
                    // quadratic: `<!--a>` repeated stalled processing for minutes.
                    if !tag.hasSuffix("--") {
                        guard let end = s.range(of: "-->") else { break }
                        s = s[end.upperBound...]
                    }
                    continue
                }
                let closing = tag.hasPrefix("/")
                let name = tag.drop(while: { $0 == "/" }).prefix(while: { $0.isLetter || $0.isNumber }).lowercased()
                if let skip = skipping {
                    if closing && name == skip { skipping = nil }
                    continue
                }
                if !closing && skippedTags.contains(name) && !tag.hasSuffix("/") {
                    skipping = name
                    continue
                }
                if name == "blockquote" {
                    if closing { quoteDepth = max(0, quoteDepth - 1) } else { quoteDepth += 1 }
                    newline()
                    continue
                }
                if name == "li" && !closing {
                    if !atLineStart { newline() }
                    emit("• ")
                    continue
                }
                if blockTags.contains(name) {
                    if name == "br" || !atLineStart { newline() }
                }
                continue
            }
            if skipping != nil {
                s.removeFirst()
                continue
            }
            // The ";" is looked for among octets: a Character scan of 12 after every
            // "&" made a run of "&" many times slower than text.
            if c == "&", let semicolon = s.utf8.prefix(12).firstIndex(of: UInt8(ascii: ";")) {
                let entity = s[s.index(after: s.startIndex)..<semicolon]
                if let decoded = decodeEntity(String(entity)) {
                    emit(decoded == " " ? "\u{00A0}" : decoded)
                    s = s[s.index(after: semicolon)...]
                    continue
                }
            }
            emit(c)
            s.removeFirst()
        }
        return tidied(out)
    }

    /// Runs of blank lines (or lines of a lone ">") collapsed to one, spaces trimmed at
    /// both ends of each line, no-break spaces turned back into spaces, and the whole
    /// trimmed of blank lines: one pass over the scalars (nested quotes multiply the
    /// text, so this runs over many times the input).
    static func tidied(_ text: String) -> String {
        // Appended one scalar at a time: UnicodeScalarView.append(contentsOf:) replaces
        // a subrange, which copies the whole string each time (quadratic).
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var line: [Unicode.Scalar] = []
        var blank = 0
        var lines = 0
        func flush() {
            var start = 0
            var end = line.count
            while start < end && line[start] == " " { start += 1 }
            while end > start && line[end - 1] == " " { end -= 1 }
            let isBlank = start == end || (end - start == 1 && line[start] == ">")
            if isBlank {
                blank += 1
            } else {
                blank = 0
            }
            if !isBlank || blank <= 1 {
                if lines > 0 { result.unicodeScalars.append("\n") }
                for scalar in line[start..<end] { result.unicodeScalars.append(scalar) }
                lines += 1
            }
            line.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                flush()
            } else {
                line.append(scalar == "\u{00A0}" ? " " : scalar)
            }
        }
        flush()
        return result.trimmingCharacters(in: "\n ")
    }

    static func decodeEntity(_ entity: String) -> String? {
        if entity.hasPrefix("#x") || entity.hasPrefix("#X"), let n = UInt32(entity.dropFirst(2), radix: 16), let u = Unicode.Scalar(n) {
            return String(u)
        }
        if entity.hasPrefix("#"), let n = UInt32(entity.dropFirst()), let u = Unicode.Scalar(n) { return String(u) }
        return entities[entity.lowercased()]
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        guard let first = target.first else { return nil }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if self[found...].hasPrefix(target) {
                return found..<self.index(found, offsetBy: target.count)
            }
            index = self.index(after: found)
        }
        return nil
    }
}
