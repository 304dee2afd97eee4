/// An RFC 5321 mailbox as it appears in MAIL FROM / RCPT TO: `local-part@domain`.
/// The local part keeps its case and quoting as sent; comparisons for delivery use
/// `canonical`, because mail systems treat local parts case-insensitively in practice.
public struct MailboxAddress: Sendable, Hashable, CustomStringConvertible {
    public var localPart: String
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    public var description: String { "\(localPart)@\(domain)" }

    /// Lower-cased `local@domain`, the key used to look up inbox addresses.
    public var canonical: String { "\(localPart.lowercased())@\(domain.lowercased())" }

    public var isASCII: Bool { description.utf8.allSatisfy { $0 < 0x80 } }

    /// Parses `local@domain` (no angle brackets). Accepts dot-atoms, quoted local parts,
    /// domain names and address literals; UTF-8 is allowed when `utf8` is set (SMTPUTF8).
    public static func parse(_ text: Substring, utf8: Bool = true) -> MailboxAddress? {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let local = text[..<at]
        let domain = text[text.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty, local.utf8.count <= 64, domain.utf8.count <= 255
        else { return nil }
        guard isValidLocalPart(local, utf8: utf8), isValidDomain(domain, utf8: utf8) else {
            return nil
        }
        return MailboxAddress(localPart: String(local), domain: String(domain))
    }

    static func isValidLocalPart(_ local: Substring, utf8: Bool) -> Bool {
        if local.first == "\"" {
            guard local.count >= 2, local.last == "\"" else { return false }
            var escaped = false
            for byte in local.utf8.dropFirst().dropLast() {
                if escaped { escaped = false; continue }
                if byte == UInt8(ascii: "\\") { escaped = true; continue }
                if byte == UInt8(ascii: "\"") || byte < 0x20 || byte == 0x7F { return false }
                if byte >= 0x80 && !utf8 { return false }
            }
            return !escaped
        }
        // dot-atom: atoms separated by single dots, no leading or trailing dot
        var previousDot = true
        for byte in local.utf8 {
            if byte == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
                continue
            }
            previousDot = false
            if byte >= 0x80 {
                if !utf8 { return false }
                continue
            }
            if !isAtext(byte) { return false }
        }
        return !previousDot
    }

    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    static func isValidDomain(_ domain: Substring, utf8: Bool) -> Bool {
        if domain.first == "[" {
            return domain.last == "]" && domain.count > 2
                && domain.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }
        }
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for byte in domain.utf8 {
            if byte == UInt8(ascii: ".") {
                if labelLength == 0 || previous == UInt8(ascii: "-") { return false }
                labelLength = 0
                previous = byte
                continue
            }
            let ok: Bool
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                ok = true
            case UInt8(ascii: "-"):
                ok = labelLength > 0
            default:
                ok = byte >= 0x80 && utf8
            }
            if !ok { return false }
            labelLength += 1
            if labelLength > 63 { return false }
            previous = byte
        }
        return labelLength > 0 && previous != UInt8(ascii: "-")
    }
}

/// MAIL FROM's argument: a mailbox, or the null path `<>` used by bounces.
public enum ReversePath: Sendable, Hashable, CustomStringConvertible {
    case null
    case mailbox(MailboxAddress)

    public var description: String {
        switch self {
        case .null: return ""
        case .mailbox(let address): return address.description
        }
    }
}
