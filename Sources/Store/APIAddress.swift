import NetAddress

/// The one door for addresses that come from the API or the CLI (reply to/cc/bcc/from,
/// contact and user emails): each must be exactly one RFC 5321 mailbox, as the SMTP
/// client will write it in MAIL/RCPT and the composer in a header. CR, LF, NUL and any
/// other control character are refused, never stripped: a value that carries them is
/// an attack or a bug, and either way the caller must hear about it.
public enum APIAddress {
    /// The address, lower-cased, or `RequestError.invalid` naming the field.
    public static func parse(_ text: String, field: String) throws -> String {
        let trimmed = Substring(text).drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()
        let candidate = String(trimmed)
        if candidate.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw RequestError.invalid("\(field): an address may not contain control characters (CR, LF, NUL...)")
        }
        guard !candidate.isEmpty else { throw RequestError.invalid("\(field): an address is required") }
        // What the SMTP client would refuse to write is refused here too (a quoted
        // local part with a space or an angle bracket is valid RFC 5321, but it would
        // only bounce later, or be rewritten in a header).
        guard candidate.utf8.count <= 254, !candidate.utf8.contains(where: { $0 == 0x20 || $0 == 0x3C || $0 == 0x3E || $0 == 0x2C }),
            let address = MailboxAddress.parse(Substring(candidate), utf8: true), !address.domain.hasPrefix("["),
            Self.domainFits(address.domain)
        else {
            throw RequestError.invalid("\(field): '\(candidate.prefix(100))' is not one mail address (local-part@domain)")
        }
        return address.description.lowercased()
    }

    /// RFC 1035 2.3.4: at most 253 octets, each label 1 to 63 (the address parser
    /// checks the characters, not the lengths).
    public static func domainFits(_ domain: String) -> Bool {
        domain.utf8.count <= 253 && domain.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { (1...63).contains($0.utf8.count) }
    }

    /// Each of a list, in order, without repeats.
    public static func parseList(_ texts: [String], field: String) throws -> [String] {
        var seen: Set<String> = []
        var out: [String] = []
        for text in texts {
            let address = try parse(text, field: field)
            if seen.insert(address).inserted { out.append(address) }
        }
        return out
    }
}
