/// Why a server's bytes could not be read; `offset` counts from the start of the response.
public struct IMAPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "IMAP response, octet \(offset): \(message)" }
}

/// Frames and parses server responses. Feed it bytes as they arrive; `next()` returns a
/// response once all of it (every literal included) is here. Pure: no I/O, so it is
/// tested on byte strings, and a hostile or broken server costs at most the limits.
public struct IMAPResponseParser: Sendable {
    /// Longest line outside literals (a `UID SEARCH` over 20,000 messages is ~110 KB).
    public var maxLineLength: Int
    /// Largest literal accepted: a guard against a broken server, far above any real message.
    public var maxLiteralSize: Int
    /// Literals in one response: a FETCH of a body and an envelope needs a handful; a
    /// server announcing thousands of empty ones is broken or hostile.
    public var maxLiteralsPerResponse = 1000
    /// Literal octets framed since the owner last reset it: the client bounds what one
    /// command may make it hold, whatever the server sends unasked.
    public var literalOctets = 0
    /// Cap on `literalOctets`, checked when a literal is announced (before any of it
    /// is held): one response cannot announce 1000 literals of 1 GiB.
    public var maxLiteralOctets = Int.max
    /// Text of one response outside its literals: lines split by `{0}` literals cannot
    /// add up past this either.
    public var maxResponseText = 16 * 1024 * 1024

    /// The response being framed, its literal contents taken out, and what follows it.
    private var buffer: [UInt8] = []
    /// Where framing stopped scanning last time.
    private var scanned = 0
    private var lineStart = 0
    /// Complete literals of the response being framed, in order.
    private var literals: [[UInt8]] = []
    /// The literal being filled straight from the network: a 20 MB message is held once,
    /// in the array it is handed over in, never copied or rescanned.
    private var literal: [UInt8] = []
    private var literalMissing = 0

