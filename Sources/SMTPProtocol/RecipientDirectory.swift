import NetAddress
/// A snapshot of the addresses Postroom owns, consulted for every RCPT TO. It is a
/// plain value so the session state machine stays pure; the server swaps in a fresh
/// snapshot when inboxes change.
public struct RecipientDirectory: Sendable, Equatable {
    /// canonical `local@domain` (lower-cased) → inbox id
    public var addresses: [String: Int64]
    /// lower-cased domains that at least one address lives at
    public var domains: Set<String>
    /// Where `postmaster` (RFC 5321 4.5.1) goes; nil when no inbox exists.
    public var postmasterInbox: Int64?

    public init(addresses: [String: Int64] = [:], postmasterInbox: Int64? = nil) {
        self.addresses = addresses
        self.domains = Set(addresses.keys.compactMap { $0.split(separator: "@").last.map(String.init) })
        self.postmasterInbox = postmasterInbox ?? addresses.values.min()
    }

    public enum Resolution: Sendable, Equatable {
        case accept(inboxID: Int64, canonical: String, tag: String?)
        case unknownUser
        case relayDenied
    }

    /// Exact address first, then `local+tag@domain` → `local@domain` keeping the tag.
    public func resolve(_ address: MailboxAddress) -> Resolution {
        let domain = address.domain.lowercased()
        let local = address.localPart.lowercased()
        if local == "postmaster" && (domain.isEmpty || domains.contains(domain)) {
            let canonical = domain.isEmpty ? "postmaster" : "postmaster@\(domain)"
            if let inbox = addresses[canonical] ?? postmasterInbox {
                return .accept(inboxID: inbox, canonical: canonical, tag: nil)
            }
        }
        if domain.isEmpty { return .unknownUser }
        guard domains.contains(domain) else { return .relayDenied }
        let exact = "\(local)@\(domain)"
        if let inbox = addresses[exact] {
            return .accept(inboxID: inbox, canonical: exact, tag: nil)
        }
        if let plus = local.firstIndex(of: "+"), plus != local.startIndex {
            let base = "\(local[..<plus])@\(domain)"
            if let inbox = addresses[base] {
                // Keep the tag as the client wrote it (case may matter to the sender).
                let originalLocal = address.localPart
                let originalPlus = originalLocal.firstIndex(of: "+")!
                let tag = String(originalLocal[originalLocal.index(after: originalPlus)...])
                return .accept(inboxID: inbox, canonical: base, tag: tag)
            }
        }
        return .unknownUser
    }
}
