import Crypto
import Foundation
import _CryptoExtras

/// RFC 8601 DKIM results.
public enum DKIMResult: String, Sendable, Codable {
    case none, pass, fail, policy, neutral, temperror, permerror
}

/// One signature's verdict, with what a reader needs to judge it.
public struct DKIMSignatureOutcome: Sendable, Equatable, Codable {
    public var result: DKIMResult
    /// d= and s= (empty when the signature could not be parsed that far).
    public var domain: String
    public var selector: String
    public var algorithm: String
    /// i= (the agent or user identifier), when given.
    public var identity: String?
    /// Why, in a few words ("body hash did not verify", "key revoked", ...).
    public var reason: String
    /// The body length the signature covers (`l=`): content after it is not signed.
    public var bodyLength: Int?
    /// The first octets of b=, to tell signatures apart in Authentication-Results.
    public var signaturePrefix: String
}

/// RFC 6376 verification of every DKIM-Signature of a message: rsa-sha256 and
/// ed25519-sha256 (RFC 8463); rsa-sha1 and RSA keys under 1024 bits fail (RFC 8301).
public struct DKIMVerifier: Sendable {
    public let dns: DNSLookup
    public var now: @Sendable () -> Date = { Date() }
    /// At most this many signatures are checked (each costs a DNS query and a hash).
    public var maxSignatures = 8

    public init(dns: DNSLookup) { self.dns = dns }

    public func verify(_ message: [UInt8]) async -> [DKIMSignatureOutcome] {
        await verify(RawMessage(message))
    }

    func verify(_ parsed: RawMessage) async -> [DKIMSignatureOutcome] {
        var out: [DKIMSignatureOutcome] = []
        for field in parsed.fields where field.lowercasedName == "dkim-signature" {
            if out.count >= maxSignatures { break }
            out.append(await verify(field, in: parsed))
        }
        return out
    }

