/// Where something is in a script, for error messages (`file:line:column`).
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "\(line):\(column)" }
}

/// A compile-time problem, reported as `file:line:column: message`.
public struct SieveError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var position: SourcePosition
    public var message: String

    public init(file: String, position: SourcePosition, message: String) {
        self.file = file
        self.position = position
        self.message = message
    }

    public var description: String { "\(file):\(position.line):\(position.column): \(message)" }
}

enum TokenKind: Equatable {
    case identifier(String)
    case tag(String)
    case number(Int)
    case string(String)
    case punctuation(Character)
    case end

    var describe: String {
        switch self {
        case .identifier(let s): return "identifier '\(s)'"
        case .tag(let s): return "tag ':\(s)'"
        case .number(let n): return "number \(n)"
        case .string: return "string"
        case .punctuation(let c): return "'\(c)'"
        case .end: return "end of script"
        }
    }
}

struct Token {
    var kind: TokenKind
    var position: SourcePosition
}

/// RFC 5228 section 8.1: comments, identifiers, tags, numbers with K/M/G, quoted and
/// multi-line strings, punctuation.
struct Lexer {
    let scalars: [Unicode.Scalar]
    let file: String
    var index = 0
    var line = 1
    var column = 1

    init(_ text: String, file: String) {
        self.scalars = Array(text.unicodeScalars)
        self.file = file
    }

    var position: SourcePosition { SourcePosition(line: line, column: column) }

    func error(_ message: String, at position: SourcePosition? = nil) -> SieveError {
        SieveError(file: file, position: position ?? self.position, message: message)
    }

    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    mutating func advance() {
        if scalars[index] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_"
    }

    static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || ("0"..."9").contains(c)
    }

    mutating func tokens() throws(SieveError) -> [Token] {
        var result: [Token] = []
        while true {
            let token = try next()
            result.append(token)
            if token.kind == .end { return result }
        }
    }

    mutating func skipSpaceAndComments() throws(SieveError) {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\r" || c == "\n" {
                advance()
            } else if c == "#" {
                while let d = peek(), d != "\n" { advance() }
            } else if c == "/" && peek(1) == "*" {
                let start = position
                advance()
                advance()
                while true {
                    guard let d = peek() else { throw error("unterminated comment started here", at: start) }
                    if d == "*" && peek(1) == "/" {
                        advance()
                        advance()
                        break
                    }
                    advance()
                }
            } else {
                return
            }
        }
    }

    mutating func next() throws(SieveError) -> Token {
        try skipSpaceAndComments()
        let start = position
        guard let c = peek() else { return Token(kind: .end, position: start) }
        if Self.isIdentifierStart(c) {
            var name = ""
            while let d = peek(), Self.isIdentifierPart(d) {
                name.unicodeScalars.append(d)
                advance()
            }
            if name.lowercased() == "text" && peek() == ":" {
                advance()
                return Token(kind: .string(try multiline(start)), position: start)
            }
            return Token(kind: .identifier(name), position: start)
        }
        if c == ":" {
            advance()
            guard let d = peek(), Self.isIdentifierStart(d) else { throw error("expected a tag name after ':'", at: start) }
            var name = ""
            while let d = peek(), Self.isIdentifierPart(d) {
                name.unicodeScalars.append(d)
                advance()
            }
            return Token(kind: .tag(name.lowercased()), position: start)
        }
        if ("0"..."9").contains(c) {
            var digits = ""
            while let d = peek(), ("0"..."9").contains(d) {
                digits.unicodeScalars.append(d)
                advance()
            }
            var value = Int(digits) ?? Int.max
            if let q = peek() {
                let multiplier: Int?
                switch q {
                case "K", "k": multiplier = 1 << 10
                case "M", "m": multiplier = 1 << 20
                case "G", "g": multiplier = 1 << 30
                default: multiplier = nil
                }
                if let multiplier {
                    advance()
                    let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
                    value = overflow ? Int.max : product
                }
            }
            return Token(kind: .number(value), position: start)
        }
        if c == "\"" {
            advance()
            var text = ""
            while true {
                guard let d = peek() else { throw error("unterminated string started here", at: start) }
                advance()
                if d == "\"" { break }
                if d == "\\" {
                    guard let e = peek() else { throw error("unterminated string started here", at: start) }
                    advance()
                    text.unicodeScalars.append(e)
                    continue
                }
                text.unicodeScalars.append(d)
            }
            // Line breaks in quoted strings are CRLF in the message world.
            return Token(kind: .string(Self.normaliseLineBreaks(text)), position: start)
        }
        if "[](),;{}".unicodeScalars.contains(c) {
            advance()
            return Token(kind: .punctuation(Character(c)), position: start)
        }
        throw error("unexpected character '\(c)'", at: start)
    }

    static func normaliseLineBreaks(_ text: String) -> String {
        guard text.unicodeScalars.contains("\n") else { return text }
        var out = String.UnicodeScalarView()
        var previous: Unicode.Scalar = " "
        for s in text.unicodeScalars {
            if s == "\n" && previous != "\r" { out.append("\r") }
            out.append(s)
            previous = s
        }
        return String(out)
    }

    /// `text:` [white space / comment] CRLF, then lines up to a line that is only ".".
    mutating func multiline(_ start: SourcePosition) throws(SieveError) -> String {
        while let c = peek(), c == " " || c == "\t" { advance() }
        if peek() == "#" {
            while let d = peek(), d != "\n" { advance() }
        }
        if peek() == "\r" { advance() }
        guard peek() == "\n" else { throw error("expected a line break after 'text:'") }
        advance()
        var lines: [String] = []
        while true {
            guard peek() != nil else { throw error("multi-line string started here has no closing '.' line", at: start) }
            var lineText = String.UnicodeScalarView()
            while let d = peek(), d != "\n" {
                lineText.append(d)
                advance()
            }
            if peek() == "\n" { advance() }
            var lineString = String(lineText)
            if lineString.hasSuffix("\r") { lineString.removeLast() }
            if lineString == "." { break }
            if lineString.hasPrefix("..") { lineString.removeFirst() }
            lines.append(lineString)
        }
        return lines.map { $0 + "\r\n" }.joined()
    }
}
