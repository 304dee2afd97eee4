import Foundation
import NetAddress

/// RFC 7208 results.
public enum SPFResult: String, Sendable, Codable {
    case none, neutral, pass, fail, softfail, temperror, permerror
}

/// What `check_host()` decided and why: the result, the term that decided it (or the
/// reason for an error) and, for fail, the domain's explanation.
public struct SPFOutcome: Sendable, Equatable, Codable {
    public var result: SPFResult
    /// The domain whose record was evaluated (MAIL FROM's domain or the HELO name).
    public var domain: String
    /// "mechanism -all matched", "no SPF record", "more than 10 DNS lookups", ...
    public var reason: String
    public var explanation: String?
}

/// RFC 7208 `check_host()`: every mechanism and modifier, macros, the 10-lookup and
/// 2-void-lookup limits and `exp=`. Pure evaluation over `DNSLookup`.
public struct SPFChecker: Sendable {
    public let dns: DNSLookup
    /// This host's name, for the `%{r}` macro in explanations.
    public var receiver: String
    public var defaultExplanation = "DEFAULT"
    public var now: @Sendable () -> Date = { Date() }

    public init(dns: DNSLookup, receiver: String) {
        self.dns = dns
        self.receiver = receiver
    }

    /// The MAIL FROM identity (RFC 7208 2.4); with an empty reverse path the HELO
    /// identity stands in, as postmaster@helo.
    public func checkMailFrom(ip: IPAddress, mailFrom: String, helo: String) async -> SPFOutcome {
        var sender = mailFrom
        if sender.isEmpty { sender = "postmaster@" + helo }
        return await check(ip: ip, sender: sender, helo: helo)
    }

    /// The HELO identity (RFC 7208 2.3).
    public func checkHelo(ip: IPAddress, helo: String) async -> SPFOutcome {
        await check(ip: ip, sender: "postmaster@" + helo, helo: helo)
    }

    func check(ip: IPAddress, sender rawSender: String, helo: String) async -> SPFOutcome {
        var local = "postmaster"
        var domain = rawSender
        if let at = rawSender.lastIndex(of: "@") {
            let l = rawSender[..<at]
            if !l.isEmpty { local = String(l) }
            domain = String(rawSender[rawSender.index(after: at)...])
        }
        let context = Context(ip: ip.unmapped, local: local, senderDomain: domain, helo: helo)
        let budget = Budget()
        guard DomainName.isValid(domain) else {
            return SPFOutcome(result: .none, domain: domain, reason: "'\(domain)' is not a domain name", explanation: nil)
        }
        var outcome = await checkHost(domain: DomainName.normalized(domain), context, budget, depth: 0)
        if outcome.result == .fail && outcome.explanation == nil { outcome.explanation = defaultExplanation }
        return outcome
    }

    struct Context {
        let ip: IPAddress
        let local: String
        let senderDomain: String
        let helo: String
    }

    /// Counted across includes and redirects (RFC 7208 4.6.4).
    final class Budget {
        var lookups = 0
        var voids = 0
    }

    enum Stop: Error {
        case result(SPFResult, String)
    }

    func checkHost(domain: String, _ context: Context, _ budget: Budget, depth: Int) async -> SPFOutcome {
        func outcome(_ result: SPFResult, _ reason: String, _ explanation: String? = nil) -> SPFOutcome {
            SPFOutcome(result: result, domain: domain, reason: reason, explanation: explanation)
        }
        guard DomainName.isValid(domain) else { return outcome(.none, "'\(domain)' is not a domain name") }
        let records: [String]
        do {
            records = try await dns.txt(domain).filter { record in
                let lower = record.lowercased()
                return lower == "v=spf1" || lower.hasPrefix("v=spf1 ")
            }
        } catch {
            return outcome(.temperror, "DNS: \(error)")
        }
        guard !records.isEmpty else { return outcome(.none, "no SPF record for \(domain)") }
        guard records.count == 1 else { return outcome(.permerror, "\(records.count) SPF records for \(domain)") }
        let record: SPFRecord
        do {
            record = try SPFRecord.cachedParse(records[0])
        } catch {
            return outcome(.permerror, "\(domain): \(error)")
        }
        let macros = MacroContext(ip: context.ip, local: context.local, senderDomain: context.senderDomain, domain: domain, helo: context.helo, receiver: receiver, now: now)
        do {
            for term in record.directives {
                if try await matches(term.mechanism, domain: domain, context, macros, budget, depth: depth) {
                    let result = term.qualifier
                    var explanation: String?
                    if result == .fail, let exp = record.explanation {
                        explanation = await explain(exp, macros)
                    }
                    return outcome(result, "\(term.text) matched", explanation)
                }
            }
            if let redirect = record.redirect {
                try count(budget)
                let target = try await expandDomain(redirect, macros)
                var inner = await checkHost(domain: target, context, budget, depth: depth + 1)
                if inner.result == .none { inner.result = .permerror; inner.reason = "redirect=\(target): \(inner.reason)" }
                return inner
            }
            return outcome(.neutral, "no mechanism matched")
        } catch Stop.result(let result, let reason) {
            return outcome(result, reason)
        } catch {
            return outcome(.permerror, "\(error)")
        }
    }

