import NetAddress

/// The DNS questions sender authentication asks. The checks are pure evaluation over
/// this protocol: the server answers it from the configured resolver with a TTL cache,
/// tests from zone data.
///
/// An empty answer means "no such records" (NXDOMAIN or no data: both are void lookups
/// for SPF); a thrown `DNSLookupFailure` means the answer could not be had (timeout,
/// SERVFAIL), which SPF, DKIM and DMARC report as temperror.
public protocol DNSLookup: Sendable {
    /// Each TXT record's character-strings concatenated (RFC 7208 3.3, RFC 6376 3.6.2.2).
    func txt(_ name: String) async throws(DNSLookupFailure) -> [String]
    func a(_ name: String) async throws(DNSLookupFailure) -> [IPAddress]
    func aaaa(_ name: String) async throws(DNSLookupFailure) -> [IPAddress]
    /// Mail exchangers by preference (host names).
    func mx(_ name: String) async throws(DNSLookupFailure) -> [String]
    /// Names of an address (reverse lookup).
    func ptr(_ address: IPAddress) async throws(DNSLookupFailure) -> [String]
}

public struct DNSLookupFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension DNSLookup {
    /// A or AAAA, matching the family of `address`.
    func addresses(_ name: String, like address: IPAddress) async throws(DNSLookupFailure) -> [IPAddress] {
        address.isV4 ? try await a(name) : try await aaaa(name)
    }
}

/// Domain names as the checks compare them: lower case, no trailing dot.
enum DomainName {
    static func normalized(_ name: some StringProtocol) -> String {
        var n = name.lowercased()
        while n.hasSuffix(".") { n.removeLast() }
        return n
    }

    /// RFC 7208 4.3 / RFC 1035: labels of 1-63 octets, at most 253 in all, at least two
    /// labels, not an address literal.
    static func isValid(_ name: String) -> Bool {
        let n = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !n.isEmpty, n.utf8.count <= 253, !n.hasPrefix("[") else { return false }
        let labels = n.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { !$0.isEmpty && $0.utf8.count <= 63 }
    }
}
