import Foundation
import MailMessage
import NetAddress

/// Everything Postroom learnt about who sent a message, stored with it and shown in the
/// API: one report per message, made before the 250.
public struct AuthenticationReport: Sendable, Equatable, Codable {
    /// How far the From address can be believed.
    public enum Verdict: String, Sendable, Codable {
        /// DMARC pass, or (no DMARC record) an SPF or DKIM pass aligned with From.
        case verified
        /// Failed here, but a valid ARC chain whose first hop recorded DMARC pass vouches
        /// for it: a forwarded message, credited to `forwarder`.
        case forwarded
        case unverified
    }

    public var authservID: String
    public var clientIP: String
    public var spf: SPFOutcome
    public var spfHelo: SPFOutcome?
    public var dkim: [DKIMSignatureOutcome]
    public var dmarc: DMARCOutcome
    public var arc: ARCOutcome
    public var verdict: Verdict
    /// "DMARC pass (DKIM aligned (d=example.org))", "ARC: forwarded by lists.example", ...
    public var verifiedBy: String
    public var forwarder: String?

    /// DMARC fail under p=reject (after pct=), and no ARC chain vouches for it: the
    /// case the inbox's DMARC action (refuse, spam, mark) is about.
    public var dmarcRejects: Bool {
        dmarc.result == .fail && dmarc.policy == .reject && verdict != .forwarded
    }

    /// The From domain failed DMARC and no ARC chain vouches for the message.
    public var fromFailed: Bool { dmarc.result == .fail && verdict != .forwarded }

    /// Every check temperror (the checks ran out of time): unverified, and kept.
    public static func temporaryFailure(authservID: String, clientIP: String, mailFrom: String, fromDomain: String?, reason: String) -> AuthenticationReport {
        AuthenticationReport(
            authservID: authservID, clientIP: clientIP, spf: SPFOutcome(result: .temperror, domain: mailFrom, reason: reason, explanation: nil), spfHelo: nil,
            dkim: [], dmarc: DMARCOutcome(result: .temperror, fromDomain: fromDomain ?? "", reason: reason),
            arc: ARCOutcome(result: .none, instances: 0, sealers: [], firstHopResults: nil, reason: reason), verdict: .unverified, verifiedBy: reason,
            forwarder: nil)
    }

    /// Whether automatic mail may answer, bounces may suppress and notifications may say
    /// "customer replied": the From passed, or (no DMARC record) SPF vouches for the
    /// reverse path the answer would go to.
    public var trusted: Bool {
        verdict != .unverified || (dmarc.result == .none && spf.result == .pass)
    }

    /// The Authentication-Results header field (RFC 8601), folded, with CRLF.
    public var header: String {
        var parts: [String] = []
        let mailfrom = spf.domain.isEmpty ? "" : " smtp.mailfrom=\(Self.value(spf.domain))"
        parts.append("spf=\(spf.result.rawValue) (\(Self.comment(spf.reason)))\(mailfrom)")
        if let helo = spfHelo { parts.append("spf=\(helo.result.rawValue) (\(Self.comment(helo.reason))) smtp.helo=\(Self.value(helo.domain))") }
        if dkim.isEmpty {
            parts.append("dkim=none (no signature)")
        } else {
            for signature in dkim {
                var text = "dkim=\(signature.result.rawValue) (\(Self.comment(signature.reason)))"
                if !signature.domain.isEmpty { text += " header.d=\(Self.value(signature.domain))" }
                if !signature.selector.isEmpty { text += " header.s=\(Self.value(signature.selector))" }
                if !signature.signaturePrefix.isEmpty { text += " header.b=\(Self.value(String(signature.signaturePrefix.prefix(8))))" }
                parts.append(text)
            }
        }
        var dmarcText = "dmarc=\(dmarc.result.rawValue)"
        if let policy = dmarc.requestedPolicy { dmarcText += " (p=\(policy.rawValue) \(Self.comment(dmarc.reason)))" } else { dmarcText += " (\(Self.comment(dmarc.reason)))" }
        if !dmarc.fromDomain.isEmpty { dmarcText += " header.from=\(Self.value(dmarc.fromDomain))" }
        parts.append(dmarcText)
        if arc.result != .none || arc.instances > 0 {
            parts.append("arc=\(arc.result.rawValue) (\(Self.comment(arc.reason)))")
        }
        return "Authentication-Results: \(authservID);\r\n\t" + parts.joined(separator: ";\r\n\t") + "\r\n"
    }

    /// A comment's text: printable ASCII without parentheses or backslashes, short.
    static func comment(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(text.utf8.count, 120))
        for scalar in text.unicodeScalars.prefix(120) {
            let value = scalar.value
            out.append(value < 0x20 || value > 0x7E || value == 0x28 || value == 0x29 || value == 0x5C ? 0x20 : UInt8(value))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A property value: printable ASCII without spaces, semicolons or parentheses
    /// (anything else would end the value); quoted when it had to change.
    static func value(_ text: String) -> String {
        // Printable ASCII but for ( ) ; " and backslash.
        let ok = text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x28 && $0 != 0x29 && $0 != 0x3B && $0 != 0x22 && $0 != 0x5C }
        if ok && !text.isEmpty { return text }
        return "\"" + comment(text).replacingOccurrences(of: "\"", with: " ") + "\""
    }
}

