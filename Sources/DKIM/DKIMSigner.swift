import Crypto
import Foundation
import _CryptoExtras

/// DKIM signing (RFC 6376) with relaxed/relaxed canonicalization, rsa-sha256 or
/// ed25519-sha256 (RFC 8463). Keys live in files named `<domain>.<selector>.key` in
/// the DKIM folder: an RSA key in PEM, or an Ed25519 key as its 32-byte seed in base64.
public struct DKIMSigner: Sendable {
    public enum Key: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        /// The 32-byte seed (Curve25519 keys are not Sendable; the seed is).
        case ed25519(Data)

        var algorithm: String {
            switch self {
            case .rsa: return "rsa-sha256"
            case .ed25519: return "ed25519-sha256"
            }
        }
    }

    public var domain: String
    public var selector: String
    public var key: Key
    /// Further keys of the same domain (each its own selector), each adding its own
    /// signature: with an RSA and an Ed25519 key a message carries both signatures, as
    /// RFC 8463 section 5 recommends, so verifiers that know only RSA still verify it.
    public var additional: [DKIMSigner] = []

    /// Every key this signer signs with, as published in DNS: selector, the record's
    /// `k=` and its `p=` (what `postroom doctor` compares with the published record).
    public var publishedKeys: [(selector: String, k: String, p: String)] {
        let own: (selector: String, k: String, p: String)
        switch key {
        case .rsa(let rsa): own = (selector, "rsa", rsa.publicKey.derRepresentation.base64EncodedString())
        case .ed25519(let seed):
            let p = (try? Curve25519.Signing.PrivateKey(rawRepresentation: seed))?.publicKey.rawRepresentation.base64EncodedString() ?? ""
            own = (selector, "ed25519", p)
        }
        return [own] + additional.flatMap(\.publishedKeys)
    }

    /// `selector (algorithm)` of every key this signer signs with.
    public var keyNames: [String] {
        (["\(selector) (\(key.algorithm))"] + additional.flatMap(\.keyNames))
    }
    /// Header fields signed when present (lower-case).
    public var signedHeaders = ["from", "to", "cc", "reply-to", "subject", "date", "message-id", "in-reply-to", "references", "mime-version", "content-type", "auto-submitted"]

    public init(domain: String, selector: String, key: Key) {
        self.domain = domain.lowercased()
        self.selector = selector
        self.key = key
    }

    /// The message with a DKIM-Signature header first, one per key of the domain.
    public func sign(_ message: [UInt8], at time: Date = Date()) throws -> [UInt8] {
        var signed = try signOnce(message, at: time)
        for other in additional { signed = try other.signOnce(signed, at: time) }
        return signed
    }

    func signOnce(_ message: [UInt8], at time: Date) throws -> [UInt8] {
        let (headerFields, body) = Self.split(message)
        let bodyHash = Data(SHA256.hash(data: Self.relaxedBody(body))).base64EncodedString()
        var names: [String] = []
        var canonical = ""
        // Sign each present field once, bottom-most instance first (RFC 6376 5.4.2).
        for name in signedHeaders {
            if let field = headerFields.last(where: { $0.name.lowercased() == name }) {
                names.append(name)
                canonical += Self.relaxedHeader(field.name, field.value) + "\r\n"
            }
        }
        let value = "v=1; a=\(key.algorithm); c=relaxed/relaxed; d=\(domain); s=\(selector);\r\n\tt=\(Int(time.timeIntervalSince1970)); h=\(names.joined(separator: ":"));\r\n\tbh=\(bodyHash);\r\n\tb="
        canonical += Self.relaxedHeader("DKIM-Signature", value)
        let data = Data(canonical.utf8)
        let signature: Data
        switch key {
        case .rsa(let rsa):
            signature = try rsa.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation
        case .ed25519(let seed):
            signature = try Curve25519.Signing.PrivateKey(rawRepresentation: seed).signature(for: Data(SHA256.hash(data: data)))
        }
        let header = "DKIM-Signature: " + value + Self.fold(signature.base64EncodedString()) + "\r\n"
        return Array(header.utf8) + message
    }

    static func fold(_ base64: String) -> String {
        var out = ""
        var i = base64.startIndex
        while i < base64.endIndex {
            let end = base64.index(i, offsetBy: 72, limitedBy: base64.endIndex) ?? base64.endIndex
            if !out.isEmpty { out += "\r\n\t" }
            out += base64[i..<end]
            i = end
        }
        return out
    }

    /// Header fields (name, raw value with folding) and the body.
    static func split(_ message: [UInt8]) -> ([(name: String, value: String)], [UInt8]) {
        let text = String(decoding: message, as: UTF8.self)
        var fields: [(String, String)] = []
        var bodyStart = message.count
        var offset = 0
        for line in text.components(separatedBy: "\r\n") {
            let length = line.utf8.count + 2
            if line.isEmpty {
                bodyStart = min(message.count, offset + 2)
                break
            }
            if line.first == " " || line.first == "\t", !fields.isEmpty {
                fields[fields.count - 1].1 += "\r\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
            offset += length
        }
        return (fields, Array(message[bodyStart...]))
    }

    /// RFC 6376 3.4.2: lower-case name, unfolded value, runs of white space as one
    /// space, none around the colon or at the end.
    static func relaxedHeader(_ name: String, _ value: String) -> String {
        var v = value.replacingOccurrences(of: "\r\n", with: "")
        v = v.replacingOccurrences(of: "[ \t]+", with: " ", options: .regularExpression)
        v = v.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        return name.lowercased().trimmingCharacters(in: .whitespaces) + ":" + v
    }

    /// RFC 6376 3.4.4: white space runs as one space, none at line ends, no empty lines
    /// at the end, a final CRLF unless the body is empty.
    static func relaxedBody(_ body: [UInt8]) -> Data {
        var lines = String(decoding: body, as: UTF8.self).components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        lines = lines.map { line in
            line.replacingOccurrences(of: "[ \t]+", with: " ", options: .regularExpression).replacingOccurrences(of: " +\\z", with: "", options: .regularExpression)
        }
        while lines.last == "" { lines.removeLast() }
        if lines.isEmpty { return Data() }
        return Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    // MARK: keys

    public static func keyPath(folder: String, domain: String, selector: String) -> String {
        (folder as NSString).appendingPathComponent("\(domain.lowercased()).\(selector).key")
    }

    /// Writes a new key and returns the DNS TXT record to publish.
    public static func generate(folder: String, domain: String, selector: String, algorithm: String) throws -> (path: String, record: String) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = keyPath(folder: folder, domain: domain, selector: selector)
        let contents: String
        let record: String
        if algorithm == "ed25519" {
            let key = Curve25519.Signing.PrivateKey()
            contents = "ed25519:" + key.rawRepresentation.base64EncodedString() + "\n"
            record = "v=DKIM1; k=ed25519; p=" + key.publicKey.rawRepresentation.base64EncodedString()
        } else {
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            contents = key.pemRepresentation + "\n"
            record = "v=DKIM1; k=rsa; p=" + key.publicKey.derRepresentation.base64EncodedString()
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        return (path, zoneRecord(name: "\(selector)._domainkey.\(domain.lowercased()).", text: record))
    }

    /// A TXT record as a zone file line: one character-string holds at most 255 bytes
    /// (RFC 1035 3.3), and a 2048-bit RSA key's record is about 400, so longer text is
    /// split into several strings in parentheses, which resolvers join back (RFC 6376
    /// 3.6.2.2). BIND, NSD and the hosted DNS editors take this form.
    public static func zoneRecord(name: String, text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > 255 else { return "\(name) IN TXT \"\(text)\"" }
        var strings: [String] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + 255, bytes.count)
            strings.append("\"" + String(decoding: bytes[start..<end], as: UTF8.self) + "\"")
            start = end
        }
        return "\(name) IN TXT ( " + strings.joined(separator: "\n    ") + " )"
    }

    /// Loads every `<domain>.<selector>.key` in the folder.
    public static func load(folder: String) throws -> [String: DKIMSigner] {
        var signers: [String: DKIMSigner] = [:]
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() where file.hasSuffix(".key") {
            let stem = String(file.dropLast(4))
            guard let dot = stem.lastIndex(of: ".") else { continue }
            let domain = String(stem[..<dot]), selector = String(stem[stem.index(after: dot)...])
            let text = try String(contentsOfFile: (folder as NSString).appendingPathComponent(file), encoding: .utf8)
            let key: Key
            if text.hasPrefix("ed25519:") {
                guard let seed = Data(base64Encoded: text.dropFirst(8).trimmingCharacters(in: .whitespacesAndNewlines)) else { continue }
                _ = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)  // validates the seed
                key = .ed25519(seed)
            } else {
                key = .rsa(try _RSA.Signing.PrivateKey(pemRepresentation: text))
            }
            let signer = DKIMSigner(domain: domain, selector: selector, key: key)
            if signers[domain.lowercased()] != nil {
                signers[domain.lowercased()]?.additional.append(signer)
            } else {
                signers[domain.lowercased()] = signer
            }
        }
        return signers
    }
}
