/// Decodes the DATA stream (RFC 5321 4.1.1.4, 4.5.2): finds the end only at
/// CRLF "." CRLF, removes dot-stuffing exactly, and records, rather than repairs,
/// anything a smuggling attack relies on: a bare LF or a bare CR is kept as content
/// and flagged, so the message is refused whole instead of being split differently
/// from how a downstream server would split it.
public struct DataDecoder: Sendable {
    public private(set) var body: [UInt8] = []
    public private(set) var sawBareLF = false
    public private(set) var sawBareCR = false
    public private(set) var sawLongLine = false
    public private(set) var exceededSize = false
    /// Octets received for the message after unstuffing, including any not kept.
    public private(set) var receivedSize = 0

    let maxSize: Int
    let maxLineContent: Int
    var lineLength = 0
    var firstDot = false
    var pendingCR = false

    public init(maxSize: Int, maxTextLine: Int) {
        self.maxSize = maxSize
        self.maxLineContent = max(1, maxTextLine - 2)
        body.reserveCapacity(min(maxSize, 64 * 1024))
    }

    /// Feeds bytes; returns how many were consumed and whether the terminator was seen.
    /// Bytes after the terminator are not consumed (they are the next command).
    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) -> (consumed: Int, finished: Bool) {
        var index = 0
        let count = bytes.count
        while index < count {
            if !pendingCR && lineLength > 0 {
                // Fast path: copy the run of ordinary bytes up to the next CR or LF.
                var end = index
                while end < count, bytes[end] != 0x0D, bytes[end] != 0x0A { end += 1 }
                if end > index {
                    let run = end - index
                    lineLength += run
                    if lineLength > maxLineContent { sawLongLine = true }
                    appendRun(UnsafeBufferPointer(rebasing: bytes[index..<end]))
                    index = end
                    continue
                }
            }
            let byte = bytes[index]
            index += 1
            if pendingCR {
                pendingCR = false
                if byte == 0x0A {
                    if firstDot && lineLength == 1 {
                        return (index, true)
                    }
                    append(0x0D)
                    append(0x0A)
                    lineLength = 0
                    firstDot = false
                    continue
                }
                sawBareCR = true
                content(0x0D)
            }
            if byte == 0x0D {
                pendingCR = true
                continue
            }
            if byte == 0x0A {
                sawBareLF = true
            }
            if lineLength == 0 && byte == UInt8(ascii: ".") {
                firstDot = true
                lineLength = 1
                continue
            }
            content(byte)
        }
        return (index, false)
    }

    @inline(__always)
    mutating func content(_ byte: UInt8) {
        lineLength += 1
        if lineLength > maxLineContent { sawLongLine = true }
        append(byte)
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        receivedSize += 1
        if receivedSize > maxSize {
            exceededSize = true
            return
        }
        body.append(byte)
    }

    mutating func appendRun(_ run: UnsafeBufferPointer<UInt8>) {
        let room = maxSize - receivedSize
        receivedSize += run.count
        if run.count <= room {
            body.append(contentsOf: run)
        } else {
            if room > 0 { body.append(contentsOf: UnsafeBufferPointer(rebasing: run[..<room])) }
            exceededSize = true
        }
    }

    /// The reply a finished message gets when it must be refused, or nil.
    public var refusal: SMTPReply? {
        if sawBareLF { return .bareLF }
        if sawBareCR { return .bareCR }
        if exceededSize { return .messageTooBig }
        if sawLongLine { return .textLineTooLong }
        return nil
    }
}

/// The same checks for BDAT chunks, which carry no dot-stuffing and no terminator:
/// the message arrives in counted chunks, but its lines must still end in CRLF.
public struct ChunkChecker: Sendable {
    public private(set) var sawBareLF = false
    public private(set) var sawBareCR = false
    public private(set) var sawLongLine = false
    let maxLineContent: Int
    var lineLength = 0
    var pendingCR = false

    public init(maxTextLine: Int) {
        self.maxLineContent = max(1, maxTextLine - 2)
    }

    public mutating func check(_ bytes: UnsafeBufferPointer<UInt8>) {
        for byte in bytes {
            if pendingCR {
                pendingCR = false
                if byte == 0x0A {
                    lineLength = 0
                    continue
                }
                sawBareCR = true
                lineLength += 1
            }
            if byte == 0x0D {
                pendingCR = true
                continue
            }
            if byte == 0x0A { sawBareLF = true }
            lineLength += 1
            if lineLength > maxLineContent { sawLongLine = true }
        }
    }

    /// A message may not end in the middle of a CRLF.
    public var refusal: SMTPReply? {
        if sawBareLF { return .bareLF }
        if sawBareCR || pendingCR { return .bareCR }
        if sawLongLine { return .textLineTooLong }
        return nil
    }
}
