/// Plain IMAP (no TLS) is allowed only to the local machine: one rule for the client,
/// the mailbox settings and the poller.
public enum IMAPHost {
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }
}