    /// With `arc`, the field is an ARC-Message-Signature (RFC 8617 4.1.2): no v=, and i=
    /// is the instance number rather than an identity.
    func verify(_ field: RawMessage.Field, in message: RawMessage, arc: Bool = false) async -> DKIMSignatureOutcome {
        var outcome = DKIMSignatureOutcome(result: .permerror, domain: "", selector: "", algorithm: "", identity: nil, reason: "", bodyLength: nil, signaturePrefix: "")
        func done(_ result: DKIMResult, _ reason: String) -> DKIMSignatureOutcome {
            outcome.result = result
            outcome.reason = reason
            return outcome
        }
        let tags: TagList
        do {
            tags = try TagList.parse(String(decoding: field.value, as: UTF8.self))
        } catch {
            return done(.permerror, "signature: \(error)")
        }
        // What the sender wrote goes into logs, the API and our header: printable ASCII
        // only (a folded d= must not start a new log line), and short.
        outcome.domain = Self.printable(tags["d"] ?? "").lowercased()
        outcome.selector = Self.printable(tags["s"] ?? "")
        outcome.algorithm = Self.printable(tags["a"] ?? "").lowercased()
        outcome.identity = arc ? nil : tags["i"].map(Self.printable)
        outcome.signaturePrefix = String((tags["b"] ?? "").withoutWhiteSpace.prefix(12))
        guard arc || tags["v"] == "1" else { return done(.permerror, "v= is not 1") }
        for required in ["a", "b", "bh", "d", "h", "s"] where (tags[required] ?? "").isEmpty {
            return done(.permerror, "\(required)= missing")
        }
        let signed = (tags["h"] ?? "").split(separator: ":").map { $0.trimmingCharacters(in: " \t\r\n").lowercased() }
        guard signed.contains("from") else { return done(.permerror, "h= does not sign From") }
        if let identity = outcome.identity {
            let idDomain = identity.split(separator: "@").last.map { $0.lowercased() } ?? ""
            guard idDomain == outcome.domain || idDomain.hasSuffix("." + outcome.domain) else {
                return done(.permerror, "i= is not in d=")
            }
        }
        let (headerCanon, bodyCanon): (Canonicalization, Canonicalization)
        do {
            let c = (tags["c"] ?? "simple/simple").lowercased().split(separator: "/", omittingEmptySubsequences: false)
            guard c.count <= 2, let h = Canonicalization(rawValue: String(c[0])),
                let b = Canonicalization(rawValue: c.count == 2 ? String(c[1]) : "simple")
            else { return done(.permerror, "unknown canonicalization c=\(tags["c"] ?? "")") }
            (headerCanon, bodyCanon) = (h, b)
        }
        // Before the body hash: an rsa-sha1 signature's bh= is a SHA-1 and would only
        // say "body hash did not verify".
        if let (result, reason) = Self.algorithmProblem(outcome.algorithm) { return done(result, reason) }
        let nowSeconds = Int(now().timeIntervalSince1970)
        if let x = tags["x"] {
            guard let expiry = Int(x.prefix(12)) else { return done(.permerror, "x= is not a number") }
            if let t = tags["t"].flatMap({ Int($0.prefix(12)) }), expiry < t { return done(.permerror, "x= is before t=") }
            if expiry < nowSeconds { return done(.fail, "signature expired") }
        }
        if let l = tags["l"] {
            guard l.count <= 18, let length = Int(l), length >= 0 else { return done(.permerror, "l= is not a length") }
            outcome.bodyLength = length
        }
        // The body hash.
        var body = bodyCanon.body(message.body)
        if let length = outcome.bodyLength {
            guard length <= body.count else { return done(.fail, "l=\(length) is longer than the body") }
            body = Array(body.prefix(length))
        }
        guard let bh = Data(base64Encoded: (tags["bh"] ?? "").withoutWhiteSpace) else { return done(.permerror, "bh= is not base64") }
        guard Data(SHA256.hash(data: body)) == bh else { return done(.fail, "body hash did not verify") }
        // The header hash: each name in h= takes the next instance from the bottom.
        var data: [UInt8] = []
        var used: [String: Int] = [:]
        for name in signed {
            let instances = message.fields.filter { $0.lowercasedName == name }
            let taken = used[name, default: 0]
            used[name] = taken + 1
            guard taken < instances.count else { continue }
            data += headerCanon.header(instances[instances.count - 1 - taken])
        }
        data += Self.withoutSignature(field, headerCanon)
        if let (result, reason) = await checkSignature(tags, outcome.identity, data) { return done(result, reason) }
        return done(.pass, outcome.bodyLength == nil ? "signature verified" : "signature verified; l=\(outcome.bodyLength ?? 0): content after that is not signed")
    }

