/// RFC 2047 encoded words in header text: `=?charset?B|Q?text?=`. Adjacent encoded
/// words (separated only by white space) are joined before charset decoding, because
/// encoders split multi-byte characters across words.
public enum EncodedWords {
    public static func decode<C: Collection<UInt8>>(_ raw: C, fallbackCharset: String? = nil) -> String {
        let bytes = Array(raw)
        guard bytes.count >= 8, containsMarker(bytes) else { return Charset.headerText(bytes, fallbackCharset: fallbackCharset) }
        var result = ""
        var plainStart = 0
        var index = 0
        // Pending run of encoded words in one charset.
        var pendingCharset: String?
        var pendingBytes: [UInt8] = []
        var lastWordEnd = -1
        var cache = ScanCache()

        func flushPending() {
            if let charset = pendingCharset {
                result += Charset.decode(pendingBytes, charset: charset).text
            }
            pendingCharset = nil
            pendingBytes = []
        }

        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "="), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "?"),
                let word = parseWord(bytes, at: index, cache: &cache)
            {
                let between = bytes[plainStart..<index]
                let onlySpace = between.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
                if !(onlySpace && lastWordEnd == plainStart) {
                    flushPending()
                    result += Charset.headerText(between, fallbackCharset: fallbackCharset)
                }
                let charset = word.charset.lowercased()
                if pendingCharset != nil && pendingCharset != charset { flushPending() }
                pendingCharset = charset
                pendingBytes += word.decoded
                index = word.end
                plainStart = index
                lastWordEnd = index
                continue
            }
            index += 1
        }
        flushPending()
        result += Charset.headerText(bytes[plainStart...], fallbackCharset: fallbackCharset)
        return result
    }

    static func containsMarker(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "="), bytes[i + 1] == UInt8(ascii: "?") { return true }
            i += 1
        }
        return false
    }

    struct Word {
        var charset: String
        var decoded: [UInt8]
        var end: Int
    }

    /// Where the next `?=` and the next line end are, as found by earlier searches:
    /// each is searched for once per position it could be at, so a header of `=?a?q?x`
    /// repeated without `?=` is scanned once, not once per `=?` (that was quadratic).
    struct ScanCache {
        var terminator: (from: Int, at: Int)?
        var lineEnd: (from: Int, at: Int)?
    }

    static func next(_ b: [UInt8], from: Int, cached: inout (from: Int, at: Int)?, _ found: (Int) -> Bool) -> Int {
        if let c = cached, c.from <= from, from <= c.at { return c.at }
        var j = from
        while j < b.count && !found(j) { j += 1 }
        cached = (from, j)
        return j
    }

    static func parseWord(_ b: [UInt8], at start: Int) -> Word? {
        var cache = ScanCache()
        return parseWord(b, at: start, cache: &cache)
    }

    /// `=?charset[*lang]?E?text?=` starting at `start`.
    static func parseWord(_ b: [UInt8], at start: Int, cache: inout ScanCache) -> Word? {
        var i = start + 2
        let charsetStart = i
        while i < b.count, b[i] != UInt8(ascii: "?") {
            if b[i] <= 0x20 || i - charsetStart > 40 { return nil }
            i += 1
        }
        guard i + 3 < b.count, i > charsetStart else { return nil }
        var charset = String(decoding: b[charsetStart..<i], as: UTF8.self)
        if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }  // RFC 2231 language
        let encoding = b[i + 1] | 0x20
        guard encoding == UInt8(ascii: "b") || encoding == UInt8(ascii: "q"), b[i + 2] == UInt8(ascii: "?") else { return nil }
        let textStart = i + 3
        let j = next(b, from: textStart, cached: &cache.terminator) { $0 + 1 < b.count && b[$0] == UInt8(ascii: "?") && b[$0 + 1] == UInt8(ascii: "=") }
        guard j + 1 < b.count else { return nil }
        // Encoded text has no white space; a broken encoder's word ends at a line end.
        let lineEnd = next(b, from: textStart, cached: &cache.lineEnd) { b[$0] == 0x0D || b[$0] == 0x0A }
        guard lineEnd > j else { return nil }
        let text = b[textStart..<j]
        let decoded = encoding == UInt8(ascii: "b") ? TransferEncoding.base64Decode(text) : TransferEncoding.quotedPrintableDecodeQ(text)
        return Word(charset: charset, decoded: decoded, end: j + 2)
    }
}
