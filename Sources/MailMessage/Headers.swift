/// One header field: its name and its unfolded raw value (bytes, since header text
/// may be 8-bit before it is decoded).
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var rawValue: [UInt8]

    public init(name: String, rawValue: [UInt8]) {
        self.name = name
        self.rawValue = rawValue
    }

    /// The value with encoded words decoded and white space trimmed.
    public var text: String { text(fallbackCharset: nil) }

    /// Raw 8-bit text that is not UTF-8 is read in `fallbackCharset` (the message's
    /// declared charset) when given: old mailers put Big5 or KOI8-R straight into
    /// headers.
    public func text(fallbackCharset: String?) -> String {
        EncodedWords.decode(rawValue, fallbackCharset: fallbackCharset).trimmingCharacters(in: " \t\r\n")
    }

    /// The value as raw text (no encoded-word decoding), for structured fields.
    public var rawText: String {
        Charset.headerText(rawValue).trimmingCharacters(in: " \t\r\n")
    }
}

/// A header section in order. Lookups are case-insensitive.
public struct Headers: Sendable, Equatable {
    public var fields: [HeaderField]

    public init(fields: [HeaderField] = []) {
        self.fields = fields
    }

    public func first(_ name: String) -> HeaderField? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }
    }

    public func all(_ name: String) -> [HeaderField] {
        let lower = name.lowercased()
        return fields.filter { $0.name.lowercased() == lower }
    }

    public subscript(_ name: String) -> String? { first(name)?.text }

    /// Parses the header section at the start of `bytes[range]`; returns the headers
    /// and where the body starts. Tolerates LF-only line ends, an mbox "From " line,
    /// and a first line that is not a header (the body then starts there).
    static func parse(_ bytes: [UInt8], range: Range<Int>, warnings: inout [String]) -> (Headers, Int) {
        var fields: [HeaderField] = []
        var index = range.lowerBound
        let end = range.upperBound
        var current: (name: String, value: [UInt8])?
        var first = true
        var warnedContinuation = false, warnedFields = false
        while index < end {
            // Find the end of this line.
            var lineEnd = index
            while lineEnd < end && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let next = lineEnd < end ? lineEnd + 1 : end
            var contentEnd = lineEnd
            if contentEnd > index && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            if contentEnd == index {
                // Empty line: end of headers.
                if let current { fields.append(HeaderField(name: current.name, rawValue: current.value)) }
                return (Headers(fields: fields), next)
            }
            let startByte = bytes[index]
            if startByte == 0x20 || startByte == 0x09 {
                if current != nil {
                    current?.value += bytes[index..<contentEnd]
                } else if !first && fields.count < MessageLimits.headerFields && !warnedContinuation {
                    warnedContinuation = true
                    warnings.append("header continuation line without a header")
                }
                index = next
                continue
            }
            if first && contentEnd - index >= 5 && Array(bytes[index..<(index + 5)]) == Array("From ".utf8)
                && bytes[(index + 5)..<contentEnd].first(where: { $0 != 0x20 }) != UInt8(ascii: ":")
            {
                // mbox separator line
                first = false
                index = next
                continue
            }
            first = false
            guard let colon = bytes[index..<contentEnd].firstIndex(of: UInt8(ascii: ":")),
                colon > index,
                bytes[index..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) || bytes[index..<colon].last == 0x20
            else {
                // Not a header line: the header section ended without an empty line.
                if let current { fields.append(HeaderField(name: current.name, rawValue: current.value)) }
                warnings.append("header section ends without an empty line")
                return (Headers(fields: fields), index)
            }
            if let current { fields.append(HeaderField(name: current.name, rawValue: current.value)) }
            if fields.count >= MessageLimits.headerFields {
                // Past the limit, fields are not kept apart (they stay in the raw
                // message); the scan goes on only to find where the body starts.
                if !warnedFields { warnings.append(MessageLimits.headerFieldsWarning) }
                warnedFields = true
                current = nil
                index = next
                continue
            }
            var name = String(decoding: bytes[index..<colon], as: UTF8.self)
            while name.last == " " || name.last == "\t" { name.removeLast() }
            current = (name, Array(bytes[(colon + 1)..<contentEnd]))
            index = next
        }
        if let current { fields.append(HeaderField(name: current.name, rawValue: current.value)) }
        return (Headers(fields: fields), end)
    }
}
