import Synchronization
import NetAddress

/// An SPF record parsed whole before evaluation: any syntax error anywhere makes the
/// result permerror (RFC 7208 4.6), even in terms evaluation would never reach.
struct SPFRecord: Sendable {
    enum Mechanism: Sendable {
        case all
        case include(String)
        case a(String?, v4: Int, v6: Int)
        case mx(String?, v4: Int, v6: Int)
        case ptr(String?)
        case ip(IPAddress, Int)
        case exists(String)
    }

    struct Directive: Sendable {
        let qualifier: SPFResult
        let mechanism: Mechanism
        let text: String
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let description: String
    }

    var directives: [Directive] = []
    var redirect: String?
    var explanation: String?

    /// Parsed records by their text: the same few domains' records are evaluated for
    /// every message they send (parsing was 2% of intake's CPU). Bounded: emptied when full.
    static let parsed = Mutex<[String: Result<SPFRecord, SyntaxError>]>([:])
    static let parsedLimit = 4096

    static func cachedParse(_ record: String) throws -> SPFRecord {
        if let known = parsed.withLock({ $0[record] }) { return try known.get() }
        let result = Result { () throws(SyntaxError) -> SPFRecord in
            do { return try parse(record) } catch let error as SyntaxError { throw error } catch { throw SyntaxError(description: "\(error)") }
        }
        parsed.withLock { cache in
            if cache.count >= parsedLimit { cache.removeAll(keepingCapacity: true) }
            cache[record] = result
        }
        return try result.get()
    }

