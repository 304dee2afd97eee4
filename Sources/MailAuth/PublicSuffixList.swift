import Foundation

/// The public suffix list (Debian's `publicsuffix` package), for DMARC's organisational
/// domain: the public suffix plus one label (RFC 7489 3.2).
public struct PublicSuffixList: Sendable {
    var rules: Set<String> = []
    var wildcards: Set<String> = []
    var exceptions: Set<String> = []

    public static let debianPath = "/usr/share/publicsuffix/public_suffix_list.dat"

    /// Loaded once; without the file only the rule "*" applies (every TLD is a suffix).
    public static let shared: PublicSuffixList = {
        guard let text = try? String(contentsOfFile: debianPath, encoding: .utf8) else { return PublicSuffixList(text: "") }
        return PublicSuffixList(text: text)
    }()

    public var isEmpty: Bool { rules.isEmpty && wildcards.isEmpty }

    public init(text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let rule = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map { $0.lowercased() } ?? ""
            if rule.isEmpty || rule.hasPrefix("//") { continue }
            if rule.hasPrefix("!") {
                exceptions.insert(String(rule.dropFirst()))
            } else if rule.hasPrefix("*.") {
                wildcards.insert(String(rule.dropFirst(2)))
            } else {
                rules.insert(rule)
            }
        }
    }

    /// The public suffix of `domain` (lower case, no trailing dot).
    public func publicSuffix(_ domain: String) -> String {
        let name = DomainName.normalized(domain)
        // Each sender check asks this a few times: candidates are cut from the name at
        // its dots rather than joined from labels (a name with empty labels, or not
        // ASCII, takes the slow path).
        let utf8 = name.utf8
        // ASCII only: there a "." byte is a "." Character (a dot followed by a combining
        // mark is not, and the slow path splits on Characters).
        if !name.isEmpty, utf8.first != UInt8(ascii: "."), utf8.allSatisfy({ $0 < 0x80 }),
            !zip(utf8, utf8.dropFirst()).contains(where: { $0 == 0x2E && $1 == 0x2E })
        {
            var starts = [name.startIndex]
            for index in utf8.indices where utf8[index] == UInt8(ascii: ".") { starts.append(utf8.index(after: index)) }
            for (k, start) in starts.enumerated() {
                let candidate = String(name[start...])
                let parent = k + 1 < starts.count ? String(name[starts[k + 1]...]) : ""
                if exceptions.contains(candidate) { return parent }
                if rules.contains(candidate) { return candidate }
                if k + 1 < starts.count, wildcards.contains(parent) { return candidate }
            }
            return String(name[starts[starts.count - 1]...])
        }
        let labels = name.split(separator: ".").map(String.init)
        guard !labels.isEmpty else { return "" }
        // Longest match first: walk from the whole name down to the last label.
        for start in labels.indices {
            let candidate = labels[start...].joined(separator: ".")
            if exceptions.contains(candidate) { return labels[(start + 1)...].joined(separator: ".") }
            if rules.contains(candidate) { return candidate }
            if start + 1 < labels.count, wildcards.contains(labels[(start + 1)...].joined(separator: ".")) { return candidate }
        }
        return labels[labels.count - 1]
    }

    /// The organisational domain: the public suffix and one more label (the domain
    /// itself when it is a public suffix).
    public func organizationalDomain(_ domain: String) -> String {
        let name = DomainName.normalized(domain)
        let suffix = publicSuffix(name)
        guard name.count > suffix.count, name.hasSuffix("." + suffix) else { return name }
        let head = name.dropLast(suffix.count + 1)
        let last = head.split(separator: ".").last.map(String.init) ?? String(head)
        return last + "." + suffix
    }
}
