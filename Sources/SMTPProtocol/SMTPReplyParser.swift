/// Client side: turns the bytes a server sends into replies (multi-line replies
/// joined), for the SMTP client.
public struct SMTPReplyParser: Sendable {
    var buffer: [UInt8] = []
    var lines: [String] = []

    public init() {}

    public enum ParseError: Error, Equatable { case malformed(String), tooLong }

    /// Feeds bytes; returns every complete reply.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws -> [SMTPReply] {
        buffer.append(contentsOf: bytes)
        var replies: [SMTPReply] = []
        while let lf = buffer.firstIndex(of: 0x0A) {
            var line = Array(buffer[..<lf])
            buffer.removeSubrange(...lf)
            if line.last == 0x0D { line.removeLast() }
            let text = String(decoding: line, as: UTF8.self)
            guard text.count >= 3, let code = Int(text.prefix(3)) else { throw ParseError.malformed(text) }
            let more = text.count > 3 && text[text.index(text.startIndex, offsetBy: 3)] == "-"
            let rest = text.count > 4 ? String(text.dropFirst(4)) : ""
            lines.append(rest)
            if !more {
                var enhanced: String?
                var body = lines
                if let first = body.last?.split(separator: " ", maxSplits: 1).first,
                    first.split(separator: ".").count == 3, first.allSatisfy({ $0.isNumber || $0 == "." })
                {
                    enhanced = String(first)
                    body = body.map { line in
                        line.hasPrefix(String(first) + " ") ? String(line.dropFirst(first.count + 1)) : line
                    }
                }
                replies.append(SMTPReply(code, enhanced, body))
                lines = []
            }
        }
        if buffer.count > 64 * 1024 { throw ParseError.tooLong }
        return replies
    }
}
