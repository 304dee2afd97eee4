/// RFC 6376 3.4 canonicalisation on octets (never through String: a signature covers
/// the bytes as sent, 8-bit ones included).
public enum Canonicalization: String, Sendable {
    case simple, relaxed

    /// One header field, with its CRLF.
    func header(_ field: RawMessage.Field) -> [UInt8] {
        switch self {
        case .simple:
            var out = Array(field.raw)
            if out.last != 0x0A { out += [0x0D, 0x0A] }
            return out
        case .relaxed:
            return Self.relaxedHeader(name: field.name, value: field.value) + [0x0D, 0x0A]
        }
    }

    /// Lower-case name, unfolded value, runs of white space as one space, none at the
    /// ends of the value or around the colon.
    static func relaxedHeader(name: String, value: ArraySlice<UInt8>) -> [UInt8] {
        var out = Array(name.lowercased().trimmingTrailingSpace().utf8)
        out.append(0x3A)
        var pendingSpace = false
        var started = false
        for byte in value {
            if byte == 0x0D || byte == 0x0A { continue }
            if byte == 0x20 || byte == 0x09 {
                pendingSpace = started
                continue
            }
            if pendingSpace { out.append(0x20) }
            pendingSpace = false
            started = true
            out.append(byte)
        }
        return out
    }

    /// The canonical body (RFC 6376 3.4.3 / 3.4.4).
    func body(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 2)
        // Line by line; a final line without CRLF is treated as if it had one.
        var lines: [Range<Int>] = []
        var start = body.startIndex
        var i = body.startIndex
        while i < body.endIndex {
            if body[i] == 0x0A {
                var end = i
                if end > start && body[end - 1] == 0x0D { end -= 1 }
                lines.append(start..<end)
                start = i + 1
            }
            i += 1
        }
        if start < body.endIndex { lines.append(start..<body.endIndex) }
        // Trailing empty lines go (after relaxed whitespace removal for relaxed).
        var canonical: [[UInt8]] = []
        canonical.reserveCapacity(lines.count)
        for range in lines {
            switch self {
            case .simple:
                canonical.append(Array(body[range]))
            case .relaxed:
                var line: [UInt8] = []
                line.reserveCapacity(range.count)
                var space = false
                for byte in body[range] {
                    if byte == 0x20 || byte == 0x09 {
                        space = true
                        continue
                    }
                    if space { line.append(0x20) }
                    space = false
                    line.append(byte)
                }
                canonical.append(line)
            }
        }
        while let last = canonical.last, last.isEmpty { canonical.removeLast() }
        if canonical.isEmpty { return self == .simple ? [0x0D, 0x0A] : [] }
        for line in canonical {
            out += line
            out += [0x0D, 0x0A]
        }
        return out
    }
}
