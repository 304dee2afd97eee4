/// One MIME entity: its headers, where its body lies in the message bytes, and its
/// children (multipart parts, or the one message inside message/rfc822). Bodies are
/// ranges into the single buffer of the whole message, so a large attachment is
/// held once and decoded only when asked for.
public struct MIMEPart: Sendable {
    public var headers: Headers
    public var contentType: HeaderValueWithParameters
    public var disposition: HeaderValueWithParameters?
    /// nil when the declared encoding is unknown (the body is then used as it is).
    public var transferEncoding: TransferEncoding?
    public var bodyRange: Range<Int>
    public var children: [MIMEPart]
    /// Dotted position in the tree ("1.2"), "" for the root; attachment ids use it.
    public var path: String

    public var isMultipart: Bool { contentType.type == "multipart" }
    public var isMessage: Bool { contentType.value == "message/rfc822" || contentType.value == "message/global" }

    public var filename: String? {
        let name = disposition?["filename"] ?? contentType["name"]
        guard let name, !name.isEmpty else { return nil }
        return name
    }

    public var contentID: String? {
        guard let raw = headers.first("Content-ID")?.rawText else { return nil }
        return MessageIDs.parse(Array(raw.utf8)).first ?? (raw.isEmpty ? nil : raw)
    }

    public var charset: String? { contentType["charset"] }

    /// The body after transfer decoding.
    public func decodedBody(in message: [UInt8]) -> [UInt8] {
        let raw = message[bodyRange]
        return (transferEncoding ?? .eightBit).decode(raw)
    }

    /// Decoded size, computed without decoding base64.
    public func decodedSize(in message: [UInt8]) -> Int {
        switch transferEncoding ?? .eightBit {
        case .base64: return TransferEncoding.base64DecodedSize(message[bodyRange])
        case .sevenBit, .eightBit, .binary: return bodyRange.count
        default: return decodedBody(in: message).count
        }
    }

    /// The body as text in its declared charset.
    public func text(in message: [UInt8]) -> Charset.Decoded {
        Charset.decode(decodedBody(in: message), charset: charset)
    }

    public func walk(_ visit: (MIMEPart) -> Void) {
        visit(self)
        for child in children { child.walk(visit) }
    }

    /// The part at a dotted path, as produced in `path`.
    public func part(at path: String) -> MIMEPart? {
        if path == self.path { return self }
        for child in children {
            if path == child.path || path.hasPrefix(child.path + ".") {
                return child.part(at: path)
            }
        }
        return nil
    }

    static var maxDepth: Int { MessageLimits.depth }

