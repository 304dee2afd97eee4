import NetAddress
/// A parsed SMTP command line. Parsing is strict where ambiguity could be abused
/// (paths must be in angle brackets) and lenient where real clients differ harmlessly
/// (keyword case, a space after the colon).
public enum SMTPCommand: Sendable, Equatable {
    case ehlo(String)
    case helo(String)
    case mail(ReversePath, parameters: [MailParameter])
    case rcpt(MailboxAddress, parameters: [MailParameter])
    case data
    case bdat(size: Int, last: Bool)
    case rset
    case noop
    case quit
    case vrfy(String)
    case help(String)
    case startTLS
}

/// An ESMTP parameter such as `SIZE=1000` or `SMTPUTF8`.
public struct MailParameter: Sendable, Equatable {
    public var keyword: String  // upper-cased
    public var value: String?

    public init(_ keyword: String, _ value: String? = nil) {
        self.keyword = keyword.uppercased()
        self.value = value
    }
}

/// Why a command line was refused before it reached the state machine.
public enum SMTPCommandError: Error, Equatable, Sendable {
    case unrecognized
    case syntax(String)
    case badAddress(String)
    case nonASCIIWithoutSMTPUTF8

    public var reply: SMTPReply {
        switch self {
        case .unrecognized: return .unrecognized
        case .syntax(let what): return SMTPReply(501, "5.5.4", "Syntax error: \(what)")
        case .badAddress(let what): return SMTPReply(501, "5.1.3", "Bad address syntax: \(what)")
        case .nonASCIIWithoutSMTPUTF8:
            return SMTPReply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
        }
    }
}

extension SMTPCommand {
    /// Lower-case verb, as used in log summaries.
    public var verb: String {
        switch self {
        case .ehlo: return "ehlo"
        case .helo: return "helo"
        case .mail: return "mail"
        case .rcpt: return "rcpt"
        case .data: return "data"
        case .bdat: return "bdat"
        case .rset: return "rset"
        case .noop: return "noop"
        case .quit: return "quit"
        case .vrfy: return "vrfy"
        case .help: return "help"
        case .startTLS: return "starttls"
        }
    }

    /// Parses one command line without its CRLF.
    public static func parse(_ line: Substring) -> Result<SMTPCommand, SMTPCommandError> {
        do {
            return .success(try parseLine(line))
        } catch {
            return .failure(error)
        }
    }

    static func parseLine(_ line: Substring) throws(SMTPCommandError) -> SMTPCommand {
        let trimmed = line.trimmingTrailingSpaces()
        let verbEnd = trimmed.firstIndex(where: { $0 == " " || $0 == ":" }) ?? trimmed.endIndex
        let verb = trimmed[..<verbEnd].uppercased()
        var rest = trimmed[verbEnd...]
        func argument() -> Substring {
            rest.drop(while: { $0 == " " })
        }
        switch verb {
        case "EHLO", "HELO":
            let domain = argument()
            guard !domain.isEmpty else { throw .syntax("\(verb) requires a domain name") }
            let name = String(domain.split(separator: " ").first ?? domain)
            return verb == "EHLO" ? .ehlo(name) : .helo(name)
        case "MAIL":
            guard let path = pathArgument(&rest, keyword: "FROM") else {
                throw .syntax("use MAIL FROM:<address>")
            }
            let parameters = try parseParameters(rest)
            let smtputf8 = parameters.contains { $0.keyword == "SMTPUTF8" }
            if path.isEmpty { return .mail(.null, parameters: parameters) }
            guard let address = MailboxAddress.parse(stripSourceRoute(path)) else {
                throw .badAddress("<\(path)>")
            }
            if !smtputf8 && !address.isASCII { throw .nonASCIIWithoutSMTPUTF8 }
            return .mail(.mailbox(address), parameters: parameters)
        case "RCPT":
            guard let path = pathArgument(&rest, keyword: "TO") else {
                throw .syntax("use RCPT TO:<address>")
            }
            let parameters = try parseParameters(rest)
            // RFC 5321 4.1.1.3: "Postmaster" without a domain must be accepted.
            let bare = stripSourceRoute(path)
            let address: MailboxAddress?
            if bare.lowercased() == "postmaster" {
                address = MailboxAddress(localPart: "postmaster", domain: "")
            } else {
                address = MailboxAddress.parse(bare)
            }
            guard let address else { throw .badAddress("<\(path)>") }
            return .rcpt(address, parameters: parameters)
        case "DATA":
            guard argument().isEmpty else { throw .syntax("DATA takes no argument") }
            return .data
        case "BDAT":
            let parts = argument().split(separator: " ")
            guard parts.count == 1 || parts.count == 2, let size = Int(parts[0]), size >= 0,
                parts[0].allSatisfy(\.isASCIIDigit)
            else { throw .syntax("use BDAT <size> [LAST]") }
            if parts.count == 2 {
                guard parts[1].uppercased() == "LAST" else {
                    throw .syntax("use BDAT <size> [LAST]")
                }
                return .bdat(size: size, last: true)
            }
            return .bdat(size: size, last: false)
        case "RSET":
            guard argument().isEmpty else { throw .syntax("RSET takes no argument") }
            return .rset
        case "NOOP": return .noop
        case "QUIT":
            guard argument().isEmpty else { throw .syntax("QUIT takes no argument") }
            return .quit
        case "VRFY":
            let target = argument()
            guard !target.isEmpty else { throw .syntax("VRFY requires an argument") }
            return .vrfy(String(target))
        case "HELP": return .help(String(argument()))
        case "STARTTLS":
            guard argument().isEmpty else { throw .syntax("STARTTLS takes no argument") }
            return .startTLS
        default:
            throw .unrecognized
        }
    }

    /// Reads `FROM:<path>` / `TO:<path>` and leaves the parameters in `rest`.
    static func pathArgument(_ rest: inout Substring, keyword: String) -> Substring? {
        var text = rest.drop(while: { $0 == " " })
        guard text.uppercased().hasPrefix(keyword + ":") else { return nil }
        text = text.dropFirst(keyword.count + 1).drop(while: { $0 == " " })
        guard text.first == "<" else { return nil }
        // Quoted local parts may contain '>', so scan with quoting in mind.
        var inQuote = false
        var escaped = false
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let c = text[index]
            if escaped {
                escaped = false
            } else if c == "\\" && inQuote {
                escaped = true
            } else if c == "\"" {
                inQuote.toggle()
            } else if c == ">" && !inQuote {
                let path = text[text.index(after: text.startIndex)..<index]
                rest = text[text.index(after: index)...]
                return path
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// `<@a.example,@b.example:user@c.example>`: source routes are ignored (RFC 5321 C).
    static func stripSourceRoute(_ path: Substring) -> Substring {
        guard path.first == "@", let colon = path.firstIndex(of: ":") else { return path }
        return path[path.index(after: colon)...]
    }

    static func parseParameters(_ text: Substring) throws(SMTPCommandError) -> [MailParameter] {
        var result: [MailParameter] = []
        for token in text.split(separator: " ") {
            if let equals = token.firstIndex(of: "=") {
                let keyword = token[..<equals]
                guard !keyword.isEmpty else { throw .syntax("bad parameter \(token)") }
                result.append(MailParameter(String(keyword), String(token[token.index(after: equals)...])))
            } else {
                result.append(MailParameter(String(token)))
            }
        }
        return result
    }
}

extension Substring {
    func trimmingTrailingSpaces() -> Substring {
        var s = self
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
