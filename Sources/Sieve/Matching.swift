import Foundation

/// Comparators (RFC 4790 as Sieve uses them) and match types (:is, :contains,
/// :matches, :regex, relational :value/:count).
struct Matcher {
    enum Kind: Equatable {
        case isMatch, contains, matches, regex
        case value(String), count(String)
    }

    var kind: Kind
    var comparator: String
    var regexCache: RegexCache

    init(_ args: Arguments, cache: RegexCache) {
        comparator = args.string("comparator")?.lowercased() ?? "i;ascii-casemap"
        regexCache = cache
        if args.has("contains") {
            kind = .contains
        } else if args.has("matches") {
            kind = .matches
        } else if args.has("regex") {
            kind = .regex
        } else if let r = args.string("value") {
            kind = .value(r.lowercased())
        } else if let r = args.string("count") {
            kind = .count(r.lowercased())
        } else {
            kind = .isMatch
        }
    }

    /// Substring search on code points (not grapheme clusters, so "\n" is found in "\r\n").
    static func scalarsContain(_ haystack: String, _ needle: String) -> Bool {
        // UTF-8 byte search finds exactly the code point sequences.
        var haystack = haystack, needle = needle
        return haystack.withUTF8 { h in needle.withUTF8 { n in ByteSearch.contains(h, n) } }
    }

    var isCount: Bool { if case .count = kind { return true } else { return false } }

    static func asciiLower(_ s: String) -> String {
        // Only ASCII letters change, so the UTF-8 bytes can be mapped in place.
        var bytes = Array(s.utf8)
        var changed = false
        for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A {
            bytes[i] += 32
            changed = true
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : s
    }

    func fold(_ s: String) -> String { comparator == "i;ascii-casemap" ? Self.asciiLower(s) : s }

    /// i;ascii-numeric: the leading digits as a number; no digits is "infinity".
    static func numeric(_ s: String) -> Double? {
        let digits = s.prefix(while: { $0.isASCII && $0.isNumber })
        return digits.isEmpty ? nil : Double(digits)
    }

    /// Orders two strings by the comparator: -1, 0, 1.
    func order(_ a: String, _ b: String) -> Int {
        if comparator == "i;ascii-numeric" {
            switch (Self.numeric(a), Self.numeric(b)) {
            case (nil, nil): return 0
            case (nil, _): return 1
            case (_, nil): return -1
            case (let x?, let y?): return x < y ? -1 : (x > y ? 1 : 0)
            }
        }
        let x = Array(fold(a).unicodeScalars.map(\.value))
        let y = Array(fold(b).unicodeScalars.map(\.value))
        return x.lexicographicallyPrecedes(y) ? -1 : (x == y ? 0 : 1)
    }

    static func relation(_ r: String, _ ordering: Int) -> Bool {
        switch r {
        case "gt": return ordering > 0
        case "ge": return ordering >= 0
        case "lt": return ordering < 0
        case "le": return ordering <= 0
        case "eq": return ordering == 0
        case "ne": return ordering != 0
        default: return false
        }
    }

    /// Whether `value` matches `key`; for :matches and :regex also the match variables.
    func match(_ value: String, _ key: String) -> (Bool, [String]?) {
        switch kind {
        case .isMatch:
            return (order(value, key) == 0 && (comparator != "i;ascii-numeric" || true), nil)
        case .contains:
            if key.isEmpty { return (true, nil) }
            return (Self.scalarsContain(fold(value), fold(key)), nil)
        case .value(let r):
            return (Self.relation(r, order(value, key)), nil)
        case .count:
            return (false, nil)
        case .matches:
            let subject = value.unicodeScalars.count > SieveInterpreter.maxRegexSubject ? String(value.unicodeScalars.prefix(SieveInterpreter.maxRegexSubject)) : value
            guard let captures = regexCache.wildcard(key).match(subject, caseInsensitive: comparator == "i;ascii-casemap") else { return (false, nil) }
            return (true, captures)
        case .regex:
            guard let regex = regexCache.sieveRegex(key, caseInsensitive: comparator == "i;ascii-casemap") else { return (false, nil) }
            let subject = value.unicodeScalars.count > SieveInterpreter.maxRegexSubject ? String(value.unicodeScalars.prefix(SieveInterpreter.maxRegexSubject)) : value
            guard let captures = regex.firstMatch(subject) else { return (false, nil) }
            return (true, captures)
        }
    }

    static func run(_ regex: NSRegularExpression, _ value: String, anchored: Bool) -> (Bool, [String]?) {
        let ns = value as NSString
        guard let m = regex.firstMatch(in: value, options: [], range: NSRange(location: 0, length: ns.length)) else { return (false, nil) }
        var captures: [String] = []
        for i in 0..<m.numberOfRanges {
            let r = m.range(at: i)
            captures.append(r.location == NSNotFound ? "" : ns.substring(with: r))
        }
        return (true, captures)
    }

    /// Relational :count: the number of values against each key.
    func count(_ values: Int, _ keys: [String]) -> Bool {
        guard case .count(let r) = kind else { return false }
        return keys.contains { Self.relationNumeric(r, Double(values), Self.numeric($0)) }
    }

    static func relationNumeric(_ r: String, _ a: Double, _ b: Double?) -> Bool {
        guard let b else { return relation(r, -1) }  // a number is below "infinity"
        return relation(r, a < b ? -1 : (a > b ? 1 : 0))
    }
}

/// Compiled expressions by pattern, shared by one script run.
public final class RegexCache: @unchecked Sendable {
    public init() {}

