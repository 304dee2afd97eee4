/// RFC 7489 results (as RFC 8601 reports them).
public enum DMARCResult: String, Sendable, Codable {
    case none, pass, fail, temperror, permerror
}

public enum DMARCPolicy: String, Sendable, Codable {
    case none, quarantine, reject
}

public struct DMARCOutcome: Sendable, Equatable, Codable {
    public var result: DMARCResult
    /// The RFC 5322.From domain the check is about.
    public var fromDomain: String
    /// The policy that applies to this message (after sp= and pct=); nil without a record.
    public var policy: DMARCPolicy?
    /// The policy the record asks for before pct= sampling.
    public var requestedPolicy: DMARCPolicy?
    /// Where the record was found (the From domain or its organisational domain).
    public var recordDomain: String?
    /// "SPF aligned (example.org)", "DKIM aligned (d=example.org)", or why not.
    public var reason: String
}

/// DMARC: the policy record of the From domain or its organisational domain, relaxed or
/// strict alignment of SPF and DKIM, p/sp/pct.
public struct DMARCChecker: Sendable {
    public let dns: DNSLookup
    public var suffixes: PublicSuffixList
    /// 0..<100 for pct= sampling (injectable for tests).
    public var sample: @Sendable () -> Int = { Int.random(in: 0..<100) }

    public init(dns: DNSLookup, suffixes: PublicSuffixList = .shared) {
        self.dns = dns
        self.suffixes = suffixes
    }

    struct Record {
        var policy: DMARCPolicy
        var subdomainPolicy: DMARCPolicy?
        var percent = 100
        var strictDKIM = false
        var strictSPF = false
    }

    /// `fromDomain` is the domain of the single From address (nil when the From field
    /// does not hold exactly one: DMARC cannot be applied, permerror). `spfDomain` is the
    /// MAIL FROM domain (or the HELO name for a null reverse path) with its SPF result;
    /// `dkim` the outcomes of every signature.
    public func check(fromDomain: String?, spf: SPFResult, spfDomain: String, dkim: [DKIMSignatureOutcome]) async -> DMARCOutcome {
        guard let rawFrom = fromDomain, DomainName.isValid(rawFrom) else {
            return DMARCOutcome(result: .permerror, fromDomain: fromDomain ?? "", reason: "From does not hold exactly one address with a domain")
        }
        let from = DomainName.normalized(rawFrom)
        let organizational = suffixes.organizationalDomain(from)
        var outcome = DMARCOutcome(result: .none, fromDomain: from, reason: "no DMARC record")
        let found: (Record, String)?
        do {
            if let record = try await record(at: from) {
                found = (record, from)
            } else if organizational != from, let record = try await record(at: organizational) {
                found = (record, organizational)
            } else {
                found = nil
            }
        } catch {
            outcome.result = .temperror
            outcome.reason = "DNS: \(error)"
            return outcome
        }
        guard let (record, at) = found else { return outcome }
        outcome.recordDomain = at
        let requested = (at != from ? record.subdomainPolicy : nil) ?? record.policy
        outcome.requestedPolicy = requested
        func aligned(_ domain: String, strict: Bool) -> Bool {
            let d = DomainName.normalized(domain)
            return strict ? d == from : suffixes.organizationalDomain(d) == organizational
        }
        if let signature = dkim.first(where: { $0.result == .pass && aligned($0.domain, strict: record.strictDKIM) }) {
            outcome.result = .pass
            outcome.reason = "DKIM aligned (d=\(signature.domain))"
        } else if spf == .pass && aligned(spfDomain, strict: record.strictSPF) {
            outcome.result = .pass
            outcome.reason = "SPF aligned (\(DomainName.normalized(spfDomain)))"
        } else {
            outcome.result = .fail
            var why: [String] = []
            let passing = dkim.filter { $0.result == .pass }.map { "d=\($0.domain)" }
            why.append(passing.isEmpty ? "no DKIM signature passed" : "DKIM passed only for \(passing.joined(separator: ", ")), not aligned")
            why.append(spf == .pass ? "SPF passed for \(spfDomain), not aligned" : "SPF \(spf.rawValue) for \(spfDomain)")
            outcome.reason = why.joined(separator: "; ")
        }
        if outcome.result == .fail {
            // pct=: the policy applies to that share of failing mail; the rest gets the
            // next milder one (RFC 7489 6.6.4).
            var policy = requested
            if record.percent < 100 && sample() >= record.percent {
                policy = policy == .reject ? .quarantine : .none
            }
            outcome.policy = policy
        } else {
            outcome.policy = DMARCPolicy.none
        }
        return outcome
    }

    /// The one valid DMARC record at _dmarc.domain, if any.
    func record(at domain: String) async throws(DNSLookupFailure) -> Record? {
        let texts = try await dns.txt("_dmarc." + domain).filter { text in
            let t = text.trimmingCharacters(in: " \t")
            return t.hasPrefix("v=DMARC1") && (t.count == 8 || [";", " ", "\t"].contains(t[t.index(t.startIndex, offsetBy: 8)]))
        }
        // Several records, or none: no DMARC for this domain (RFC 7489 6.6.3).
        guard texts.count == 1, let tags = try? TagList.parse(texts[0]) else { return nil }
        guard let p = tags["p"].flatMap({ DMARCPolicy(rawValue: $0.lowercased()) }) else {
            // An unknown or missing p= with a report address counts as p=none.
            return tags["rua"] != nil ? Record(policy: .none) : nil
        }
        var record = Record(policy: p)
        record.subdomainPolicy = tags["sp"].flatMap { DMARCPolicy(rawValue: $0.lowercased()) }
        if let pct = tags["pct"], let n = Int(pct.prefix(4)) { record.percent = max(0, min(100, n)) }
        record.strictDKIM = tags["adkim"]?.lowercased() == "s"
        record.strictSPF = tags["aspf"]?.lowercased() == "s"
        return record
    }
}
