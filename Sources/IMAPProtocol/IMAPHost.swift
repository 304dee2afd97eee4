import NetAddress

/// Plain IMAP (no TLS) is allowed only to the local machine: one rule for the client,
/// the mailbox settings and the poller. Decided on parsed addresses, never on a prefix
/// (`127.attacker.example` is a name, not a loopback address); the client checks the
/// address it actually connected to as well, so a name cannot resolve its way around it.
public enum IMAPHost {
    /// Environment variables a mailbox may name for its password. Anything else (the
    /// relay password, a cloud credential) is refused, so a mailbox cannot lend another
    /// of the server's secrets to an IMAP server of its choosing.
    public static let passwordEnvPrefix = "POSTROOM_MAILBOX_"

    public static func isLoopback(_ host: String) -> Bool {
        host.lowercased() == "localhost" || IPAddress(host)?.isLoopback == true
    }

    /// Whether a peer's numeric address (as the socket reports it) is loopback,
    /// IPv4-mapped forms included.
    public static func isLoopbackAddress(_ ip: String) -> Bool {
        IPAddress(ip)?.isLoopback == true
    }

    /// An IPv4 or IPv6 address rather than a name (TLS SNI may carry only names).
    public static func isAddressLiteral(_ host: String) -> Bool {
        IPAddress(host) != nil
    }

    public static func isValidPort(_ port: Int) -> Bool { (1...65535).contains(port) }

    public static func isValidPasswordEnv(_ name: String) -> Bool {
        name.hasPrefix(passwordEnvPrefix) && name.utf8.count > passwordEnvPrefix.utf8.count && name.utf8.count <= 128
            && name.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}