    var cache: [String: NSRegularExpression?] = [:]
    let lock = NSLock()
    /// Bounded: scripts with variables in patterns could otherwise grow it without end.
    let limit = 4096

    func regex(_ pattern: String, caseInsensitive: Bool) -> NSRegularExpression? {
        let key = (caseInsensitive ? "i:" : "s:") + pattern
        lock.lock()
        defer { lock.unlock() }
        if let cached = cache[key] { return cached }
        let compiled = try? NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
        if cache.count >= limit { cache.removeAll() }
        cache[key] = compiled
        return compiled
    }

    var wildcards: [String: Wildcard] = [:]
    var regexes: [String: SieveRegex?] = [:]

    /// A `:regex` pattern compiled once per script run (nil: it does not compile).
    func sieveRegex(_ pattern: String, caseInsensitive: Bool) -> SieveRegex? {
        let key = (caseInsensitive ? "i:" : "s:") + pattern
        lock.lock()
        defer { lock.unlock() }
        if let cached = regexes[key] { return cached }
        let compiled = try? SieveRegex(pattern, caseInsensitive: caseInsensitive)
        if regexes.count >= limit { regexes.removeAll() }
        regexes[key] = compiled
        return compiled
    }

    /// A `:matches` pattern, parsed once per script run.
    func wildcard(_ pattern: String) -> Wildcard {
        lock.lock()
        defer { lock.unlock() }
        if let cached = wildcards[pattern] { return cached }
        let parsed = Wildcard(pattern)
        if wildcards.count >= limit { wildcards.removeAll() }
        wildcards[pattern] = parsed
        return parsed
    }

    /// Sieve wildcards: `*` any run (shortest first, so earlier stars capture little),
    /// `?` one character, `\` escapes the next character.
    func glob(_ pattern: String, caseInsensitive: Bool) -> NSRegularExpression? {
        var regex = "^"
        var escaped = false
        for c in pattern {
            if escaped {
                regex += NSRegularExpression.escapedPattern(for: String(c))
                escaped = false
                continue
            }
            switch c {
            case "\\": escaped = true
            case "*": regex += "(.*?)"
            case "?": regex += "(.)"
            default: regex += NSRegularExpression.escapedPattern(for: String(c))
            }
        }
        regex += "$"
        let key = (caseInsensitive ? "gi:" : "gs:") + pattern
        lock.lock()
        defer { lock.unlock() }
        if let cached = cache[key] { return cached }
        var options: NSRegularExpression.Options = [.dotMatchesLineSeparators]
        if caseInsensitive { options.insert(.caseInsensitive) }
        let compiled = try? NSRegularExpression(pattern: regex, options: options)
        if cache.count >= limit { cache.removeAll() }
        cache[key] = compiled
        return compiled
    }
}
