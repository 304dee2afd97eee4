/// Every bound a session enforces. Each has a config key (see Settings) and a reply.
public struct SMTPLimits: Sendable, Equatable {
    /// Octets in a command line including CRLF (RFC 5321 4.5.3.1.4: 512).
    public var commandLineLength = 512
    /// Octets in a text line of the message including CRLF (RFC 5321 4.5.3.1.6: 1000).
    public var textLineLength = 1000
    /// Octets in a message as received (SIZE).
    public var messageSize = 25 * 1024 * 1024
    /// RCPT commands accepted per transaction (RFC 5321 4.5.3.1.8: at least 100).
    public var recipients = 100
    /// Failed commands before the session is closed with 421.
    public var errors = 10

    public init() {}
}
