import Foundation

/// Reading existing mail stores for import: mbox (RFC 4155, "From " separators with
/// ">From " quoting undone) and Maildir (files under cur/ and new/).
public enum MailboxReader {
    /// Splits an mbox file into messages (bytes, CRLF line ends).
    public static func mbox(_ data: [UInt8]) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var current: [UInt8] = []
        var started = false
        var lineStart = 0
        let from = Array("From ".utf8)
        /// By index: `Array.suffix(k) == literal` went through Sequence and walked the
        /// whole message for every line (quadratic).
        func endsWith(_ bytes: [UInt8], _ tail: [UInt8]) -> Bool {
            guard bytes.count >= tail.count else { return false }
            for (i, b) in tail.enumerated() where bytes[bytes.count - tail.count + i] != b { return false }
            return true
        }
        func finish() {
            if started {
                // The blank line before the next separator belongs to the mbox, not the message.
                while endsWith(current, [0x0D, 0x0A, 0x0D, 0x0A]) { current.removeLast(2) }
                messages.append(current)
            }
            current = []
        }
        while lineStart < data.count {
            var end = lineStart
            while end < data.count && data[end] != 0x0A { end += 1 }
            // A slice, appended in place: a copy per line made a file of blank lines
            // many times slower than one of text.
            let line = data[lineStart..<((end > lineStart && data[end - 1] == 0x0D) ? end - 1 : end)]
            lineStart = end + 1
            // A separator follows a blank line (or opens the file): an unquoted "From " in
            // a body, which some writers leave, does not split the message.
            if line.starts(with: from)
                && (!started || current.isEmpty || endsWith(current, [0x0D, 0x0A, 0x0D, 0x0A]) || current == [0x0D, 0x0A] || Self.isPostmark(line))
            {
                finish()
                started = true
                continue
            }
            guard started else { continue }
            // ">From ", ">>From " ...: one level of quoting is removed (mboxrd).
            if line.first == UInt8(ascii: ">"), line.drop(while: { $0 == UInt8(ascii: ">") }).starts(with: from) {
                current.append(contentsOf: line.dropFirst())
            } else {
                current.append(contentsOf: line)
            }
            current.append(0x0D)
            current.append(0x0A)
        }
        finish()
        return messages
    }

    /// "From sender Mon Jan  1 00:00:00 2024": a separator line written by a mail program
    /// (a time and a year), also when the writer left out the blank line before it.
    static func isPostmark<Line: Collection<UInt8>>(_ line: Line) -> Bool {
        let words = String(decoding: line, as: UTF8.self).split(separator: " ")
        guard words.count >= 6 else { return false }
        let hasTime = words.contains { w in
            let parts = w.split(separator: ":")
            return parts.count >= 2 && parts.count <= 3 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isNumber) }
        }
        let hasYear = words.contains { $0.count == 4 && $0.allSatisfy(\.isNumber) }
        return hasTime && hasYear
    }

    /// Message files of a Maildir, oldest first (by file name, which starts with the time).
    public static func maildirFiles(_ directory: String) -> [String] {
        var files: [String] = []
        for sub in ["cur", "new"] {
            let folder = (directory as NSString).appendingPathComponent(sub)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where !name.hasPrefix(".") {
                files.append((folder as NSString).appendingPathComponent(name))
            }
        }
        return files.sorted { ($0 as NSString).lastPathComponent < ($1 as NSString).lastPathComponent }
    }

    /// LF line ends to CRLF (Maildir files usually use LF).
    public static func crlf(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + data.count / 40)
        var previous: UInt8 = 0
        for byte in data {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            out.append(byte)
            previous = byte
        }
        return out
    }
}