    func count(_ budget: Budget) throws {
        budget.lookups += 1
        if budget.lookups > 10 { throw Stop.result(.permerror, "more than 10 DNS lookups") }
    }

    func void(_ empty: Bool, _ budget: Budget) throws {
        guard empty else { return }
        budget.voids += 1
        if budget.voids > 2 { throw Stop.result(.permerror, "more than 2 void DNS lookups") }
    }

    func lookup<T>(_ question: () async throws(DNSLookupFailure) -> [T]) async throws -> [T] {
        do {
            return try await question()
        } catch {
            throw Stop.result(.temperror, "DNS: \(error)")
        }
    }

    func expandDomain(_ spec: String, _ macros: MacroContext) async throws -> String {
        var name = DomainName.normalized(try Macro.expand(spec, await withValidatedName(spec, macros), explanation: false))
        // RFC 7208 7.3: left-hand labels go until the name fits in 253 octets.
        while name.utf8.count > 253, let dot = name.firstIndex(of: ".") { name = String(name[name.index(after: dot)...]) }
        return name
    }

    func matches(_ mechanism: SPFRecord.Mechanism, domain: String, _ context: Context, _ macros: MacroContext, _ budget: Budget, depth: Int) async throws -> Bool {
        let ip = context.ip
        switch mechanism {
        case .all:
            return true
        case .ip(let network, let prefix):
            return ip.isIn(network, prefixLength: prefix)
        case .include(let spec):
            try count(budget)
            let target = try await expandDomain(spec, macros)
            guard depth < 10 else { throw Stop.result(.permerror, "include loop") }
            let inner = await checkHost(domain: target, context, budget, depth: depth + 1)
            switch inner.result {
            case .pass: return true
            case .fail, .softfail, .neutral: return false
            case .temperror: throw Stop.result(.temperror, "include:\(target): \(inner.reason)")
            case .permerror, .none: throw Stop.result(.permerror, "include:\(target): \(inner.reason)")
            }
        case .a(let spec, let v4, let v6):
            try count(budget)
            let target = try await spec.asyncMap { try await expandDomain($0, macros) } ?? domain
            guard DomainName.isValid(target) else { return false }
            let found = try await lookup { () async throws(DNSLookupFailure) in try await dns.addresses(target, like: ip) }
            try void(found.isEmpty, budget)
            return found.contains { ip.isIn($0, prefixLength: ip.isV4 ? v4 : v6) }
        case .mx(let spec, let v4, let v6):
            try count(budget)
            let target = try await spec.asyncMap { try await expandDomain($0, macros) } ?? domain
            guard DomainName.isValid(target) else { return false }
            let hosts = try await lookup { () async throws(DNSLookupFailure) in try await dns.mx(target) }
            try void(hosts.isEmpty, budget)
            guard hosts.count <= 10 else { throw Stop.result(.permerror, "mx:\(target) has more than 10 MX records") }
            for host in hosts {
                let found = try await lookup { () async throws(DNSLookupFailure) in try await dns.addresses(host, like: ip) }
                try void(found.isEmpty, budget)
                if found.contains(where: { ip.isIn($0, prefixLength: ip.isV4 ? v4 : v6) }) { return true }
            }
            return false
        case .ptr(let spec):
            try count(budget)
            let target = try await spec.asyncMap { try await expandDomain($0, macros) } ?? domain
            for name in await validatedNames(ip, budget) where name == target || name.hasSuffix("." + target) {
                return true
            }
            return false
        case .exists(let spec):
            try count(budget)
            let target = try await expandDomain(spec, macros)
            guard DomainName.isValid(target) else { return false }
            // Always an A query, whatever the client's family (RFC 7208 5.7).
            let found = try await lookup { () async throws(DNSLookupFailure) in try await dns.a(target) }
            try void(found.isEmpty, budget)
            return !found.isEmpty
        }
    }

    /// RFC 7208 5.5: the PTR names of the address (at most 10) whose A/AAAA records lead
    /// back to it. DNS errors here mean "no match", never temperror.
    func validatedNames(_ ip: IPAddress, _ budget: Budget) async -> [String] {
        guard let names = try? await dns.ptr(ip) else { return [] }
        if names.isEmpty { try? void(true, budget) }
        var valid: [String] = []
        for name in names.prefix(10) {
            let n = DomainName.normalized(name)
            if let found = try? await dns.addresses(n, like: ip), found.contains(ip) { valid.append(n) }
        }
        return valid
    }