    static func parse(_ record: String) throws -> SPFRecord {
        var parsed = SPFRecord()
        // Terms are separated by spaces only (a tab or a control character is an error).
        let terms = record.split(separator: " ", omittingEmptySubsequences: true).dropFirst()
        for raw in terms {
            let term = String(raw)
            guard term.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                throw SyntaxError(description: "'\(term)' has a character outside printable ASCII")
            }
            if let eq = term.firstIndex(of: "="), !term[..<eq].contains(":" as Character), !term[..<eq].contains("/" as Character) {
                let name = term[..<eq].lowercased()
                let value = String(term[term.index(after: eq)...])
                guard let first = name.first, first.isLetter,
                    name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
                else { throw SyntaxError(description: "'\(term)' is not a modifier") }
                switch name {
                case "redirect":
                    guard parsed.redirect == nil else { throw SyntaxError(description: "two redirect= modifiers") }
                    try checkDomainSpec(value)
                    parsed.redirect = value
                case "exp":
                    guard parsed.explanation == nil else { throw SyntaxError(description: "two exp= modifiers") }
                    try checkDomainSpec(value)
                    parsed.explanation = value
                default:
                    // Unknown modifiers are ignored, but must be valid macro-strings.
                    try Macro.validate(value, explanation: false)
                }
                continue
            }
            var body = Substring(term)
            var qualifier = SPFResult.pass
            switch body.first {
            case "+": qualifier = .pass; body = body.dropFirst()
            case "-": qualifier = .fail; body = body.dropFirst()
            case "~": qualifier = .softfail; body = body.dropFirst()
            case "?": qualifier = .neutral; body = body.dropFirst()
            default: break
            }
            parsed.directives.append(Directive(qualifier: qualifier, mechanism: try mechanism(body), text: term))
        }
        // A redirect is ignored when "all" is present (RFC 7208 6.1).
        if parsed.directives.contains(where: { if case .all = $0.mechanism { return true } else { return false } }) { parsed.redirect = nil }
        return parsed
    }

    static func mechanism(_ text: Substring) throws -> Mechanism {
        let nameEnd = text.firstIndex(where: { $0 == ":" || $0 == "/" }) ?? text.endIndex
        let name = text[..<nameEnd].lowercased()
        var argument: Substring? = nil
        var rest = text[nameEnd...]
        if rest.first == ":" {
            rest = rest.dropFirst()
            argument = rest
        }
        switch name {
        case "all":
            guard rest.isEmpty else { throw SyntaxError(description: "'all' takes no argument") }
            return .all
        case "include", "exists":
            guard let spec = argument, !spec.isEmpty else { throw SyntaxError(description: "'\(name)' needs a domain") }
            try checkDomainSpec(String(spec))
            return name == "include" ? .include(String(spec)) : .exists(String(spec))
        case "a", "mx":
            // [":" domain-spec] [ip4-cidr] ["//" ip6-cidr]
            var spec = argument ?? rest
            var v4 = 32
            var v6 = 128
            // A "/" is a prefix length only when digits follow it to the end; elsewhere
            // it belongs to the domain-spec (a macro delimiter, or an error found there).
            func isDigits(_ t: Substring) -> Bool { !t.isEmpty && t.allSatisfy { $0.isASCII && $0.isNumber } }
            if let range = spec.range(of: "//", options: .backwards), isDigits(spec[range.upperBound...]) {
                v6 = try cidr(spec[range.upperBound...], max: 128)
                spec = spec[..<range.lowerBound]
            }
            if let slash = spec.lastIndex(of: "/"), isDigits(spec[spec.index(after: slash)...]) {
                v4 = try cidr(spec[spec.index(after: slash)...], max: 32)
                spec = spec[..<slash]
            }
            if spec.hasSuffix("/") { throw SyntaxError(description: "'\(text)' has an empty prefix length") }
            var domain: String? = nil
            if argument != nil {
                guard !spec.isEmpty else { throw SyntaxError(description: "'\(name):' without a domain") }
                try checkDomainSpec(String(spec))
                domain = String(spec)
            } else if !spec.isEmpty {
                throw SyntaxError(description: "'\(text)' is not a mechanism")
            }
            return name == "a" ? .a(domain, v4: v4, v6: v6) : .mx(domain, v4: v4, v6: v6)
        case "ptr":
            if let spec = argument {
                guard !spec.isEmpty else { throw SyntaxError(description: "'ptr:' without a domain") }
                try checkDomainSpec(String(spec))
                return .ptr(String(spec))
            }
            guard rest.isEmpty else { throw SyntaxError(description: "'\(text)' is not a mechanism") }
            return .ptr(nil)
        case "ip4", "ip6":
            guard var network = argument, !network.isEmpty else { throw SyntaxError(description: "'\(name)' needs an address") }
            let max = name == "ip4" ? 32 : 128
            var prefix = max
            if let slash = network.firstIndex(of: "/") {
                prefix = try cidr(network[network.index(after: slash)...], max: max)
                network = network[..<slash]
            }
            guard let address = IPAddress(network), address.isV4 == (name == "ip4"),
                name == "ip4" || network.contains(":" as Character)
            else { throw SyntaxError(description: "'\(network)' is not an \(name) address") }
            return .ip(address, prefix)
        default:
            throw SyntaxError(description: "unknown mechanism '\(text)'")
        }
    }

    /// A prefix length: digits without a leading zero, at most `max`.
    static func cidr(_ text: Substring, max: Int) throws -> Int {
        guard !text.isEmpty, text.count <= 3, text.allSatisfy({ $0.isASCII && $0.isNumber }), text == "0" || text.first != "0",
            let n = Int(text), n <= max
        else { throw SyntaxError(description: "'/\(text)' is not a prefix length") }
        return n
    }

    /// RFC 7208 7.1: domain-spec = macro-string domain-end, where domain-end is
    /// "." toplabel ["."] or a macro-expand.
    static func checkDomainSpec(_ spec: String) throws {
        try Macro.validate(spec, explanation: false)
        if spec.hasSuffix("}") { return }
        var text = Substring(spec)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard let dot = text.lastIndex(of: ".") else { throw SyntaxError(description: "'\(spec)' is not a domain") }
        let top = text[text.index(after: dot)...]
        let alnum = top.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        guard alnum, !top.isEmpty, top.first != "-", top.last != "-", top.contains(where: { $0.isLetter }) || top.contains("-" as Character) else {
            throw SyntaxError(description: "'\(spec)' does not end in a top-level label")
        }
    }
}