    public init(maxLineLength: Int = 4 * 1024 * 1024, maxLiteralSize: Int = 1024 * 1024 * 1024) {
        self.maxLineLength = maxLineLength
        self.maxLiteralSize = maxLiteralSize
    }

    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        var rest = bytes[...]
        if literalMissing > 0 {
            let take = min(literalMissing, rest.count)
            let end = rest.index(rest.startIndex, offsetBy: take)
            literal.append(contentsOf: rest[..<end])
            rest = rest[end...]
            literalMissing -= take
            if literalMissing == 0 {
                literals.append(literal)
                literal = []
            }
        }
        buffer.append(contentsOf: rest)
    }

    /// Octets held (for tests of memory bounds).
    public var buffered: Int { buffer.count + literal.count + literals.reduce(0) { $0 + $1.count } }

    /// The next complete response, or nil when more bytes are needed.
    public mutating func next() throws -> IMAPResponse? {
        guard let end = try frameEnd() else { return nil }
        let response = Array(buffer[0..<end])
        buffer.removeFirst(end)
        scanned = 0
        lineStart = 0
        defer { literals = [] }
        var reader = IMAPReader(response, literals: literals)
        return try Self.parse(&reader)
    }

    /// Finds the end of the first response: a CRLF not followed by a literal announcement.
    /// Each literal's contents move out of `buffer` as soon as its announcement is seen.
    private mutating func frameEnd() throws -> Int? {
        guard literalMissing == 0 else { return nil }
        var i = scanned
        while i < buffer.count {
            if buffer[i] == 0x0A {
                // Line ends at i. Does it announce a literal "{n}" or "{n+}" just before CR LF?
                var j = i
                if j > 0 && buffer[j - 1] == 0x0D { j -= 1 }
                if j > 0 && buffer[j - 1] == UInt8(ascii: "}"), let size = Self.literalSize(buffer, before: j - 1) {
                    guard size <= maxLiteralSize else {
                        throw IMAPParseError(offset: j, message: "literal of \(size) octets is over the limit of \(maxLiteralSize)")
                    }
                    guard literals.count < maxLiteralsPerResponse else {
                        throw IMAPParseError(offset: j, message: "more than \(maxLiteralsPerResponse) literals in one response")
                    }
                    literalOctets = literalOctets.addingReportingOverflow(size).overflow ? .max : literalOctets + size
                    guard literalOctets <= maxLiteralOctets else {
                        throw IMAPParseError(offset: j, message: "literals add up to more than \(maxLiteralOctets) octets")
                    }
                    let start = i + 1
                    let have = min(size, buffer.count - start)
                    var taken: [UInt8] = []
                    taken.reserveCapacity(min(size, 64 << 20))  // a liar's {n} costs no more up front
                    taken.append(contentsOf: buffer[start..<(start + have)])
                    buffer.removeSubrange(start..<(start + have))
                    scanned = start
                    lineStart = start
                    if have < size {
                        literal = taken
                        literalMissing = size - have
                        return nil
                    }
                    literals.append(taken)
                    i = start
                    continue
                }
                return i + 1
            }
            if i - lineStart > maxLineLength {
                throw IMAPParseError(offset: i, message: "line longer than \(maxLineLength) octets")
            }
            if i > maxResponseText {
                throw IMAPParseError(offset: i, message: "response longer than \(maxResponseText) octets outside its literals")
            }
            i += 1
        }
        scanned = i
        return nil
    }

    /// The n of a `{n}` / `{n+}` ending at `close` (the index of "}").
    static func literalSize(_ b: [UInt8], before close: Int) -> Int? {
        var k = close - 1
        if k >= 0 && b[k] == UInt8(ascii: "+") { k -= 1 }
        var digits = 0
        var value = 0
        while k >= 0, b[k] >= 0x30, b[k] <= 0x39 {
            if digits >= 12 { return nil }
            value += Int(b[k] - 0x30) * Self.pow10(digits)
            digits += 1
            k -= 1
        }
        guard digits > 0, k >= 0, b[k] == UInt8(ascii: "{") else { return nil }
        return value
    }

    static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }

    // MARK: - Parsing one framed response

    /// Parses one framed response whose literals are inline.
    public static func parse(_ bytes: [UInt8]) throws -> IMAPResponse {
        var r = IMAPReader(bytes, literals: nil)
        return try parse(&r)
    }

    static func parse(_ r: inout IMAPReader) throws -> IMAPResponse {
        if r.peek == UInt8(ascii: "+") {
            r.advance()
            if r.peek == 0x20 { r.advance() }
            return .continuation(r.restOfLine())
        }
        let tag = try r.atom()
        try r.space()
        if tag == "*" {
            return .untagged(try untagged(&r))
        }
        let word = try r.atom().uppercased()
        guard let status = IMAPStatus(rawValue: word), [.ok, .no, .bad].contains(status) else {
            throw r.error("tagged response with '\(word)' instead of OK, NO or BAD")
        }
        let (code, text) = try r.statusText()
        return .tagged(tag: tag, status: status, code: code, text: text)
    }

    static func untagged(_ r: inout IMAPReader) throws -> IMAPUntagged {
        let first = try r.atom()
        if let number = UInt32(first) {
            try r.space()
            let keyword = try r.atom().uppercased()
            switch keyword {
            case "EXISTS": return .exists(number)
            case "RECENT": return .recent(number)
            case "EXPUNGE": return .expunge(number)
            case "FETCH":
                try r.space()
                return .fetch(sequence: number, try fetch(&r))
            default:
                return .other(keyword: keyword, [.number(UInt64(number))] + (try r.values()))
            }
        }
        let keyword = first.uppercased()
        if let status = IMAPStatus(rawValue: keyword) {
            let (code, text) = try r.statusText()
            return .status(status, code: code, text: text)
        }
        switch keyword {
        case "CAPABILITY":
            return .capability(try r.values().compactMap { $0.text?.uppercased() })
        case "FLAGS":
            let values = try r.values()
            guard case .list(let flags)? = values.first else { throw r.error("FLAGS without a list") }
            return .flags(flags.compactMap(\.text))
        case "SEARCH":
            return .search(try r.values().compactMap { if case .number(let n) = $0 { return UInt32(exactly: n) } else { return nil } })
        case "ESEARCH":
            var values = try r.values()
            if case .list? = values.first { values.removeFirst() }  // (TAG "A1")
            var all: IMAPSequenceSet?
            var count: UInt32?
            var i = 0
            while i < values.count {
                let name = values[i].text?.uppercased()
                if name == "ALL", i + 1 < values.count, let text = values[i + 1].text { all = IMAPSequenceSet(text); i += 2; continue }
                if name == "COUNT", i + 1 < values.count, case .number(let n) = values[i + 1] { count = UInt32(exactly: n); i += 2; continue }
                i += 1
            }
            return .esearch(all: all, count: count)
        case "STATUS":
            let values = try r.values()
            guard values.count >= 2, let name = values[0].text, case .list(let items) = values[1] else { throw r.error("STATUS without a mailbox and a list") }
            var result: [String: UInt64] = [:]
            var i = 0
            while i + 1 < items.count {
                if let key = items[i].text?.uppercased(), case .number(let n) = items[i + 1] { result[key] = n }
                i += 2
            }
            return .mailboxStatus(mailbox: name, result)
        case "LIST", "LSUB":
            let values = try r.values()
            guard values.count >= 3, case .list(let attributes) = values[0], let name = values[2].text else { throw r.error("LIST without attributes, delimiter and name") }
            return .list(attributes: attributes.compactMap(\.text), delimiter: values[1].text, name: name)
        default:
            return .other(keyword: keyword, try r.values())
        }
    }

    static func fetch(_ r: inout IMAPReader) throws -> IMAPFetch {
        guard case .list(let items) = try r.value() else { throw r.error("FETCH without a parenthesized list") }
        var fetch = IMAPFetch()
        var i = 0
        while i < items.count {
            guard let name = items[i].text?.uppercased() else { throw r.error("FETCH item name expected") }
            var value = i + 1 < items.count ? items[i + 1] : nil
            var step = 2
            if case .section? = value {  // BODY[...] then the data
                value = i + 2 < items.count ? items[i + 2] : nil
                step = 3
            }
            switch name {
            case "UID": if case .number(let n)? = value { fetch.uid = UInt32(exactly: n) }
            case "RFC822.SIZE": if case .number(let n)? = value { fetch.size = n }
            case "FLAGS": if case .list(let l)? = value { fetch.flags = l.compactMap(\.text) }
            case "MODSEQ": if case .list(let l)? = value, case .number(let n)? = l.first { fetch.modSeq = n }
            case "INTERNALDATE": fetch.internalDate = value?.text
            case "BODY", "BINARY", "RFC822":
                if case .string(let bytes)? = value { fetch.body = bytes } else if case .nil_? = value { fetch.body = [] }
            default: break
            }
            i += step
        }
        return fetch
    }
}

