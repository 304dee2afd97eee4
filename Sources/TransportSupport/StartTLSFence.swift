import NIOCore

/// Discards whatever a server sends after its answer to STARTTLS and before the TLS
/// handshake (RFC 3207 5, RFC 2595 3.1; the attack of CVE-2011-0411 turned around):
/// a man in the middle could otherwise have plaintext read as if it came inside TLS.
///
/// It sits first in the pipeline. `arm` is called before STARTTLS is written: from then
/// on the bytes up to the end of the server's answer pass, and everything after it is
/// dropped. `secure` inserts the TLS handler in front of it on the event loop, in the
/// same step that disarms it, so no byte read before the handler existed can pass.
public final class StartTLSFence: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    enum State {
        case open
        /// Passing the answer; `line` holds the current line's bytes so far (bounded).
        case armed(line: [UInt8])
        /// The answer is complete; anything more is pre-handshake injection.
        case dropping
    }

    /// Is this complete line (without CRLF) the last line of the answer to STARTTLS?
    var isFinalLine: @Sendable ([UInt8]) -> Bool
    var state = State.open
    /// Octets dropped, for the caller's log line.
    public private(set) var dropped = 0

    public init(isFinalLine: @escaping @Sendable ([UInt8]) -> Bool) {
        self.isFinalLine = isFinalLine
    }

    /// SMTP: a reply's last line has a space (or nothing) after the code.
    public static func smtp() -> StartTLSFence {
        StartTLSFence { line in line.count < 4 || line[3] != UInt8(ascii: "-") }
    }

    /// IMAP: the tagged answer ends it (the tag is set by `arm`).
    public static func imap() -> StartTLSFence {
        StartTLSFence { _ in false }
    }

    /// The last line of an IMAP answer tagged `tag`.
    public static func imapTagged(_ tag: String) -> @Sendable ([UInt8]) -> Bool {
        let prefix = Array((tag + " ").utf8)
        return { line in line.starts(with: prefix) }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .open:
            context.fireChannelRead(data)
        case .dropping:
            dropped += unwrapInboundIn(data).readableBytes
        case .armed(var line):
            var buffer = unwrapInboundIn(data)
            let bytes = buffer.readableBytesView
            var passUpTo = bytes.count
            var index = 0
            for byte in bytes {
                index += 1
                if byte == 0x0A {
                    if line.last == 0x0D { line.removeLast() }
                    if isFinalLine(line) {
                        passUpTo = index
                        state = .dropping
                        break
                    }
                    line = []
                } else if line.count < 4096 {
                    line.append(byte)
                }
            }
            if case .armed = state { state = .armed(line: line) }
            dropped += bytes.count - passUpTo
            if let pass = buffer.readSlice(length: passUpTo), pass.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(pass))
            }
        }
    }

    /// Called before the STARTTLS command is written.
    public static func arm(_ channel: Channel, isFinalLine: (@Sendable ([UInt8]) -> Bool)? = nil) async throws {
        try await channel.eventLoop.submit {
            let fence = try channel.pipeline.syncOperations.handler(type: StartTLSFence.self)
            if let isFinalLine { fence.isFinalLine = isFinalLine }
            fence.state = .armed(line: [])
            fence.dropped = 0
        }.get()
    }

    /// The answer the client took did not pass the armed fence: it was read before
    /// STARTTLS was sent (pre-handshake injection by a man in the middle).
    public struct AnswerNotFenced: Error, CustomStringConvertible {
        public var description: String { "the server's answer to STARTTLS arrived before STARTTLS was sent (injected); connection dropped" }
    }

    /// Puts `tls` in front of the fence and opens it, in one step on the event loop.
    /// Throws unless the answer the client consumed went through the armed fence (a
    /// forged answer read earlier from a buffer would otherwise start TLS with the
    /// attacker's next bytes waiting behind it). Returns how many octets were dropped.
    @discardableResult
    public static func secure(_ channel: Channel, with tls: @escaping @Sendable () throws -> ChannelHandler) async throws -> Int {
        try await channel.eventLoop.submit {
            let sync = channel.pipeline.syncOperations
            let fence = try sync.handler(type: StartTLSFence.self)
            guard case .dropping = fence.state else { throw AnswerNotFenced() }
            try sync.addHandler(try tls(), position: .first)
            let dropped = fence.dropped
            fence.state = .open
            return dropped
        }.get()
    }
}
