/// Content-Transfer-Encoding decoders. Both are lenient: mail in the wild has bad
/// line lengths, stray characters and missing padding, and a reader should still see
/// the content.
public enum TransferEncoding: String, Sendable {
    case sevenBit = "7bit"
    case eightBit = "8bit"
    case binary
    case quotedPrintable = "quoted-printable"
    case base64
    case uuencode = "x-uuencode"

    /// Normalises what mailers write ("7-bit", "Base64;", " quoted-printable ").
    /// Returns nil for an unknown name (the body is then taken as it is).
    public static func parse(_ value: String?) -> TransferEncoding? {
        guard var name = value?.lowercased() else { return .sevenBit }
        if let semicolon = name.firstIndex(of: ";") { name = String(name[..<semicolon]) }
        name = name.trimmingCharacters(in: " \t\"")
        name = String(name.map { $0 == " " || $0 == "_" ? "-" : $0 })
        switch name {
        case "", "7bit", "7-bit", "7bits", "plain", "text/plain", "text": return .sevenBit
        case "8bit", "8-bit", "8bits", "8-bits": return .eightBit
        case "binary": return .binary
        case "quoted-printable", "quotedprintable", "qp": return .quotedPrintable
        case "base64", "base-64": return .base64
        case "x-uuencode", "uuencode", "x-uue", "uue": return .uuencode
        default: return nil
        }
    }

    public func decode<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        switch self {
        case .sevenBit, .eightBit, .binary: return Array(bytes)
        case .base64: return Self.base64Decode(bytes)
        case .quotedPrintable: return Self.quotedPrintableDecode(bytes)
        case .uuencode: return Self.uudecode(bytes)
        }
    }

    static let base64Table: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(c)] = UInt8(i)
        }
        // URL-safe alphabet, seen in the wild
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// Skips anything outside the alphabet; stops at padding.
    public static func base64Decode<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        if let decoded = bytes.withContiguousStorageIfAvailable({ base64Decode($0) }) { return decoded }
        return Array(bytes).withUnsafeBufferPointer { base64Decode($0) }
    }

    /// Over a buffer with the table borrowed once: indexing the global table per octet
    /// (a lazy global, checked on every access) made decoding about 20 MB/s.
    static func base64Decode(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        base64Table.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: input.count / 4 * 3 + 3) { out, written in
                var accumulator: UInt32 = 0
                var bits = 0
                var count = 0
                for byte in input {
                    if byte == 0x3D {
                        // Padding ends a quantum; some encoders concatenate encoded blocks.
                        accumulator = 0
                        bits = 0
                        continue
                    }
                    let value = table[Int(byte)]
                    if value == 0xFF { continue }
                    accumulator = (accumulator << 6) | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        out[count] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                        count += 1
                    }
                }
                written = count
            }
        }
    }

    /// Decoded size without decoding (for attachment listings of large parts).
    public static func base64DecodedSize<C: Collection<UInt8>>(_ bytes: C) -> Int {
        var count = 0
        for byte in bytes where base64Table[Int(byte)] != 0xFF { count += 1 }
        return count * 3 / 4
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// RFC 2045 6.7; an "=" not followed by hex or a line break is kept literally.
    public static func quotedPrintableDecode<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        let n = input.count
        while i < n {
            let byte = input[i]
            if byte == UInt8(ascii: "=") {
                // Soft line break: "=" then optional whitespace then CRLF or LF.
                var j = i + 1
                while j < n, input[j] == 0x20 || input[j] == 0x09 { j += 1 }
                if j < n, input[j] == 0x0D, j + 1 < n, input[j + 1] == 0x0A {
                    i = j + 2
                    continue
                }
                if j < n, input[j] == 0x0A {
                    i = j + 1
                    continue
                }
                if j == n {
                    i = n
                    continue
                }
                if i + 2 < n + 0, let high = hexValue(input[i + 1]), let low = hexValue(input[i + 2]) {
                    out.append(high << 4 | low)
                    i += 3
                    continue
                }
                out.append(byte)
                i += 1
                continue
            }
            out.append(byte)
            i += 1
        }
        return out
    }

    public static func quotedPrintableDecodeQ<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        // RFC 2047 "Q": like quoted-printable, and "_" is a space.
        quotedPrintableDecode(bytes.map { $0 == UInt8(ascii: "_") ? 0x20 : $0 })
    }

    /// Lines after "begin " up to "end"; a line's first character is its decoded length.
    /// Index-based over the octets (no array per line), so a body of empty lines costs
    /// what text does.
    static func uudecode<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        let text = Array(bytes)
        let n = text.count
        var out: [UInt8] = []
        var inBody = false
        var lineStart = 0
        func value(_ byte: UInt8) -> UInt8 { (byte &- 0x20) & 0x3F }
        while lineStart < n {
            var end = lineStart
            while end < n && text[end] != 0x0A { end += 1 }
            let next = end + 1
            if end > lineStart && text[end - 1] == 0x0D { end -= 1 }
            defer { lineStart = next }
            let length = end - lineStart
            if !inBody {
                if length >= 6 && text[lineStart..<lineStart + 6].elementsEqual("begin ".utf8) { inBody = true }
                continue
            }
            if length >= 3 && text[lineStart..<lineStart + 3].elementsEqual("end".utf8) { break }
            guard length > 0 else { continue }
            let declared = Int(value(text[lineStart]))
            if declared == 0 { continue }
            // Groups of four characters give three octets; missing characters count as 0,
            // and no more than the declared length is kept.
            var produced = 0
            var index = lineStart + 1
            while index < end && produced < declared {
                let c0 = value(text[index])
                let c1 = index + 1 < end ? value(text[index + 1]) : 0
                let c2 = index + 2 < end ? value(text[index + 2]) : 0
                let c3 = index + 3 < end ? value(text[index + 3]) : 0
                out.append(c0 << 2 | c1 >> 4)
                produced += 1
                if produced < declared {
                    out.append(c1 << 4 | c2 >> 2)
                    produced += 1
                }
                if produced < declared {
                    out.append(c2 << 6 | c3)
                    produced += 1
                }
                index += 4
            }
        }
        return out
    }
}

extension StringProtocol {
    /// Trims code points in `set` from both ends, without copying or building a set
    /// (this runs once per line of every message).
    public func trimmingCharacters(in set: String) -> String {
        let string = String(self)
        let view = string.unicodeScalars
        var start = view.startIndex
        var end = view.endIndex
        while start < end, set.unicodeScalars.contains(view[start]) { start = view.index(after: start) }
        while start < end {
            let before = view.index(before: end)
            guard set.unicodeScalars.contains(view[before]) else { break }
            end = before
        }
        return String(string[start..<end])
    }
}
