/// Dates as mail programs write them, not only as RFC 5322 says: with or without the
/// weekday, two- or four-digit years, named and military zones, missing seconds,
/// asctime form, ISO 8601, and trailing comments. Returns Unix seconds (UTC) or nil.
public enum MailDate {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let zones: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0, "bst": 60, "cet": 60, "met": 60, "cest": 120, "mest": 120, "eet": 120, "eest": 180,
        "msk": 180, "ist": 330, "jst": 540, "kst": 540, "hkt": 480, "sgt": 480, "awst": 480, "aest": 600, "aedt": 660, "nzst": 720, "nzdt": 780,
        "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360, "pst": -480, "pdt": -420, "akst": -540, "akdt": -480, "hst": -600,
    ]

    /// Years a date may name. Outside them the Date header is treated as absent: a
    /// 12-digit year once overflowed the day arithmetic and crash-looped processing,
    /// and nothing a mail program writes is outside four digits.
    public static let yearRange = 1...9999

    public static func parse(_ text: String) -> Int64? {
        // Bounded: no real date is longer, and the scan below must stay cheap.
        guard text.utf8.count <= 1000 else { return nil }
        // Strip comments and punctuation that separates nothing.
        var cleaned = ""
        var depth = 0
        for c in text {
            if c == "(" { depth += 1; continue }
            if c == ")" { depth = max(0, depth - 1); continue }
            if depth == 0 { cleaned.append(c == "," ? " " : c) }
        }
        if let iso = parseISO(cleaned.trimmingCharacters(in: " \t")) { return iso }
        let tokens = cleaned.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map { String($0) }
        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        var offsetMinutes = 0
        for token in tokens {
            let lower = token.lowercased()
            if let m = months.firstIndex(where: { lower.hasPrefix($0) }), lower.count >= 3, lower.allSatisfy(\.isLetter) || lower.hasSuffix(".") {
                month = m + 1
                continue
            }
            if token.contains(":" as Character), time == nil {
                let parts = token.split(separator: ":").map { Int($0.filter(\.isNumber)) }
                if parts.count >= 2, let h = parts[0], let m = parts[1] {
                    time = (h, m, parts.count > 2 ? (parts[2] ?? 0) : 0)
                }
                continue
            }
            if (token.hasPrefix("+") || token.hasPrefix("-")) && token.count >= 3, let n = Int(token.dropFirst().prefix(4)) {
                let digits = token.dropFirst().prefix(4)
                let hours = digits.count <= 2 ? n : n / 100
                let minutes = digits.count <= 2 ? 0 : n % 100
                offsetMinutes = (hours * 60 + minutes) * (token.hasPrefix("-") ? -1 : 1)
                continue
            }
            if let zone = zones[lower] {
                offsetMinutes = zone
                continue
            }
            if let n = Int(token) {
                if token.count >= 3 || n > 31 {
                    year = n
                } else if day == nil {
                    day = n
                } else if year == nil {
                    year = n
                }
                continue
            }
            // "25-Nov-2026"
            let dashed = token.split(separator: "-")
            if dashed.count == 3, let d = Int(dashed[0]), let m = months.firstIndex(of: dashed[1].lowercased()), let y = Int(dashed[2]) {
                day = d
                month = m + 1
                year = y
            }
        }
        guard let d = day, let m = month, var y = year else { return nil }
        if y < 50 { y += 2000 } else if y < 1000 { y += 1900 }
        let (h, mi, s) = time ?? (0, 0, 0)
        guard (1...31).contains(d), (0...24).contains(h), (0...59).contains(mi), (0...60).contains(s),
            yearRange.contains(y)
        else { return nil }
        return unixTime(year: y, month: m, day: d, hour: h, minute: mi, second: s) - Int64(offsetMinutes * 60)
    }

    /// `2010-09-22T00:30:55Z`, `2010-09-22 00:30:55 +0200`.
    static func parseISO(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        guard chars.count >= 10, chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-"),
            let y = Int(String(decoding: chars[0..<4], as: UTF8.self)),
            let m = Int(String(decoding: chars[5..<7], as: UTF8.self)),
            let d = Int(String(decoding: chars[8..<10], as: UTF8.self))
        else { return nil }
        var h = 0, mi = 0, s = 0, offset = 0
        if chars.count >= 16 {
            h = Int(String(decoding: chars[11..<13], as: UTF8.self)) ?? 0
            mi = Int(String(decoding: chars[14..<16], as: UTF8.self)) ?? 0
            if chars.count >= 19 { s = Int(String(decoding: chars[17..<19], as: UTF8.self)) ?? 0 }
            let rest = String(decoding: chars[min(19, chars.count)...], as: UTF8.self).trimmingCharacters(in: " ")
            if let sign = rest.firstIndex(where: { $0 == "+" || $0 == "-" }) {
                let digits = rest[rest.index(after: sign)...].filter(\.isNumber)
                if let n = Int(digits.prefix(4)) {
                    let value = digits.count <= 2 ? n * 60 : (n / 100) * 60 + n % 100
                    offset = rest[sign] == "-" ? -value : value
                }
            }
        }
        guard (1...12).contains(m), (1...31).contains(d), yearRange.contains(y), (0...24).contains(h), (0...59).contains(mi),
            (0...60).contains(s)
        else { return nil }
        return unixTime(year: y, month: m, day: d, hour: h, minute: mi, second: s) - Int64(offset * 60)
    }

    /// Days-from-civil (Howard Hinnant).
    static func unixTime(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second)
    }
}