    /// The context with `%{p}` filled in when `text` uses it: a validated name equal to
    /// the domain, else one under it, else any.
    func withValidatedName(_ text: String, _ macros: MacroContext) async -> MacroContext {
        guard text.lowercased().contains("%{p") else { return macros }
        var m = macros
        let names = await validatedNames(macros.ip, Budget())
        m.validatedName = names.first { $0 == macros.domain } ?? names.first { $0.hasSuffix("." + macros.domain) } ?? names.first
        return m
    }

    /// `exp=`: a single TXT record at the expanded name, macro-expanded; any problem
    /// means no explanation (RFC 7208 6.2).
    func explain(_ spec: String, _ macros: MacroContext) async -> String? {
        guard let target = try? await expandDomain(spec, macros), DomainName.isValid(target),
            let texts = try? await dns.txt(target), texts.count == 1,
            let text = try? Macro.expand(texts[0], await withValidatedName(texts[0], macros), explanation: true),
            text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        else { return nil }
        return text
    }
}

/// What the macros of RFC 7208 7 expand to.
struct MacroContext {
    let ip: IPAddress
    let local: String
    let senderDomain: String
    let domain: String
    let helo: String
    let receiver: String
    let now: @Sendable () -> Date
    /// `%{p}`: looked up only when a string uses it.
    var validatedName: String? = nil
}

enum Macro {
    struct SyntaxError: Error, CustomStringConvertible {
        let description: String
    }

    /// Checks a macro-string's syntax without expanding it (records are checked whole
    /// before evaluation).
    static func validate(_ text: String, explanation: Bool) throws {
        _ = try expand(text, nil, explanation: explanation)
    }

    /// Expands `%{...}`, `%%`, `%_`, `%-`; with `context` nil only the syntax is checked.
    static func expand(_ text: String, _ context: MacroContext?, explanation: Bool) throws -> String {
        var out = ""
        let chars = Array(text.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "%" else {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            guard i + 1 < chars.count else { throw SyntaxError(description: "'%' at the end of '\(text)'") }
            let next = chars[i + 1]
            switch next {
            case "%": out += "%"; i += 2; continue
            case "_": out += " "; i += 2; continue
            case "-": out += "%20"; i += 2; continue
            case "{": break
            default: throw SyntaxError(description: "'%\(next)' in '\(text)'")
            }
            guard let close = chars[(i + 2)...].firstIndex(of: "}") else { throw SyntaxError(description: "unclosed macro in '\(text)'") }
            let body = chars[(i + 2)..<close]
            i = close + 1
            guard let letter = body.first else { throw SyntaxError(description: "empty macro in '\(text)'") }
            let lower = Character(letter).lowercased()
            let known = explanation ? "slodiphcrtv" : "slodiphv"
            guard known.contains(lower), letter.isASCII else { throw SyntaxError(description: "unknown macro letter '\(letter)' in '\(text)'") }
            var rest = body.dropFirst()
            var digits = ""
            while let d = rest.first, d.properties.numericType != nil, d.isASCII, ("0"..."9").contains(Character(d)) {
                digits.unicodeScalars.append(d)
                rest = rest.dropFirst()
            }
            var reverse = false
            if let r = rest.first, r == "r" || r == "R" {
                reverse = true
                rest = rest.dropFirst()
            }
            let delimiters = Set(rest.map { Character($0) })
            guard delimiters.isSubset(of: [".", "-", "+", ",", "/", "_", "="]) else { throw SyntaxError(description: "bad delimiter in '\(text)'") }
            var keep: Int?
            if !digits.isEmpty {
                guard let n = Int(digits.prefix(6)), n > 0 else { throw SyntaxError(description: "a macro keeps 0 parts in '\(text)'") }
                keep = n
            }
            guard let context else { continue }
            var value = Self.value(lower, context)
            var parts = value.split(whereSeparator: { delimiters.isEmpty ? $0 == "." : delimiters.contains($0) }).map(String.init)
            if reverse { parts.reverse() }
            if let keep, keep < parts.count { parts = Array(parts.suffix(keep)) }
            value = parts.joined(separator: ".")
            if letter.properties.isUppercase { value = urlEscaped(value) }
            out += value
        }
        return out
    }

    static func value(_ letter: String, _ c: MacroContext) -> String {
        switch letter {
        case "s": return c.local + "@" + c.senderDomain
        case "l": return c.local
        case "o": return c.senderDomain
        case "d": return c.domain
        case "i": return c.ip.dottedForm
        // The validated name (RFC 7208 7.3), or "unknown".
        case "p": return c.validatedName ?? "unknown"
        case "h": return c.helo
        case "c": return c.ip.description
        case "r": return c.receiver
        case "t": return String(Int(c.now().timeIntervalSince1970))
        case "v": return c.ip.isV4 ? "in-addr" : "ip6"
        default: return ""
        }
    }

    static func urlEscaped(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let unreserved = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            out += unreserved ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return out
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
