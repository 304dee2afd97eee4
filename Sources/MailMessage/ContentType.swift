/// A Content-Type or Content-Disposition value: the main value and its parameters,
/// with RFC 2231 continuations, charsets and languages resolved, and RFC 2047 words in
/// quoted values decoded (not standard, but what many mailers send for file names).
public struct HeaderValueWithParameters: Sendable, Equatable {
    /// Lower-cased main value, e.g. "text/plain" or "attachment".
    public var value: String
    /// Lower-cased parameter names to decoded values.
    public var parameters: [String: String]

    public init(value: String, parameters: [String: String] = [:]) {
        self.value = value
        self.parameters = parameters
    }

    public subscript(_ name: String) -> String? { parameters[name] }

    public var type: String { String(value.split(separator: "/").first ?? "") }
    public var subtype: String { value.split(separator: "/").count > 1 ? String(value.split(separator: "/")[1]) : "" }

    public static func parse(_ raw: [UInt8]) -> HeaderValueWithParameters {
        let text = Charset.headerText(raw)
        var scanner = Substring(text)
        let main = readToken(&scanner, stopAt: ";").trimmingCharacters(in: " \t\"").lowercased()
        var simple: [String: String] = [:]
        // name -> [(section, encoded, value)]
        var sections: [String: [(Int, Bool, String)]] = [:]
        var extended: [String: String] = [:]
        while !scanner.isEmpty {
            guard scanner.first == ";" else {
                scanner.removeFirst()
                continue
            }
            scanner.removeFirst()
            skipSpace(&scanner)
            // One scan to whichever comes first: searching for "=" to the end of the
            // value after every ";" was quadratic (`; a` repeated without "=").
            guard let equals = scanner.firstIndex(where: { $0 == "=" || $0 == ";" }), scanner[equals] == "=" else {
                _ = readToken(&scanner, stopAt: ";")
                continue
            }
            let name = String(scanner[..<equals].filter { !$0.isWhitespace }).lowercased()
            scanner = scanner[scanner.index(after: equals)...]
            skipSpace(&scanner)
            let value: String
            if scanner.first == "\"" {
                value = readQuoted(&scanner)
                _ = readToken(&scanner, stopAt: ";")
            } else {
                value = readToken(&scanner, stopAt: ";").trimmingCharacters(in: " \t")
            }
            guard !name.isEmpty else { continue }
            // RFC 2231: name*0, name*0*, name*
            if let star = name.firstIndex(of: "*") {
                let base = String(name[..<star])
                let rest = name[name.index(after: star)...]
                if rest.isEmpty {
                    extended[base] = value
                } else {
                    let encoded = rest.hasSuffix("*")
                    let number = Int(encoded ? rest.dropLast() : rest) ?? 0
                    sections[base, default: []].append((number, encoded, value))
                }
            } else {
                simple[name] = value
            }
        }
        var parameters: [String: String] = [:]
        for (name, value) in simple {
            parameters[name] = value.contains("=?") ? EncodedWords.decode(Array(value.utf8)) : value
        }
        for (name, value) in extended {
            parameters[name] = decode2231(value, charsetFromValue: true).text
        }
        for (name, parts) in sections {
            let ordered = parts.sorted { $0.0 < $1.0 }
            var bytes: [UInt8] = []
            var charset: String?
            for (index, part) in ordered.enumerated() {
                if part.1 {
                    let decoded = decode2231(part.2, charsetFromValue: index == 0)
                    if index == 0 { charset = decoded.charset }
                    bytes += decoded.bytes
                } else {
                    bytes += Array(part.2.utf8)
                }
            }
            parameters[name] = Charset.decode(bytes, charset: charset ?? "utf-8").text
        }
        return HeaderValueWithParameters(value: main, parameters: parameters)
    }

    /// `charset'language'percent-encoded`.
    static func decode2231(_ value: String, charsetFromValue: Bool) -> (charset: String?, bytes: [UInt8], text: String) {
        var charset: String?
        var encoded = Substring(value)
        if charsetFromValue {
            let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
            if pieces.count == 3 {
                charset = pieces[0].isEmpty ? nil : String(pieces[0])
                encoded = pieces[2]
            }
        }
        var bytes: [UInt8] = []
        let utf8 = Array(encoded.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "%"), i + 2 < utf8.count,
                let h = TransferEncoding.hexValue(utf8[i + 1]), let l = TransferEncoding.hexValue(utf8[i + 2])
            {
                bytes.append(h << 4 | l)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return (charset, bytes, Charset.decode(bytes, charset: charset ?? "utf-8").text)
    }

    static func skipSpace(_ s: inout Substring) {
        while let c = s.first, c.isWhitespace { s.removeFirst() }
    }

    /// Reads up to `stopAt` (not consumed), skipping (comments).
    static func readToken(_ s: inout Substring, stopAt: Character) -> String {
        var out = ""
        var depth = 0
        while let c = s.first, depth > 0 || c != stopAt {
            s.removeFirst()
            if c == "(" { depth += 1; continue }
            if c == ")" && depth > 0 { depth -= 1; continue }
            if depth == 0 { out.append(c) }
        }
        return out
    }

    static func readQuoted(_ s: inout Substring) -> String {
        s.removeFirst()
        var out = ""
        while let c = s.first {
            s.removeFirst()
            if c == "\\", let next = s.first {
                s.removeFirst()
                out.append(next)
                continue
            }
            if c == "\"" { break }
            out.append(c)
        }
        return out
    }
}
