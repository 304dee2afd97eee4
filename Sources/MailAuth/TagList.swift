import MailMessage

/// RFC 6376 3.2 tag-value lists (DKIM-Signature, key records, ARC, DMARC records use
/// the same shape): `tag=value` separated by ";", white space and folds around both.
public struct TagList: Sendable {
    public struct SyntaxError: Error, CustomStringConvertible {
        public let description: String
    }

    public private(set) var tags: [(name: String, value: String)] = []

    public subscript(_ name: String) -> String? { tags.first { $0.name == name }?.value }

    /// Tag names are case-sensitive; a tag given twice is an error.
    public static func parse(_ text: String) throws -> TagList {
        var list = TagList()
        for part in text.split(separator: ";", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingCharacters(in: " \t\r\n")
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else { throw SyntaxError(description: "'\(trimmed.prefix(40))' is not tag=value") }
            let name = trimmed[..<eq].trimmingCharacters(in: " \t\r\n")
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: " \t\r\n")
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw SyntaxError(description: "'\(name.prefix(40))' is not a tag name")
            }
            guard list[name] == nil else { throw SyntaxError(description: "tag \(name)= given twice") }
            list.tags.append((name, value))
        }
        return list
    }
}

extension StringProtocol {
    /// Without any white space (base64 values may be folded anywhere).
    var withoutWhiteSpace: String { String(String.UnicodeScalarView(unicodeScalars.filter { $0 != " " && $0 != "\t" && $0 != "\r" && $0 != "\n" })) }
}
