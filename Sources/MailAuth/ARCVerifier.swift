/// RFC 8617 chain results.
public enum ARCResult: String, Sendable, Codable {
    case none, pass, fail
}

public struct ARCOutcome: Sendable, Equatable, Codable {
    public var result: ARCResult
    /// How many ARC sets (hops that sealed the message).
    public var instances: Int
    /// d= of each ARC-Seal, oldest first: the forwarders the chain names.
    public var sealers: [String]
    /// What the first sealer recorded about the message as it reached it
    /// (ARC-Authentication-Results i=1), e.g. "dmarc=pass".
    public var firstHopResults: String?
    public var reason: String

    /// The first hop recorded a DMARC pass and the chain holds: a forwarded message that
    /// may be treated as authenticated, credited to `sealers.first`.
    public var firstHopDMARCPass: Bool {
        guard result == .pass, let text = firstHopResults?.lowercased() else { return false }
        return text.range(of: #"(^|[;\s])dmarc\s*=\s*pass"#, options: .regularExpression) != nil
    }
}

/// Validates an ARC chain: every set complete and numbered 1...N (N <= 50), cv= of each
/// seal (none for i=1, pass after), the newest ARC-Message-Signature, and every ARC-Seal.
public struct ARCVerifier: Sendable {
    public let dkim: DKIMVerifier

    public init(dns: DNSLookup) { dkim = DKIMVerifier(dns: dns) }

    public func verify(_ bytes: [UInt8]) async -> ARCOutcome {
        await verify(RawMessage(bytes))
    }

    func verify(_ message: RawMessage) async -> ARCOutcome {
        var outcome = ARCOutcome(result: .none, instances: 0, sealers: [], firstHopResults: nil, reason: "no ARC headers")
        func fail(_ reason: String) -> ARCOutcome {
            outcome.result = .fail
            outcome.reason = reason
            return outcome
        }
        var seals: [Int: RawMessage.Field] = [:]
        var signatures: [Int: RawMessage.Field] = [:]
        var results: [Int: RawMessage.Field] = [:]
        var sealTags: [Int: TagList] = [:]
        var any = false
        for field in message.fields {
            let name = field.lowercasedName
            guard name == "arc-seal" || name == "arc-message-signature" || name == "arc-authentication-results" else { continue }
            any = true
            let text = String(decoding: field.value, as: UTF8.self)
            guard let instance = Self.instance(text), instance >= 1, instance <= 50 else { return fail("\(field.name) without a valid i= (1-50)") }
            switch name {
            case "arc-seal":
                guard seals[instance] == nil else { return fail("two ARC-Seal i=\(instance)") }
                seals[instance] = field
                guard let tags = try? TagList.parse(text) else { return fail("ARC-Seal i=\(instance) does not parse") }
                sealTags[instance] = tags
            case "arc-message-signature":
                guard signatures[instance] == nil else { return fail("two ARC-Message-Signature i=\(instance)") }
                signatures[instance] = field
            default:
                guard results[instance] == nil else { return fail("two ARC-Authentication-Results i=\(instance)") }
                results[instance] = field
            }
        }
        guard any else { return outcome }
        let count = seals.keys.max() ?? 0
        outcome.instances = count
        guard count >= 1 else { return fail("no ARC-Seal") }
        for i in 1...count where seals[i] == nil || signatures[i] == nil || results[i] == nil {
            return fail("ARC set \(i) is incomplete")
        }
        guard signatures.count == count, results.count == count else { return fail("ARC sets beyond i=\(count)") }
        outcome.sealers = (1...count).map { DKIMVerifier.printable(sealTags[$0]?["d"] ?? "").lowercased() }
        if let first = results[1] {
            let text = String(decoding: first.value, as: UTF8.self)
            outcome.firstHopResults = text.split(separator: ";", maxSplits: 1).dropFirst().first.map { $0.trimmingCharacters(in: " \t\r\n") }
        }
        // cv= of every seal (RFC 8617 5.2 step 3).
        for i in 1...count {
            let cv = (sealTags[i]?["cv"] ?? "").lowercased()
            if cv == "fail" { return fail("ARC-Seal i=\(i) records cv=fail") }
            if i == 1 && cv != "none" { return fail("ARC-Seal i=1 has cv=\(cv), not none") }
            if i > 1 && cv != "pass" { return fail("ARC-Seal i=\(i) has cv=\(cv), not pass") }
        }
        // The newest message signature.
        if let newest = signatures[count] {
            let ams = await dkim.verify(newest, in: message, arc: true)
            guard ams.result == .pass else { return fail("ARC-Message-Signature i=\(count): \(ams.reason)") }
        }
        // Every seal, newest first: each covers the sets up to its own.
        for i in stride(from: count, through: 1, by: -1) {
            guard let seal = seals[i], let tags = sealTags[i] else { return fail("ARC-Seal i=\(i) missing") }
            var data: [UInt8] = []
            for j in 1...i {
                guard let aar = results[j], let ams = signatures[j], let other = seals[j] else { return fail("ARC set \(j) is incomplete") }
                data += Canonicalization.relaxed.header(aar)
                data += Canonicalization.relaxed.header(ams)
                if j < i { data += Canonicalization.relaxed.header(other) }
            }
            data += DKIMVerifier.withoutSignature(seal, .relaxed)
            if let (_, reason) = await dkim.checkSignature(tags, nil, data) { return fail("ARC-Seal i=\(i) (d=\(outcome.sealers[i - 1])): \(reason)") }
        }
        outcome.result = .pass
        outcome.reason = "chain of \(count) verified; sealed by \(outcome.sealers.joined(separator: ", "))"
        return outcome
    }

    /// The i= tag of an ARC header (in ARC-Authentication-Results it leads the value).
    static func instance(_ value: String) -> Int? {
        for part in value.split(separator: ";") {
            let t = part.trimmingCharacters(in: " \t\r\n")
            if t.hasPrefix("i=") || t.hasPrefix("i =") {
                let number = t.drop(while: { $0 != "=" }).dropFirst().trimmingCharacters(in: " \t")
                guard number.count <= 3 else { return nil }
                return Int(number)
            }
        }
        return nil
    }
}