    /// rsa-sha256 and ed25519-sha256 are verified; rsa-sha1 fails (RFC 8301).
    static func algorithmProblem(_ algorithm: String) -> (DKIMResult, String)? {
        switch algorithm {
        case "rsa-sha256", "ed25519-sha256": return nil
        case "rsa-sha1": return (.fail, "rsa-sha1 is not accepted (RFC 8301)")
        default: return (.permerror, "unknown algorithm \(algorithm)")
        }
    }

    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(255).filter { $0.value > 0x20 && $0.value < 0x7F }))
    }

    /// Fetches the key (s=, d=) and checks b= over `data`; nil when it verifies, else the
    /// result and reason. Shared by DKIM-Signature, ARC-Message-Signature and ARC-Seal.
    func checkSignature(_ tags: TagList, _ identity: String?, _ data: [UInt8]) async -> (DKIMResult, String)? {
        let domain = (tags["d"] ?? "").lowercased()
        let selector = tags["s"] ?? ""
        let algorithm = (tags["a"] ?? "").lowercased()
        if let problem = Self.algorithmProblem(algorithm) { return problem }
        let keyName = "\(selector)._domainkey.\(domain)"
        let records: [String]
        do {
            records = try await dns.txt(keyName)
        } catch {
            return (.temperror, "key \(keyName): \(error)")
        }
        guard let record = records.first else { return (.permerror, "no key at \(keyName)") }
        guard let key = try? TagList.parse(record) else { return (.permerror, "key at \(keyName) does not parse") }
        if let v = key["v"], v != "DKIM1" { return (.permerror, "key v= is not DKIM1") }
        let keyType = (key["k"] ?? "rsa").lowercased()
        guard algorithm.hasPrefix(keyType + "-") else { return (.permerror, "key type \(keyType) does not match a=\(algorithm)") }
        if let hashes = key["h"], !hashes.lowercased().split(separator: ":").map({ $0.trimmingCharacters(in: " \t") }).contains("sha256") {
            return (.permerror, "key does not allow sha256")
        }
        if let flags = key["t"]?.split(separator: ":").map({ $0.trimmingCharacters(in: " \t") }), flags.contains("s"), let identity,
            identity.split(separator: "@").last.map({ $0.lowercased() }) != domain
        {
            return (.permerror, "key is strict (t=s) and i= is a subdomain")
        }
        guard let p = key["p"]?.withoutWhiteSpace else { return (.permerror, "key has no p=") }
        guard !p.isEmpty else { return (.permerror, "key revoked (empty p=)") }
        guard let keyData = Data(base64Encoded: p) else { return (.permerror, "key p= is not base64") }
        guard let signature = Data(base64Encoded: (tags["b"] ?? "").withoutWhiteSpace) else { return (.permerror, "b= is not base64") }
        let digest = SHA256.hash(data: data)
        switch keyType {
        case "rsa":
            guard let publicKey = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: keyData) else {
                return (.fail, "RSA key unusable or shorter than 1024 bits (RFC 8301)")
            }
            guard publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: .insecurePKCS1v1_5) else {
                return (.fail, "signature did not verify")
            }
        case "ed25519":
            guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: keyData) else { return (.permerror, "Ed25519 key unusable") }
            guard publicKey.isValidSignature(signature, for: Data(digest)) else { return (.fail, "signature did not verify") }
        default:
            return (.permerror, "unknown key type \(keyType)")
        }
        return nil
    }

    /// The signature field canonicalised with b='s value emptied and no final CRLF
    /// (RFC 6376 3.7).
    static func withoutSignature(_ field: RawMessage.Field, _ canon: Canonicalization) -> [UInt8] {
        var raw = Array(field.raw)
        if let b = bTagValueRange(raw) { raw.removeSubrange(b) }
        let stripped = RawMessage(raw + [0x0D, 0x0A]).fields.first ?? field
        var out = canon.header(stripped)
        if out.count >= 2 && out[out.count - 2] == 0x0D && out[out.count - 1] == 0x0A { out.removeLast(2) }
        return out
    }

    /// The octets of the b= tag's value (not bh=) in a raw DKIM-Signature field.
    static func bTagValueRange(_ raw: [UInt8]) -> Range<Int>? {
        guard let colon = raw.firstIndex(of: 0x3A) else { return nil }
        var i = colon + 1
        while i < raw.count {
            // At a tag start: skip white space.
            while i < raw.count, raw[i] == 0x20 || raw[i] == 0x09 || raw[i] == 0x0D || raw[i] == 0x0A { i += 1 }
            let nameStart = i
            while i < raw.count, raw[i] != 0x3D, raw[i] != 0x3B { i += 1 }
            var nameEnd = i
            while nameEnd > nameStart, raw[nameEnd - 1] == 0x20 || raw[nameEnd - 1] == 0x09 || raw[nameEnd - 1] == 0x0D || raw[nameEnd - 1] == 0x0A { nameEnd -= 1 }
            let isB = nameEnd - nameStart == 1 && raw[nameStart] == 0x62
            guard i < raw.count, raw[i] == 0x3D else {
                i += 1
                continue
            }
            let valueStart = i + 1
            var valueEnd = valueStart
            while valueEnd < raw.count, raw[valueEnd] != 0x3B { valueEnd += 1 }
            if isB {
                // Keep a final CRLF of the field out of the range.
                var end = valueEnd
                while end > valueStart, raw[end - 1] == 0x0D || raw[end - 1] == 0x0A { end -= 1 }
                return valueStart..<end
            }
            i = valueEnd + 1
        }
        return nil
    }
}