/// Runs SPF (MAIL FROM and HELO), DKIM, DMARC and ARC for one message and decides the
/// verdict. Removes Authentication-Results fields that claim to be ours (RFC 8601 5)
/// and gives back the message with Postroom's own prepended.
public struct Authenticator: Sendable {
    public let dns: DNSLookup
    /// This host's name: the authserv-id.
    public let authservID: String
    public var suffixes: PublicSuffixList = .shared
    public var now: @Sendable () -> Date = { Date() }

    public init(dns: DNSLookup, authservID: String) {
        self.dns = dns
        self.authservID = authservID
    }

    public func authenticate(message: [UInt8], clientIP: String, helo: String, mailFrom: String) async -> AuthenticationReport {
        let ip = IPAddress(clientIP)?.unmapped
        var spfChecker = SPFChecker(dns: dns, receiver: authservID)
        spfChecker.now = now
        let spf: SPFOutcome
        var spfHelo: SPFOutcome?
        if let ip {
            spf = await spfChecker.checkMailFrom(ip: ip, mailFrom: mailFrom, helo: helo)
            if !mailFrom.isEmpty, DomainName.isValid(helo) { spfHelo = await spfChecker.checkHelo(ip: ip, helo: helo) }
        } else {
            spf = SPFOutcome(result: .none, domain: "", reason: "client address '\(clientIP)' is not an IP address", explanation: nil)
        }
        // The header section is split once for every check.
        let parsed = RawMessage(message)
        var verifier = DKIMVerifier(dns: dns)
        verifier.now = now
        let dkim = await verifier.verify(parsed)
        let fromDomain = Self.fromDomain(parsed)
        let spfDomain = spf.domain
        var dmarcChecker = DMARCChecker(dns: dns, suffixes: suffixes)
        dmarcChecker.sample = { Int.random(in: 0..<100) }
        let dmarc = await dmarcChecker.check(fromDomain: fromDomain, spf: spf.result, spfDomain: spfDomain, dkim: dkim)
        let arc = await ARCVerifier(dns: dns).verify(parsed)
        var verdict = AuthenticationReport.Verdict.unverified
        var verifiedBy = "not verified: \(dmarc.reason)"
        var forwarder: String?
        if dmarc.result == .pass {
            verdict = .verified
            verifiedBy = "DMARC pass, \(dmarc.reason)"
        } else if dmarc.result == .none, let from = fromDomain.map({ DomainName.normalized($0) }) {
            let org = suffixes.organizationalDomain(from)
            if let signature = dkim.first(where: { $0.result == .pass && suffixes.organizationalDomain($0.domain) == org }) {
                verdict = .verified
                verifiedBy = "no DMARC record; DKIM pass for d=\(signature.domain)"
            } else if spf.result == .pass, suffixes.organizationalDomain(spfDomain) == org {
                verdict = .verified
                verifiedBy = "no DMARC record; SPF pass for \(spfDomain)"
            }
        }
        if verdict == .unverified && arc.firstHopDMARCPass {
            verdict = .forwarded
            forwarder = arc.sealers.first
            verifiedBy = "forwarded by \(arc.sealers.joined(separator: ", ")) with a valid ARC chain; its first hop recorded DMARC pass"
        }
        return AuthenticationReport(
            authservID: authservID, clientIP: clientIP, spf: spf, spfHelo: spfHelo, dkim: dkim, dmarc: dmarc, arc: arc, verdict: verdict,
            verifiedBy: verifiedBy, forwarder: forwarder)
    }

    /// The domain of the From field's one address; nil when there is not exactly one
    /// From field with exactly one address.
    public static func fromDomain(_ message: [UInt8]) -> String? {
        fromDomain(RawMessage(message))
    }

    static func fromDomain(_ message: RawMessage) -> String? {
        let froms = message.fields.filter { $0.lowercasedName == "from" }
        guard froms.count == 1, let from = froms.first else { return nil }
        let addresses = MailAddress.parseList(Array(from.value))
        guard addresses.count == 1, let at = addresses[0].address.lastIndex(of: "@") else { return nil }
        let domain = String(addresses[0].address[addresses[0].address.index(after: at)...])
        return domain.isEmpty ? nil : domain.lowercased()
    }

    /// The message without Authentication-Results fields whose authserv-id is ours
    /// (a sender's forgery of our verdict), with our header on top.
    public func stamped(_ message: [UInt8], _ report: AuthenticationReport) -> [UInt8] {
        Array(report.header.utf8) + Self.removingResults(claiming: authservID, from: message)
    }

    public static func removingResults(claiming authservID: String, from message: [UInt8]) -> [UInt8] {
        let parsed = RawMessage(message)
        let ours = authservID.lowercased()
        let forged = parsed.fields.filter { field in
            guard field.lowercasedName == "authentication-results" else { return false }
            // authserv-id [version] ";" ...; comments may sit anywhere around it.
            let text = String(decoding: field.value, as: UTF8.self).replacingOccurrences(of: #"\([^)]*\)"#, with: " ", options: .regularExpression)
            let id = text.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: " \t\r\n") } ?? ""
            let first = id.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).first.map { $0.lowercased() } ?? ""
            return first == ours
        }
        guard !forged.isEmpty else { return message }
        var out: [UInt8] = []
        out.reserveCapacity(message.count)
        var at = 0
        for field in forged {
            out += message[at..<field.raw.startIndex]
            at = field.raw.endIndex
        }
        out += message[at...]
        return out
    }
}
