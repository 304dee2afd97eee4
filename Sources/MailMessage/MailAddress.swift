/// A mailbox from an address header: display name (decoded) and address.
public struct MailAddress: Sendable, Equatable, Codable, CustomStringConvertible {
    public var name: String?
    public var address: String
    /// The group it was listed in (`Team: a@x, b@y;`), if any.
    public var group: String?

    public init(name: String?, address: String, group: String? = nil) {
        self.name = name
        self.address = address
        self.group = group
    }

    public var description: String {
        if let name, !name.isEmpty { return "\(name) <\(address)>" }
        return address
    }

    /// Parses an RFC 5322 address list, leniently: groups, quoted and encoded display
    /// names, comments (a trailing `(Name)` is used as the name when there is none),
    /// obsolete routes `<@a,@b:u@d>`, missing commas between angle addresses, and bare
    /// addresses. Never fails; unparseable text yields what could be found.
    public static func parseList(_ raw: [UInt8], fallbackCharset: String? = nil) -> [MailAddress] {
        let tokens = tokenize(Charset.headerText(raw, fallbackCharset: fallbackCharset))
        var result: [MailAddress] = []
        var phrase: [Token] = []
        var comments: [String] = []
        var group: String?
        var index = 0

        func finishBareAddress() {
            // A mailbox without angle brackets. Obsolete syntax allows spaces around
            // "." and "@"; several bare addresses without commas and "Name addr@x"
            // are seen in the wild.
            let words = phrase.filter { $0.kind != .space }.map(\.text)
            phrase = []
            defer { comments = [] }
            guard !words.isEmpty else { return }
            let commentName = comments.first.map { EncodedWords.decode(Array($0.utf8)) }.flatMap { $0.isEmpty ? nil : $0 }
            let joined = words.contains(where: { $0.contains("@" as Character) }) ? words.joined() : words.joined(separator: " ")
            let withAt = words.filter { $0.contains("@" as Character) && $0 != "@" }
            if withAt.count > 1 {
                for word in withAt { result.append(MailAddress(name: nil, address: word, group: group)) }
            } else if withAt.count == 1, words.count > 1, let last = words.last, last.contains("@" as Character),
                !words.contains("."), !words.contains("@")
            {
                let name = words.dropLast().joined(separator: " ")
                result.append(MailAddress(name: name, address: last, group: group))
            } else {
                result.append(MailAddress(name: commentName, address: joined, group: group))
            }
        }

        while index < tokens.count {
            let token = tokens[index]
            index += 1
            switch token.kind {
            case .comment:
                comments.append(token.text)
            case .angle:
                let name = displayName(phrase) ?? comments.first.map { EncodedWords.decode(Array($0.utf8)) }
                var address = stripComments(token.text).filter { !$0.isWhitespace }
                if address.hasPrefix("@"), let colon = address.firstIndex(of: ":") {
                    address = String(address[address.index(after: colon)...])
                }
                address = address.trimmingCharacters(in: " \t")
                result.append(MailAddress(name: name?.isEmpty == true ? nil : name, address: address, group: group))
                phrase = []
                comments = []
                // Skip to the next separator.
            case .special where token.text == ",":
                finishBareAddress()
            case .special where token.text == ":":
                // Group start: the phrase is its name.
                group = displayName(phrase)
                phrase = []
                comments = []
            case .special where token.text == ";":
                finishBareAddress()
                group = nil
            default:
                phrase.append(token)
            }
        }
        finishBareAddress()
        return result.filter { !$0.address.isEmpty || $0.name != nil }
    }

    static func stripComments(_ text: String) -> String {
        guard text.contains("(" as Character) else { return text }
        var out = ""
        var depth = 0
        var inQuote = false
        for c in text {
            if c == "\"" && depth == 0 { inQuote.toggle() }
            if !inQuote && c == "(" { depth += 1; continue }
            if !inQuote && c == ")" && depth > 0 { depth -= 1; continue }
            if depth == 0 { out.append(c) }
        }
        return out
    }

    static func displayName(_ phrase: [Token]) -> String? {
        guard !phrase.isEmpty else { return nil }
        var words: [String] = []
        for token in phrase {
            switch token.kind {
            case .quoted: words.append(token.text.contains("=?") ? EncodedWords.decode(Array(token.text.utf8)) : token.text)
            case .atom: words.append(token.text)
            case .space: words.append(" ")
            default: words.append(token.text)
            }
        }
        let joined = words.joined().trimmingCharacters(in: " \t")
        let decoded = joined.contains("=?") ? EncodedWords.decode(Array(joined.utf8)) : joined
        return decoded.isEmpty ? nil : decoded
    }

    enum Kind { case atom, quoted, comment, angle, special, space }
    struct Token {
        var kind: Kind
        var text: String
    }

    static func tokenize(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var s = Substring(text)
        while let c = s.first {
            switch c {
            case _ where c.isWhitespace:
                while let d = s.first, d.isWhitespace { s.removeFirst() }
                tokens.append(Token(kind: .space, text: " "))
            case "\"":
                tokens.append(Token(kind: .quoted, text: HeaderValueWithParameters.readQuoted(&s)))
            case "(":
                s.removeFirst()
                var depth = 1
                var out = ""
                while let d = s.first, depth > 0 {
                    s.removeFirst()
                    if d == "\\", let e = s.first { s.removeFirst(); out.append(e); continue }
                    if d == "(" { depth += 1 }
                    if d == ")" { depth -= 1; if depth == 0 { break } }
                    out.append(d)
                }
                tokens.append(Token(kind: .comment, text: out))
            case "<":
                s.removeFirst()
                var out = ""
                var inQuote = false
                while let d = s.first {
                    s.removeFirst()
                    if d == "\"" { inQuote.toggle() }
                    if d == ">" && !inQuote { break }
                    out.append(d)
                }
                tokens.append(Token(kind: .angle, text: out))
            case ",", ":", ";":
                s.removeFirst()
                tokens.append(Token(kind: .special, text: String(c)))
            default:
                var out = ""
                while let d = s.first, !d.isWhitespace, !"\"(<,:;".contains(d) {
                    s.removeFirst()
                    out.append(d)
                }
                if out.isEmpty {
                    s.removeFirst()
                    out.append(c)
                }
                tokens.append(Token(kind: .atom, text: out))
            }
        }
        // Drop space tokens next to specials; keep spaces inside phrases.
        return tokens
    }
}
