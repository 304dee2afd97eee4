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
        if host.lowercased() == "localhost" { return true }
        if let v4 = ipv4(host) { return v4.0 == 127 }
        if let v6 = ipv6(host) { return v6 == [0, 0, 0, 0, 0, 0, 0, 1] }
        return false
    }

    /// Whether a peer's numeric address (as the socket reports it) is loopback.
    public static func isLoopbackAddress(_ ip: String) -> Bool {
        if let v4 = ipv4(ip) { return v4.0 == 127 }
        if let v6 = ipv6(ip) {
            if v6 == [0, 0, 0, 0, 0, 0, 0, 1] { return true }
            // IPv4-mapped ::ffff:127.x.y.z
            if v6[0..<5].allSatisfy({ $0 == 0 }) && v6[5] == 0xFFFF { return v6[6] >> 8 == 127 }
        }
        return false
    }

    /// An IPv4 or IPv6 address rather than a name (TLS SNI may carry only names).
    public static func isAddressLiteral(_ host: String) -> Bool {
        ipv4(host) != nil || ipv6(host) != nil
    }

    public static func isValidPort(_ port: Int) -> Bool { (1...65535).contains(port) }

    public static func isValidPasswordEnv(_ name: String) -> Bool {
        name.hasPrefix(passwordEnvPrefix) && name.utf8.count > passwordEnvPrefix.utf8.count && name.utf8.count <= 128
            && name.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// Dotted-quad IPv4, four decimal octets 0-255 (no shorthand forms).
    static func ipv4(_ text: String) -> (UInt8, UInt8, UInt8, UInt8)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = UInt8(part) else { return nil }
            octets.append(n)
        }
        return (octets[0], octets[1], octets[2], octets[3])
    }

    /// IPv6 in any RFC 4291 text form (with `::`, an embedded IPv4 tail, or brackets).
    static func ipv6(_ raw: String) -> [UInt16]? {
        var text = Substring(raw)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id
        guard text.contains(":"), text.utf8.count <= 45 else { return nil }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if i == parts.count - 1, part.contains("."), let v4 = ipv4(String(part)) {
                    out.append(UInt16(v4.0) << 8 | UInt16(v4.1))
                    out.append(UInt16(v4.2) << 8 | UInt16(v4.3))
                    continue
                }
                guard (1...4).contains(part.utf8.count), let n = UInt16(part, radix: 16) else { return nil }
                out.append(n)
            }
            return out
        }
        let chars = Array(text.utf8)
        var gap: Int?
        for i in 0..<(chars.count - 1) where chars[i] == 0x3A && chars[i + 1] == 0x3A {
            guard gap == nil || gap == i - 1 else { return nil }  // one "::" at most
            if gap == nil { gap = i }
        }
        guard let at = gap else {
            guard let all = groups(text), all.count == 8 else { return nil }
            return all
        }
        let headText = Substring(String(decoding: chars[0..<at], as: UTF8.self))
        let tailText = Substring(String(decoding: chars[(at + 2)...], as: UTF8.self))
        guard !tailText.hasPrefix(":"), let head = groups(headText), let tail = groups(tailText), head.count + tail.count <= 7 else {
            return nil
        }
        return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}