/// A cursor over one framed response.
struct IMAPReader {
    let b: [UInt8]
    var i = 0
    /// Literal contents framed out of `b` (nil: they are inline after each `{n}` CRLF).
    let literals: [[UInt8]]?
    var nextLiteral = 0

    init(_ bytes: [UInt8], literals: [[UInt8]]?) {
        b = bytes
        self.literals = literals
    }

    var peek: UInt8? { i < b.count ? b[i] : nil }
    mutating func advance() { i += 1 }
    var atEnd: Bool { peek == nil || peek == 0x0D || peek == 0x0A }

    func error(_ message: String) -> IMAPParseError { IMAPParseError(offset: i, message: message) }

    mutating func space() throws {
        guard peek == 0x20 else { throw error("space expected") }
        while peek == 0x20 { advance() }
    }

    mutating func restOfLine() -> String {
        let start = i
        while !atEnd { advance() }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    static func isAtomChar(_ c: UInt8) -> Bool {
        !(c <= 0x20 || c == 0x7F || c == UInt8(ascii: "(") || c == UInt8(ascii: ")") || c == UInt8(ascii: "{")
            || c == UInt8(ascii: "\"") || c == UInt8(ascii: "[") || c == UInt8(ascii: "]"))
    }

    mutating func atom() throws -> String {
        let start = i
        // `\Seen`, `\*` and `*` are atoms here; "]" ends one inside a response code.
        while let c = peek, Self.isAtomChar(c) || (c == UInt8(ascii: "[") && i > start) { if c == UInt8(ascii: "[") { break }; advance() }
        guard i > start else { throw error("atom expected") }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    /// `[CODE args] text` or just text, after OK/NO/BAD/BYE/PREAUTH.
    mutating func statusText() throws -> (IMAPResponseCode?, String) {
        while peek == 0x20 { advance() }
        var code: IMAPResponseCode?
        if peek == UInt8(ascii: "[") {
            advance()
            let name = try atom().uppercased()
            var argument: String?
            if peek == 0x20 {
                advance()
                let start = i
                var depth = 0
                while let c = peek, !(c == UInt8(ascii: "]") && depth == 0), c != 0x0D, c != 0x0A {
                    if c == UInt8(ascii: "(") { depth += 1 }
                    if c == UInt8(ascii: ")") { depth -= 1 }
                    advance()
                }
                argument = String(decoding: b[start..<i], as: UTF8.self)
            }
            guard peek == UInt8(ascii: "]") else { throw error("']' expected to close the response code") }
            advance()
            code = Self.code(name, argument)
            while peek == 0x20 { advance() }
        }
        return (code, restOfLine())
    }

    static func code(_ name: String, _ argument: String?) -> IMAPResponseCode {
        let words = argument.map { $0.split(separator: " ").map(String.init) } ?? []
        switch name {
        case "UIDVALIDITY": if let n = words.first.flatMap({ UInt32($0) }) { return .uidValidity(n) }
        case "UIDNEXT": if let n = words.first.flatMap({ UInt32($0) }) { return .uidNext(n) }
        case "HIGHESTMODSEQ": if let n = words.first.flatMap({ UInt64($0) }) { return .highestModSeq(n) }
        case "CAPABILITY": return .capability(words.map { $0.uppercased() })
        case "PERMANENTFLAGS":
            return .permanentFlags(words.map { String($0.filter { $0 != "(" && $0 != ")" }) }.filter { !$0.isEmpty })
        case "READ-ONLY": return .readOnly
        case "READ-WRITE": return .readWrite
        case "ALERT": return .alert
        default: break
        }
        return .other(name, argument)
    }

    /// Values separated by spaces to the end of the line.
    mutating func values() throws -> [IMAPValue] {
        var out: [IMAPValue] = []
        while true {
            while peek == 0x20 { advance() }
            if atEnd { return out }
            out.append(try value())
        }
    }

    mutating func value() throws -> IMAPValue {
        guard let c = peek else { throw error("value expected, response ended") }
        switch c {
        case UInt8(ascii: "("):
            advance()
            var items: [IMAPValue] = []
            while true {
                while peek == 0x20 { advance() }
                guard let d = peek, d != 0x0D, d != 0x0A else { throw error("')' expected") }
                if d == UInt8(ascii: ")") { advance(); return .list(items) }
                items.append(try value())
            }
        case UInt8(ascii: "\""):
            advance()
            var out: [UInt8] = []
            while true {
                guard let d = peek, d != 0x0D, d != 0x0A else { throw error("unterminated quoted string") }
                advance()
                if d == UInt8(ascii: "\"") { return .string(out) }
                if d == UInt8(ascii: "\\") {
                    guard let e = peek else { throw error("unterminated quoted string") }
                    advance()
                    out.append(e)
                } else {
                    out.append(d)
                }
            }
        case UInt8(ascii: "{"):
            advance()
            let start = i
            while let d = peek, d >= 0x30, d <= 0x39 { advance() }
            guard i > start, let size = Int(String(decoding: b[start..<i], as: UTF8.self)) else { throw error("literal size expected") }
            if peek == UInt8(ascii: "+") { advance() }
            guard peek == UInt8(ascii: "}") else { throw error("'}' expected") }
            advance()
            if peek == 0x0D { advance() }
            guard peek == 0x0A else { throw error("CRLF expected after literal size") }
            advance()
            if let literals {
                guard nextLiteral < literals.count, literals[nextLiteral].count == size else { throw error("literal missing") }
                nextLiteral += 1
                return .string(literals[nextLiteral - 1])
            }
            guard i + size <= b.count else { throw error("literal shorter than announced") }
            let data = Array(b[i..<(i + size)])
            i += size
            return .string(data)
        case UInt8(ascii: "["):
            // The section of BODY[...]<partial>: kept as text for the fetch reader.
            advance()
            let start = i
            var depth = 0
            while let d = peek, !(d == UInt8(ascii: "]") && depth == 0), d != 0x0D, d != 0x0A {
                if d == UInt8(ascii: "[") { depth += 1 }
                if d == UInt8(ascii: "]") { depth -= 1 }
                advance()
            }
            guard peek == UInt8(ascii: "]") else { throw error("']' expected") }
            let section = String(decoding: b[start..<i], as: UTF8.self)
            advance()
            if peek == UInt8(ascii: "<") {
                while let d = peek, d != UInt8(ascii: ">") { advance() }
                advance()
            }
            return .section(section)
        default:
            let word = try atom()
            if word.uppercased() == "NIL" { return .nil_ }
            if let n = UInt64(word) { return .number(n) }
            // BODY[ ... : the atom stops at "[", the section follows as its own value.
            return .atom(word)
        }
    }
}
