/// Sieve `:matches` (RFC 5228 2.7.1) without a regular expression engine: `*` is any
/// run, `?` one character, `\` escapes the next. The two-pointer algorithm with one
/// backtrack point (the last `*` seen) runs in O(text × pattern) at worst and needs
/// no recursion; translating to an ICU regex of `(.*?)` groups backtracked without
/// bound on text an attacker chose.
///
/// Captures follow RFC 5229: each wildcard, left to right, takes as little as it can
/// while the whole still matches. The algorithm gives exactly that: a `*` is only
/// widened while it is the last one seen, and an earlier `*` never needs to grow
/// because a later one absorbs whatever it would have taken.
struct Wildcard: Sendable {
    enum Token: Sendable, Equatable {
        case literal(UInt32)
        case any  // ?
        case run  // *
    }

    let tokens: [Token]

    init(_ pattern: String) {
        var tokens: [Token] = []
        var escaped = false
        for scalar in pattern.unicodeScalars {
            if escaped {
                tokens.append(.literal(scalar.value))
                escaped = false
                continue
            }
            switch scalar {
            case "\\": escaped = true
            case "*":
                tokens.append(.run)
            case "?": tokens.append(.any)
            default: tokens.append(.literal(scalar.value))
            }
        }
        self.tokens = tokens
    }

    /// Whether `text` matches; with the match variables (`${0}` the whole text, then
    /// one per wildcard) when it does.
    func match(_ text: String, caseInsensitive: Bool) -> [String]? {
        let scalars = Array(text.unicodeScalars)
        let folded = caseInsensitive ? scalars.map { Self.fold($0.value) } : scalars.map(\.value)
        let pattern = caseInsensitive ? tokens.map { if case .literal(let c) = $0 { return .literal(Self.fold(c)) } else { return $0 } } : tokens
        // Where each wildcard starts and ends in the text.
        var starts = [Int](repeating: 0, count: pattern.count)
        var ends = [Int](repeating: 0, count: pattern.count)
        var t = 0, p = 0
        var star = -1, starText = 0
        while t < folded.count {
            if p < pattern.count {
                switch pattern[p] {
                case .run:
                    star = p
                    starText = t
                    starts[p] = t
                    ends[p] = t
                    p += 1
                    continue
                case .any:
                    starts[p] = t
                    ends[p] = t + 1
                    p += 1
                    t += 1
                    continue
                case .literal(let c) where c == folded[t]:
                    p += 1
                    t += 1
                    continue
                default:
                    break
                }
            }
            // Mismatch: widen the last `*` by one and retry what follows it.
            guard star >= 0 else { return nil }
            starText += 1
            ends[star] = starText
            t = starText
            p = star + 1
        }
        while p < pattern.count, pattern[p] == .run {
            starts[p] = t
            ends[p] = t
            p += 1
        }
        guard p == pattern.count else { return nil }
        var captures = [text]
        for (i, token) in pattern.enumerated() {
            switch token {
            case .run, .any:
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[starts[i]..<ends[i]])
                captures.append(String(view))
            case .literal:
                continue
            }
        }
        return captures
    }

    /// i;ascii-casemap: only ASCII letters fold.
    static func fold(_ c: UInt32) -> UInt32 { c >= 0x41 && c <= 0x5A ? c + 32 : c }
}

/// Substring search in linear time (Knuth-Morris-Pratt over UTF-8 bytes, which finds
/// exactly the code point sequences): the naive search was text × key.
enum ByteSearch {
    static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= haystack.count else { return false }
        var failure = [Int](repeating: 0, count: needle.count)
        var k = 0
        for i in 1..<needle.count {
            while k > 0 && needle[i] != needle[k] { k = failure[k - 1] }
            if needle[i] == needle[k] { k += 1 }
            failure[i] = k
        }
        var matched = 0
        for byte in haystack {
            while matched > 0 && byte != needle[matched] { matched = failure[matched - 1] }
            if byte == needle[matched] { matched += 1 }
            if matched == needle.count { return true }
        }
        return false
    }
}
