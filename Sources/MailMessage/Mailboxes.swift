import Foundation

/// Reading existing mail stores for import: mbox (RFC 4155, "From " separators with
/// ">From " quoting undone) and Maildir (files under cur/ and new/).
public enum MailboxReader {
    /// Splits an mbox file into messages (bytes, CRLF line ends).
    public static func mbox(_ data: [UInt8]) -> [[UInt8]] {
        data.withUnsafeBufferPointer { mbox($0) }
    }

    /// One pass over a raw buffer into one output buffer (at most two octets per input
    /// octet, plus a final CRLF), cut into messages at the end. Lines that cannot be
    /// separators or quoted ones (those not starting with "F" or ">") are copied by a tight
    /// loop that only turns LF into CRLF, so a file of empty lines (one line per octet)
    /// costs about what a file of text does.
    static func mbox(_ data: UnsafeBufferPointer<UInt8>) -> [[UInt8]] {
        guard let base = data.baseAddress, data.count > 0 else { return [] }
        let count = data.count
        let (capacity, overflow) = count.multipliedReportingOverflow(by: 2)
        guard !overflow, capacity < Int.max - 2 else { return [] }
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + 2)
        defer { out.deallocate() }
        let cr: UInt8 = 0x0D
        let lf: UInt8 = 0x0A
        let letterF: UInt8 = 0x46
        let quote: UInt8 = 0x3E
        var written = 0
        var messageStart = -1  // output offset of the current message; -1 before the first separator
        var messages: [Range<Int>] = []
        var i = 0  // always at a line start
        while i < count {
            let first = base[i]
            if messageStart < 0 && first != letterF {
                // Before the first separator: skipped.
                while i < count && base[i] != lf { i += 1 }
                i += 1
                continue
            }
            if first == letterF || first == quote {
                let end = lineFeed(base, from: i, count: count)
                let lineEnd = (end > i && base[end - 1] == cr) ? end - 1 : end
                var copyFrom = i
                i = end + 1
                // A separator follows a blank line (or opens the file): an unquoted "From " in
                // a body, which some writers leave, does not split the message.
                if first == letterF, startsWithFrom(base, copyFrom, lineEnd),
                    messageStart < 0 || written == messageStart
                        || endsWithBlankLine(out, from: messageStart, to: written)
                        || (written - messageStart == 2 && out[messageStart] == cr && out[messageStart + 1] == lf)
                        || isPostmark(UnsafeBufferPointer(start: base + copyFrom, count: lineEnd - copyFrom))
                {
                    // Two separators in a row enclose nothing: not a message to import.
                    if messageStart >= 0 && written > messageStart { messages.append(messageStart..<written) }
                    messageStart = written
                    continue
                }
                if messageStart < 0 { continue }
                // ">From ", ">>From " ...: one level of quoting is removed (mboxrd).
                if first == quote {
                    var k = copyFrom
                    while k < lineEnd && base[k] == quote { k += 1 }
                    if startsWithFrom(base, k, lineEnd) { copyFrom += 1 }
                }
                let length = lineEnd - copyFrom
                if length > 0 { (out + written).update(from: base + copyFrom, count: length) }
                written += length
                out[written] = cr
                out[written + 1] = lf
                written += 2
                continue
            }
            // Ordinary lines, until one starts with "F" or ">": a short line is scanned
            // in place, the rest of a longer one found by memchr and copied in one go.
            var previous: UInt8 = 0
            while i < count {
                if base[i] == lf {
                    // The line end (empty lines take only this branch, one octet each).
                    if previous != cr {
                        out[written] = cr
                        written += 1
                    }
                    out[written] = lf
                    written += 1
                    previous = lf
                    i += 1
                    if i < count && (base[i] == letterF || base[i] == quote) { break }
                    continue
                }
                let k = lineFeed(base, from: i, count: count)
                (out + written).update(from: base + i, count: k - i)
                written += k - i
                previous = base[k - 1]
                i = k
            }
            // The last line without a line end gets one (a CR alone becomes CRLF).
            if i == count && previous != lf {
                if previous != cr {
                    out[written] = cr
                    written += 1
                }
                out[written] = lf
                written += 1
            }
        }
        if messageStart >= 0 && written > messageStart { messages.append(messageStart..<written) }
        return messages.compactMap { range in
            // The blank line before the next separator belongs to the mbox, not the message.
            var end = range.upperBound
            while endsWithBlankLine(out, from: range.lowerBound, to: end) { end -= 2 }
            // Only an empty line between two separators: nothing to import either.
            if end - range.lowerBound == 2 && out[range.lowerBound] == cr { return nil }
            return Array(UnsafeBufferPointer(start: out + range.lowerBound, count: end - range.lowerBound))
        }
    }

    /// The offset of the next LF at or after `from` (or `count`): a short line is scanned
    /// in place, the rest of a longer one found by memchr.
    private static func lineFeed(_ base: UnsafePointer<UInt8>, from: Int, count: Int) -> Int {
        var k = from
        let near = min(count, from + 16)
        while k < near && base[k] != 0x0A { k += 1 }
        guard k == near && k < count else { return k }
        guard let found = memchr(base + k, 0x0A, count - k) else { return count }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    /// "\r\n\r\n" at the end of out[from..<to].
    private static func endsWithBlankLine(_ out: UnsafeMutablePointer<UInt8>, from: Int, to: Int) -> Bool {
        to - from >= 4 && out[to - 1] == 0x0A && out[to - 2] == 0x0D && out[to - 3] == 0x0A && out[to - 4] == 0x0D
    }

    private static func startsWithFrom(_ base: UnsafePointer<UInt8>, _ at: Int, _ end: Int) -> Bool {
        end - at >= 5 && base[at] == 0x46 && base[at + 1] == 0x72 && base[at + 2] == 0x6F
            && base[at + 3] == 0x6D && base[at + 4] == 0x20
    }

    /// "From sender Mon Jan  1 00:00:00 2024": a separator line written by a mail program
    /// (a time and a year), also when the writer left out the blank line before it.
    static func isPostmark(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        // One pass over the octets, no strings and no closures: it runs for every body
        // line that starts with "From " after a non-blank line.
        var words = 0
        var hasTime = false
        var hasYear = false
        var length = 0  // of the current word
        var digits = 0  // digits in the current group
        var groups = 0  // complete two-digit groups before a ':'
        var timeLike = true
        var index = 0
        while index <= line.count {
            // The end of the line ends the last word, as a space does.
            let byte: UInt8 = index < line.count ? line[index] : 0x20
            index += 1
            if byte == 0x20 {
                if length > 0 {
                    words += 1
                    if length == 4 && digits == 4 && groups == 0 && timeLike { hasYear = true }
                    if timeLike && groups >= 1 && groups <= 2 && digits == 2 { hasTime = true }
                }
                length = 0
                digits = 0
                groups = 0
                timeLike = true
                continue
            }
            length += 1
            if byte >= 0x30 && byte <= 0x39 {
                digits += 1
            } else if byte == 0x3A && digits == 2 {
                groups += 1
                digits = 0
            } else {
                timeLike = false
            }
        }
        return words >= 6 && hasTime && hasYear
    }

    static func isPostmark(_ line: [UInt8]) -> Bool {
        line.withUnsafeBufferPointer { isPostmark($0) }
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
