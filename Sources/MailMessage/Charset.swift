import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns bytes in a declared charset into text. Any charset iconv knows works; names
/// are normalised through the aliases mail programs actually send. Mislabelled text is
/// common (UTF-8 declared as ISO-8859-1, 8-bit text declared as US-ASCII), so a
/// single-byte declaration over valid multi-byte UTF-8 is read as UTF-8, and undecodable
/// input falls back to Windows-1252 rather than failing: text is always produced.
public enum Charset {
    public struct Decoded: Sendable, Equatable {
        public var text: String
        /// The charset actually used (after aliases and fallbacks).
        public var charset: String
        /// Set when the declared charset was unknown or did not fit the bytes.
        public var warning: String?
    }

    /// iconv name for a declared charset (lower-cased input).
    static func canonicalName(_ declared: String) -> String {
        var name = declared.lowercased()
        name.removeAll { $0 == "\"" || $0 == "'" || $0 == " " }
        switch name {
        case "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "7bit", "8bit": return "US-ASCII"
        case "utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8": return "UTF-8"
        case "utf7", "utf-7", "unicode-1-1-utf-7": return "UTF-7"
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "iso_8859-1", "l1", "cp819": return "WINDOWS-1252"
        case "ks_c_5601-1987", "ks_c_5601", "ksc5601", "ks_c_5601-1989", "euc-kr", "x-windows-949", "cp949", "windows-949", "uhc": return "CP949"
        case "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932": return "CP932"
        case "gb2312", "gbk", "x-gbk", "cp936", "euc-cn", "gb_2312-80", "chinese": return "GB18030"
        case "big5", "big-5", "x-x-big5", "cn-big5": return "BIG5-HKSCS"
        case "iso-8859-8-i", "iso-8859-8-e": return "ISO-8859-8"
        case "iso-2022-jp", "csiso2022jp", "iso-2022-jp-2": return "ISO-2022-JP-2"
        case "tis-620", "windows-874", "iso-8859-11": return "CP874"
        case "koi8r": return "KOI8-R"
        default:
            if name.hasPrefix("windows-") || name.hasPrefix("cp") || name.hasPrefix("iso-8859-") || name.hasPrefix("iso8859") {
                return name.uppercased()
            }
            if name.hasPrefix("x-mac-") || name == "macintosh" { return "MACINTOSH" }
            return name.uppercased()
        }
    }

    static func isSingleByte(_ canonical: String) -> Bool {
        canonical == "US-ASCII" || canonical.hasPrefix("WINDOWS-125") || canonical.hasPrefix("ISO-8859-")
            || canonical.hasPrefix("CP125") || canonical == "KOI8-R" || canonical == "KOI8-U"
    }

    public static func decode<C: Collection<UInt8>>(_ bytes: C, charset declared: String?) -> Decoded {
        let canonical = canonicalName(declared ?? "")
        let array = Array(bytes)
        if array.allSatisfy({ $0 < 0x80 }) && canonical != "UTF-7" && !canonical.hasPrefix("ISO-2022") && !canonical.hasPrefix("UTF-16") && !canonical.hasPrefix("UTF-32") {
            return Decoded(text: String(decoding: array, as: UTF8.self), charset: canonical, warning: nil)
        }
        if canonical == "UTF-8" {
            if let text = validUTF8(array) { return Decoded(text: text, charset: "UTF-8", warning: nil) }
            return Decoded(text: windows1252(array), charset: "WINDOWS-1252", warning: "text declared UTF-8 is not valid UTF-8; read as Windows-1252")
        }
        if isSingleByte(canonical), let text = validUTF8(array), array.contains(where: { $0 >= 0xC2 }) {
            return Decoded(text: text, charset: "UTF-8", warning: "text declared \(declared ?? "us-ascii") is UTF-8; read as UTF-8")
        }
        if canonical == "US-ASCII" {
            return Decoded(text: windows1252(array), charset: "WINDOWS-1252", warning: "8-bit text declared US-ASCII; read as Windows-1252")
        }
        if canonical == "WINDOWS-1252" {
            return Decoded(text: windows1252(array), charset: canonical, warning: nil)
        }
        if let (text, clean) = iconvDecode(array, from: canonical) {
            return Decoded(text: text, charset: canonical, warning: clean ? nil : "some bytes are not valid \(canonical)")
        }
        if let text = validUTF8(array) {
            return Decoded(text: text, charset: "UTF-8", warning: "unknown charset '\(declared ?? "")'; read as UTF-8")
        }
        return Decoded(text: windows1252(array), charset: "WINDOWS-1252", warning: "unknown charset '\(declared ?? "")'; read as Windows-1252")
    }

