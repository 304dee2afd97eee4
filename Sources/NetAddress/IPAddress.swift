/// An IPv4 or IPv6 address parsed from text, never guessed from a prefix of a name
/// (`127.attacker.example` is a name). One parser for the IMAP loopback rule, the outbound
/// internal-address guard and SPF's ip4/ip6 mechanisms and macros.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 octets for IPv4, 16 for IPv6.
    public let octets: [UInt8]

    public var isV4: Bool { octets.count == 4 }

    public init?(octets: [UInt8]) {
        guard octets.count == 4 || octets.count == 16 else { return nil }
        self.octets = octets
    }

    /// Dotted-quad IPv4 (four decimal octets 0-255, no shorthand forms) or IPv6 in any
    /// RFC 4291 text form (with `::`, an embedded IPv4 tail, brackets, a zone id).
    public init?(_ text: some StringProtocol) {
        if let v4 = Self.ipv4(Substring(text)) {
            octets = v4
        } else if let v6 = Self.ipv6(Substring(text)) {
            octets = v6.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        } else {
            return nil
        }
    }

    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it carries.
    public var unmapped: IPAddress {
        guard octets.count == 16, octets[0..<10].allSatisfy({ $0 == 0 }), octets[10] == 0xFF, octets[11] == 0xFF,
            let v4 = IPAddress(octets: Array(octets[12..<16]))
        else { return self }
        return v4
    }

    public var isLoopback: Bool {
        let a = unmapped
        if a.isV4 { return a.octets[0] == 127 }
        return a.octets[0..<15].allSatisfy { $0 == 0 } && a.octets[15] == 1
    }

    /// Loopback, private (RFC 1918), CGNAT, link-local, unspecified, multicast, reserved,
    /// IPv6 ULA and link-local: addresses a stranger's DNS must not send us to.
    public var isInternal: Bool {
        let a = unmapped
        let o = a.octets
        if a.isV4 {
            switch (o[0], o[1]) {
            case (0, _), (10, _), (127, _), (169, 254), (192, 168): return true
            case (172, 16...31), (100, 64...127): return true
            default: return o[0] >= 224
            }
        }
        if o.allSatisfy({ $0 == 0 }) || isLoopback { return true }
        if o[0] & 0xFE == 0xFC { return true }  // fc00::/7
        if o[0] == 0xFE && o[1] & 0xC0 == 0x80 { return true }  // fe80::/10
        return o[0] == 0xFF  // multicast
    }

    /// Whether this address is in `network`/`prefixLength` (CIDR). Families must match;
    /// a prefix longer than the family's bits never matches.
    public func isIn(_ network: IPAddress, prefixLength: Int) -> Bool {
        guard octets.count == network.octets.count, prefixLength >= 0, prefixLength <= octets.count * 8 else { return false }
        var bits = prefixLength
        var i = 0
        while bits >= 8 {
            if octets[i] != network.octets[i] { return false }
            bits -= 8
            i += 1
        }
        guard bits > 0 else { return true }
        let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
        return octets[i] & mask == network.octets[i] & mask
    }

    /// Dotted quad, or RFC 5952 IPv6 text (lower case, the longest run of zero groups
    /// as `::`).
    public var description: String {
        if isV4 { return octets.map(String.init).joined(separator: ".") }
        let groups = (0..<8).map { UInt16(octets[2 * $0]) << 8 | UInt16(octets[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (i, g) in groups.enumerated() {
            if g == 0 {
                run = run.start < 0 ? (i, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[0..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// Reverse-lookup style: IPv4 octets, or IPv6 nibbles, dot-separated (RFC 7208 7.3
    /// `%{i}`), in forward order.
    public var dottedForm: String {
        if isV4 { return description }
        return octets.flatMap { [String($0 >> 4, radix: 16), String($0 & 0xF, radix: 16)] }.joined(separator: ".")
    }

    /// The name a PTR question asks: `4.3.2.1.in-addr.arpa` or the reversed nibbles
    /// under `ip6.arpa` (RFC 1035 3.5, RFC 3596 2.5).
    public var reverseLookupName: String {
        if isV4 { return octets.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa" }
        return dottedForm.split(separator: ".").reversed().joined(separator: ".") + ".ip6.arpa"
    }

    static func ipv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = UInt8(part) else { return nil }
            octets.append(n)
        }
        return octets
    }

    static func ipv6(_ raw: Substring) -> [UInt16]? {
        var text = raw
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id
        guard text.contains(":" as Character), text.utf8.count <= 45 else { return nil }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if i == parts.count - 1, part.contains("." as Character), let v4 = ipv4(part) {
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard (1...4).contains(part.utf8.count), part.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }),
                    let n = UInt16(part, radix: 16)
                else { return nil }
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
