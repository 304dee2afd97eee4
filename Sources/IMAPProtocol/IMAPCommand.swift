/// Commands a client sends, as bytes. Strings go out as atoms when they can, quoted when
/// they must, and as literals when they hold CR, LF, NUL or 8-bit octets (a password may).
public struct IMAPCommand: Equatable, Sendable {
    /// Pieces of one command: a literal needs the server's "+" before the rest is sent,
    /// unless LITERAL+ (RFC 7888) lets the client send `{n+}` at once.
    public var parts: [[UInt8]]
    public var tag: String
    /// The command as it may be logged: literals and LOGIN/AUTHENTICATE secrets elided.
    public var logLine: String

    public init(tag: String, _ words: [Argument], literalPlus: Bool = false, secret: Bool = false) {
        self.tag = tag
        var parts: [[UInt8]] = []
        var current: [UInt8] = Array(tag.utf8)
        var log = tag
        for word in words {
            current.append(0x20)
            log += " "
            switch word {
            case .raw(let text):
                current += Array(text.utf8)
                log += text
            case .string(let text):
                let bytes = Array(text.utf8)
                switch Self.encoding(bytes) {
                case .atom:
                    current += bytes
                case .quoted:
                    current.append(UInt8(ascii: "\""))
                    for b in bytes {
                        if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { current.append(UInt8(ascii: "\\")) }
                        current.append(b)
                    }
                    current.append(UInt8(ascii: "\""))
                case .literal:
                    current += Array("{\(bytes.count)\(literalPlus ? "+" : "")}\r\n".utf8)
                    if literalPlus {
                        current += bytes
                    } else {
                        parts.append(current)
                        current = bytes
                    }
                }
                log += secret ? "***" : (Self.encoding(bytes) == .literal ? "{\(bytes.count)}" : text)
            }
        }
        current += [0x0D, 0x0A]
        parts.append(current)
        self.parts = parts
        if secret, case .raw(let verb)? = words.first {
            log = "\(tag) \(verb) ***"  // LOGIN, AUTHENTICATE: nothing after the verb is logged
        }
        self.logLine = log
    }

    public enum Argument: Equatable, Sendable {
        /// Sent as written: keywords, sequence sets, parenthesized fetch items.
        case raw(String)
        /// A mailbox name, user name or password: encoded as needed.
        case string(String)
    }

    enum Encoding { case atom, quoted, literal }

    static func encoding(_ bytes: [UInt8]) -> Encoding {
        if bytes.isEmpty { return .quoted }
        var atom = true
        for b in bytes {
            if b == 0 || b == 0x0D || b == 0x0A || b >= 0x80 { return .literal }
            if !IMAPReader.isAtomChar(b) || b == UInt8(ascii: "%") || b == UInt8(ascii: "*") || b == UInt8(ascii: "\\") { atom = false }
        }
        return atom ? .atom : .quoted
    }

    /// All parts joined (for tests and for servers with LITERAL+).
    public var bytes: [UInt8] { parts.flatMap { $0 } }
}