    /// Text of raw 8-bit header bytes (RFC 6532 says UTF-8; older mail sends Latin-1).
    public static func headerText<C: Collection<UInt8>>(_ bytes: C, fallbackCharset: String? = nil) -> String {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        let array = Array(bytes)
        if let text = validUTF8(array) { return text }
        if let fallbackCharset { return decode(array, charset: fallbackCharset).text }
        return windows1252(array)
    }

    static func validUTF8(_ bytes: [UInt8]) -> String? {
        String(validating: bytes, as: UTF8.self)
    }

    static let cp1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    /// Windows-1252 never fails: every byte maps to a character.
    public static func windows1252(_ bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes {
            let value: UInt32 = (0x80...0x9F).contains(byte) ? cp1252High[Int(byte) - 0x80] : UInt32(byte)
            scalars.append(Unicode.Scalar(value)!)
        }
        return String(scalars)
    }

    /// Converts with iconv; an invalid sequence becomes U+FFFD and decoding goes on.
    /// Returns nil when iconv does not know the charset. The buffers are borrowed once and
    /// the output written in place: with a copy per call, text of nothing but invalid
    /// octets (one iconv call each) cost over ten times valid text.
    static func iconvDecode(_ bytes: [UInt8], from charset: String) -> (String, Bool)? {
        let cd = iconv_open("UTF-8", charset)
        if cd == nil || Int(bitPattern: cd) == -1 { return nil }
        defer { iconv_close(cd) }
        // Only stateful encodings need their shift state reset after an invalid sequence.
        let upper = charset.uppercased()
        let stateful = upper.hasPrefix("ISO-2022") || upper.hasPrefix("UTF-7") || upper.hasPrefix("HZ")
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2 + 16)
        var clean = true
        var chunk = [UInt8](repeating: 0, count: 16384)
        bytes.withUnsafeBufferPointer { inBuf in
            chunk.withUnsafeMutableBufferPointer { outBuf in
                guard let inBase = inBuf.baseAddress, let outBase = outBuf.baseAddress else { return }
                let inStart = UnsafeMutableRawPointer(mutating: inBase).assumingMemoryBound(to: CChar.self)
                let outStart = UnsafeMutableRawPointer(outBase).assumingMemoryBound(to: CChar.self)
                var inOffset = 0
                while inOffset < inBuf.count {
                    var inPtr: UnsafeMutablePointer<CChar>? = inStart + inOffset
                    var inLeft = inBuf.count - inOffset
                    var outPtr: UnsafeMutablePointer<CChar>? = outStart
                    var outLeft = outBuf.count
                    let result = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                    let error: Int32 = result == -1 ? errno : 0
                    let produced = outBuf.count - outLeft
                    if produced > 0 { output.append(contentsOf: UnsafeBufferPointer(start: outBase, count: produced)) }
                    inOffset = inBuf.count - inLeft
                    if error == E2BIG { continue }
                    if error == EILSEQ || error == EINVAL {
                        clean = false
                        output.append(0xEF)
                        output.append(0xBF)
                        output.append(0xBD)
                        inOffset += 1
                        if stateful {
                            iconv(cd, nil, nil, nil, nil)
                            continue
                        }
                        // Octets that can never start a character become U+FFFD here,
                        // without an iconv call each.
                        let invalid = invalidLeads(charset)
                        while inOffset < inBuf.count && invalid[Int(inBase[inOffset])] {
                            output.append(0xEF)
                            output.append(0xBF)
                            output.append(0xBD)
                            inOffset += 1
                        }
                        continue
                    }
                    if error != 0 { break }
                }
            }
        }
        return (String(decoding: output, as: UTF8.self), clean)
    }

    /// Per stateless charset, the octets iconv refuses on their own (EILSEQ, where a
    /// valid first octet of a longer character gives EINVAL): such an octet is invalid
    /// whatever follows. Learnt once per charset, on the first invalid sequence.
    private static let invalidLeadTables = Mutex<[String: [Bool]]>([:])

    static func invalidLeads(_ charset: String) -> [Bool] {
        if let known = invalidLeadTables.withLock({ $0[charset] }) { return known }
        var table = [Bool](repeating: false, count: 256)
        let cd = iconv_open("UTF-8", charset)
        if cd != nil && Int(bitPattern: cd) != -1 {
            defer { iconv_close(cd) }
            var output = [CChar](repeating: 0, count: 16)
            for octet in 0..<256 {
                var input = [CChar(bitPattern: UInt8(octet))]
                let error: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
                    output.withUnsafeMutableBufferPointer { outBuf in
                        var inPtr = inBuf.baseAddress
                        var inLeft = 1
                        var outPtr = outBuf.baseAddress
                        var outLeft = outBuf.count
                        iconv(cd, nil, nil, nil, nil)
                        return iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft) == -1 ? errno : 0
                    }
                }
                table[octet] = error == EILSEQ
            }
        }
        invalidLeadTables.withLock { tables in
            if tables.count > 64 { tables.removeAll() }
            tables[charset] = table
        }
        return table
    }
}
