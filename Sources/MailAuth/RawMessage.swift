/// A message's header fields as the octets that arrived: signatures are checked over
/// exactly these, so nothing here decodes, unfolds or normalises.
struct RawMessage {
    struct Field {
        /// The name as written (case kept).
        let name: String
        /// The whole field: name, colon, value with its folds, and the final CRLF.
        let raw: ArraySlice<UInt8>
        /// The octets after the colon, up to (not including) the final CRLF.
        let value: ArraySlice<UInt8>

        var lowercasedName: String { name.lowercased() }
    }

    let bytes: [UInt8]
    let fields: [Field]
    /// Offset of the body (after the empty line), or the end when there is none.
    let bodyStart: Int

    var body: ArraySlice<UInt8> { bytes[bodyStart...] }

    /// Splits at CRLF (a bare LF also ends a line, as some relays deliver). One pass.
    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var fields: [Field] = []
        var i = 0
        let n = bytes.count
        var bodyStart = n
        while i < n {
            // An empty line ends the header.
            if bytes[i] == 0x0D, i + 1 < n, bytes[i + 1] == 0x0A {
                bodyStart = i + 2
                break
            }
            if bytes[i] == 0x0A {
                bodyStart = i + 1
                break
            }
            let start = i
            // The field runs to the line end not followed by a space or tab.
            var end = i
            while end < n {
                if bytes[end] == 0x0A {
                    if end + 1 < n, bytes[end + 1] == 0x20 || bytes[end + 1] == 0x09 {
                        end += 1
                        continue
                    }
                    break
                }
                end += 1
            }
            let lineEnd = end < n ? end + 1 : n
            let valueEnd = (end < n && end > start && bytes[end - 1] == 0x0D) ? end - 1 : end
            if let colon = bytes[start..<valueEnd].firstIndex(of: 0x3A) {
                let name = String(decoding: bytes[start..<colon], as: UTF8.self)
                fields.append(Field(name: name.trimmingTrailingSpace(), raw: bytes[start..<lineEnd], value: bytes[(colon + 1)..<valueEnd]))
            }
            i = lineEnd
        }
        self.fields = fields
        self.bodyStart = bodyStart
    }
}

extension String {
    func trimmingTrailingSpace() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
