/// Bounds on what one message may make the parser build, whatever it contains. Past
/// each, the message is still stored whole and shown; what is past the limit is kept
/// as raw text (in the stored bytes and the enclosing part's body), and a warning
/// says so. docs/ARCHITECTURE.md ("Input boundaries") lists them.
public enum MessageLimits {
    /// MIME parts in one message (a real message has a handful, a big one dozens).
    public static let parts = 1000
    /// Nesting of multiparts and attached messages.
    public static let depth = 40
    /// Header fields in one header section.
    public static let headerFields = 1000
    /// Addresses taken from one address header (To, Cc, ...).
    public static let addressesPerField = 1000

    static let partsWarning = "more than \(parts) MIME parts; the rest are kept as raw text"
    static let headerFieldsWarning = "more than \(headerFields) header fields; the rest are kept only in the raw message"
}
