import Foundation

/// RFC 5229: `${name}` and `${N}` in strings, and `set` modifiers.
enum Variables {
    static func expand(_ text: String, variables: [String: String], matches: [String]) -> String {
        substitute(text) { name in
            if let n = Int(name), name.allSatisfy(\.isNumber) { return n < matches.count ? matches[n] : "" }
            if isName(name) { return variables[name.lowercased()] ?? "" }
            return nil
        }
    }

    /// The one `${...}` scanner (variables here, RFC 5228 encoded characters in the
    /// validator): each `${body}` that `replace` answers for is replaced; for any other
    /// the "${" is kept and scanning goes on right after it (one pass, no nesting).
    static func substitute(_ text: String, _ replace: (Substring) -> String?) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            let after = rest[start.upperBound...]
            guard let close = after.firstIndex(of: "}") else {
                out += rest[start.lowerBound...]
                return out
            }
            if let replaced = replace(after[..<close]) {
                out += replaced
                rest = after[after.index(after: close)...]
            } else {
                out += "${"
                rest = after
            }
        }
        return out + rest
    }

    /// Values are cut at 4000 octets (on a character boundary), as Pigeonhole does.
    static let maxSize = 4000

    static func limited(_ value: String, to maxSize: Int = maxSize) -> String {
        guard value.utf8.count > maxSize else { return value }
        var out = ""
        var size = 0
        for c in value {
            let n = String(c).utf8.count
            if size + n > maxSize { break }
            out.append(c)
            size += n
        }
        return out
    }

    static func isName(_ s: Substring) -> Bool {
        guard let first = s.unicodeScalars.first, Lexer.isIdentifierStart(first) else { return false }
        return s.unicodeScalars.allSatisfy { Lexer.isIdentifierPart($0) || $0 == "." }
    }

    /// Applied by precedence (RFC 5229 4.1): 40 lower/upper, 30 lowerfirst/upperfirst,
    /// 20 quotewildcard/quoteregex, 15 encodeurl, 10 length.
    static func applyModifiers(_ value: String, _ tags: [String]) -> String {
        let precedence: [String: Int] = [
            "lower": 40, "upper": 40, "lowerfirst": 30, "upperfirst": 30, "quotewildcard": 20, "quoteregex": 20, "encodeurl": 15, "length": 10,
        ]
        var v = value
        for tag in tags.sorted(by: { (precedence[$0] ?? 0) > (precedence[$1] ?? 0) }) {
            switch tag {
            case "lower": v = v.lowercased()
            case "upper": v = v.uppercased()
            case "lowerfirst": v = v.prefix(1).lowercased() + v.dropFirst()
            case "upperfirst": v = v.prefix(1).uppercased() + v.dropFirst()
            case "quotewildcard":
                v = v.reduce(into: "") { out, c in
                    if c == "*" || c == "?" || c == "\\" { out.append("\\") }
                    out.append(c)
                }
            case "quoteregex":
                v = v.reduce(into: "") { out, c in
                    if "\\^$.[]*+?{}()|".contains(c) { out.append("\\") }
                    out.append(c)
                }
            case "encodeurl":
                let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
                v = v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v
            case "length": v = String(v.unicodeScalars.count)
            default: break
            }
        }
        return v
    }
}

/// Date parts for the date and currentdate tests (RFC 5260 4.2).
enum DateParts {
    static func parseZone(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard t.count == 5, let sign = t.first, sign == "+" || sign == "-", let n = Int(t.dropFirst()) else { return nil }
        let minutes = (n / 100) * 60 + n % 100
        return sign == "-" ? -minutes : minutes
    }

    /// The zone written in a Date header, in minutes.
    static func originalOffset(_ text: String) -> Int? {
        for token in text.split(separator: " ").reversed() {
            if let z = parseZone(String(token)) { return z }
            switch token.uppercased() {
            case "GMT", "UT", "UTC", "Z": return 0
            case "EST": return -300
            case "EDT": return -240
            case "CST": return -360
            case "CDT": return -300
            case "MST": return -420
            case "MDT": return -360
            case "PST": return -480
            case "PDT": return -420
            default: continue
            }
        }
        return nil
    }

    static func part(_ name: String, seconds: Int64, offsetMinutes: Int) -> String? {
        let local = seconds + Int64(offsetMinutes * 60)
        let days = Int(floor(Double(local) / 86400))
        let secondsOfDay = Int(local - Int64(days) * 86400)
        let (y, m, d) = civil(days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        func four(_ n: Int) -> String { String(repeating: "0", count: max(0, 4 - String(n).count)) + String(n) }
        let hour = secondsOfDay / 3600, minute = secondsOfDay / 60 % 60, second = secondsOfDay % 60
        let sign = offsetMinutes < 0 ? "-" : "+"
        let zone = sign + two(abs(offsetMinutes) / 60) + two(abs(offsetMinutes) % 60)
        switch name {
        case "year": return four(y)
        case "month": return two(m)
        case "day": return two(d)
        case "date": return "\(four(y))-\(two(m))-\(two(d))"
        case "julian": return String(days + 40587)
        case "hour": return two(hour)
        case "minute": return two(minute)
        case "second": return two(second)
        case "time": return "\(two(hour)):\(two(minute)):\(two(second))"
        case "iso8601": return "\(four(y))-\(two(m))-\(two(d))T\(two(hour)):\(two(minute)):\(two(second))\(sign)\(two(abs(offsetMinutes) / 60)):\(two(abs(offsetMinutes) % 60))"
        case "std11":
            let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            return "\(weekdays[((days % 7) + 7) % 7]), \(d) \(months[m - 1]) \(four(y)) \(two(hour)):\(two(minute)):\(two(second)) \(zone)"
        case "zone": return zone
        case "weekday": return String((((days % 7) + 7) % 7 + 4) % 7)
        default: return nil
        }
    }

    static func civil(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
