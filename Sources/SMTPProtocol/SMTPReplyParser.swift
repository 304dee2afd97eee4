/// Client side: turns the bytes a server sends into replies (multi-line replies
/// joined), for the SMTP client.
public struct SMTPReplyParser: Sendable {
    var buffer: [UInt8] = []
    var lines: [String] = []

    public init() {}

    public enum ParseError: Error, Equatable { case malformed(String), tooLong, tooManyLines }

    /// A reply line (RFC 5321 4.5.3.1.5 says 512 octets; servers write longer ones).
    public static let maxLineLength = 4096
    /// Lines in one multi-line reply: EHLO lists a dozen or two.
    public static let maxLines = 256

    /// Octets received but not yet part of a complete reply.
    public var bufferedCount: Int { buffer.count + lines.count }

    /// Feeds bytes; returns every complete reply.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws -> [SMTPReply] {
        buffer.append(contentsOf: bytes)
        var replies: [SMTPReply] = []
        var start = 0  // consumed prefix, removed once at the end (linear in the input)
        defer { buffer.removeFirst(min(start, buffer.count)) }
        while let lf = buffer[start...].firstIndex(of: 0x0A) {
            var line = Array(buffer[start..<lf])
            start = lf + 1
            if line.last == 0x0D { line.removeLast() }
            guard line.count <= Self.maxLineLength else { throw ParseError.tooLong }
            let text = String(decoding: line, as: UTF8.self)
            guard line.count >= 3, line[0..<3].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let code = Int(text.prefix(3)), (200...599).contains(code)
            else { throw ParseError.malformed(String(text.prefix(100))) }
            let more = line.count > 3 && line[3] == UInt8(ascii: "-")
            let rest = line.count > 4 ? String(decoding: line[4...], as: UTF8.self) : ""
            lines.append(rest)
            guard lines.count <= Self.maxLines else { throw ParseError.tooManyLines }
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
        if buffer.count - start > Self.maxLineLength { throw ParseError.tooLong }
        return replies
    }
}
