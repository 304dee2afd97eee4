/// Plain IMAP (no TLS) is allowed only to the local machine: one rule for the client,
/// the mailbox settings and the poller.
public enum IMAPHost {
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    /// An IPv4 or IPv6 address rather than a name (TLS SNI may carry only names).
    public static func isAddressLiteral(_ host: String) -> Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0.isNumber || $0 == "." })
    }
}