    /// Parses the entity in `bytes[range]`. `partBudget` counts down the parts the
    /// whole message may still have: past it, a multipart's remaining content stays
    /// in its body as raw text (stored, shown, never lost) instead of becoming parts.
    static func parse(
        _ bytes: [UInt8], range: Range<Int>, path: String, depth: Int, defaultType: String, warnings: inout [String], partBudget: inout Int
    ) -> MIMEPart {
        let (headers, bodyStart) = Headers.parse(bytes, range: range, warnings: &warnings)
        var contentType = HeaderValueWithParameters(value: defaultType)
        let typeFields = headers.all("Content-Type")
        if typeFields.count > 1 { warnings.append("\(typeFields.count) Content-Type fields; the first is used") }
        if let field = typeFields.first {
            let parsed = HeaderValueWithParameters.parse(field.rawValue)
            if parsed.value.contains("/" as Character) {
                contentType = parsed
            } else {
                warnings.append("Content-Type '\(field.rawText)' is malformed; read as \(defaultType)")
                contentType.parameters = parsed.parameters
            }
        }
        let disposition = headers.first("Content-Disposition").map { HeaderValueWithParameters.parse($0.rawValue) }
        let encodingText = headers.first("Content-Transfer-Encoding")?.rawText
        let encoding = TransferEncoding.parse(encodingText)
        if encoding == nil { warnings.append("unknown Content-Transfer-Encoding '\(encodingText ?? "")'; body taken as is") }
        var part = MIMEPart(
            headers: headers, contentType: contentType, disposition: disposition, transferEncoding: encoding,
            bodyRange: bodyStart..<range.upperBound, children: [], path: path)
        guard depth < maxDepth else {
            warnings.append("MIME nesting deeper than \(maxDepth); inner parts not parsed")
            return part
        }
        if part.isMultipart {
            guard let boundary = contentType["boundary"], !boundary.isEmpty else {
                warnings.append("multipart without a boundary; read as text")
                part.contentType = HeaderValueWithParameters(value: "text/plain", parameters: contentType.parameters)
                return part
            }
            let childType = contentType.subtype == "digest" ? "message/rfc822" : "text/plain"
            let ranges = splitMultipart(bytes, range: part.bodyRange, boundary: boundary, warnings: &warnings, limit: max(partBudget, 0))
            for (index, childRange) in ranges.enumerated() {
                guard partBudget > 0 else {
                    if !warnings.contains(MessageLimits.partsWarning) { warnings.append(MessageLimits.partsWarning) }
                    break
                }
                partBudget -= 1
                let childPath = path.isEmpty ? "\(index + 1)" : "\(path).\(index + 1)"
                part.children.append(
                    parse(bytes, range: childRange, path: childPath, depth: depth + 1, defaultType: childType, warnings: &warnings, partBudget: &partBudget))
            }
        } else if part.isMessage && (encoding == nil || encoding == .sevenBit || encoding == .eightBit || encoding == .binary) {
            let childPath = path.isEmpty ? "1" : "\(path).1"
            if partBudget > 0 {
                partBudget -= 1
                part.children.append(
                    parse(
                        bytes, range: part.bodyRange, path: childPath, depth: depth + 1, defaultType: "text/plain", warnings: &warnings,
                        partBudget: &partBudget))
            }
        }
        return part
    }

    /// Finds the parts between `--boundary` lines. A delimiter line must be exactly
    /// the boundary (plus optional white space or the closing `--`), so a boundary
    /// that is a prefix of another does not split the outer part.
    static func splitMultipart(_ bytes: [UInt8], range: Range<Int>, boundary: String, warnings: inout [String], limit: Int = .max) -> [Range<Int>] {
        let delimiter = Array(("--" + boundary).utf8)
        var parts: [Range<Int>] = []
        var partStart: Int?
        var lineStart = range.lowerBound
        var closed = false
        let end = range.upperBound
        while lineStart < end {
            var lineEnd = lineStart
            // Fast skip: only lines starting with "--" can be delimiters.
            let candidate = lineStart + 1 < end && bytes[lineStart] == UInt8(ascii: "-") && bytes[lineStart + 1] == UInt8(ascii: "-")
            while lineEnd < end && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let next = lineEnd < end ? lineEnd + 1 : end
            if candidate, lineEnd - lineStart >= delimiter.count, bytes[lineStart..<(lineStart + delimiter.count)].elementsEqual(delimiter) {
                var rest = bytes[(lineStart + delimiter.count)..<lineEnd]
                var isClose = false
                if rest.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) {
                    isClose = true
                    rest = rest.dropFirst(2)
                }
                if rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                    if let start = partStart {
                        // The CRLF before the delimiter belongs to the delimiter.
                        var partEnd = lineStart
                        if partEnd > start && bytes[partEnd - 1] == 0x0A { partEnd -= 1 }
                        if partEnd > start && bytes[partEnd - 1] == 0x0D { partEnd -= 1 }
                        parts.append(start..<max(start, partEnd))
                        if parts.count > limit {
                            // One more than may be used, so the caller warns; the rest stays raw.
                            closed = true
                            break
                        }
                    }
                    if isClose {
                        closed = true
                        break
                    }
                    partStart = next
                }
            }
            lineStart = next
        }
        if !closed {
            if let start = partStart {
                parts.append(start..<end)
                warnings.append("multipart boundary '\(boundary)' is never closed")
            } else {
                warnings.append("multipart boundary '\(boundary)' not found")
            }
        }
        return parts
    }
}
