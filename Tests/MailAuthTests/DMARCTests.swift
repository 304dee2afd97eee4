import XCTest

@testable import MailAuth

/// Alignment cases: subdomains, strict and relaxed, organisational domains through the
/// public suffix list (Debian's publicsuffix), p/sp/pct.
final class DMARCTests: XCTestCase {
    func pass(_ d: String) -> DKIMSignatureOutcome {
        DKIMSignatureOutcome(result: .pass, domain: d, selector: "s", algorithm: "rsa-sha256", identity: nil, reason: "", bodyLength: nil, signaturePrefix: "")
    }

    func testPublicSuffixList() throws {
        let psl = PublicSuffixList.shared
        guard !psl.isEmpty else { throw XCTSkip("no \(PublicSuffixList.debianPath) (scripts/bootstrap installs publicsuffix)") }
        XCTAssertEqual(psl.organizationalDomain("a.b.example.co.uk"), "example.co.uk")
        XCTAssertEqual(psl.organizationalDomain("mail.example.org."), "example.org")
        XCTAssertEqual(psl.organizationalDomain("co.uk"), "co.uk")
        XCTAssertEqual(psl.organizationalDomain("alice.github.io"), "alice.github.io")
        XCTAssertEqual(psl.organizationalDomain("www.ck"), "www.ck")  // !www.ck exception under *.ck
        XCTAssertEqual(psl.organizationalDomain("a.b.c.ck"), "b.c.ck")  // *.ck wildcard
        XCTAssertEqual(PublicSuffixList(text: "").organizationalDomain("a.b.example"), "b.example")
    }

    func testAlignmentTable() async throws {
        guard !PublicSuffixList.shared.isEmpty else { throw XCTSkip("no public suffix list") }
        let dns = ZoneDNS([
            "_dmarc.example.org": [.record(type: "TXT", value: ["v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.org"])],
            "_dmarc.strict.example": [.record(type: "TXT", value: ["v=DMARC1; p=reject; adkim=s; aspf=s"])],
            "_dmarc.example.co.uk": [.record(type: "TXT", value: ["v=DMARC1; p=quarantine"])],
            "_dmarc.alice.github.io": [.record(type: "TXT", value: ["v=DMARC1; p=reject"])],
            "_dmarc.sampled.example": [.record(type: "TXT", value: ["v=DMARC1; p=reject; pct=0"])],
            "_dmarc.twice.example": [.record(type: "TXT", value: ["v=DMARC1; p=reject"]), .record(type: "TXT", value: ["v=DMARC1; p=none"])],
            "_dmarc.slow.example": [.timeout],
            "_dmarc.nop.example": [.record(type: "TXT", value: ["v=DMARC1; rua=mailto:x@nop.example"])],
        ])
        let checker = DMARCChecker(dns: dns)
        // (From domain, SPF result, SPF domain, DKIM passes) -> (result, policy)
        let table: [(String?, SPFResult, String, [String], DMARCResult, DMARCPolicy?, String)] = [
            ("example.org", .fail, "example.org", ["example.org"], .pass, DMARCPolicy.none, "DKIM aligned"),
            ("example.org", .fail, "example.org", ["mail.example.org"], .pass, DMARCPolicy.none, "relaxed DKIM: subdomain"),
            ("example.org", .pass, "bounces.example.org", [], .pass, DMARCPolicy.none, "relaxed SPF: subdomain"),
            ("example.org", .softfail, "example.org", [], .fail, .reject, "SPF softfail, no DKIM"),
            ("example.org", .pass, "example.net", ["example.net"], .fail, .reject, "passes, not aligned"),
            ("news.example.org", .fail, "x.example", [], .fail, .quarantine, "org record: sp= applies"),
            ("news.example.org", .fail, "x.example", ["example.org"], .pass, DMARCPolicy.none, "org-domain signature aligns with subdomain From"),
            ("strict.example", .pass, "mail.strict.example", ["mail.strict.example"], .fail, .reject, "strict: subdomains do not align"),
            ("strict.example", .pass, "strict.example", [], .pass, DMARCPolicy.none, "strict: exact SPF domain"),
            ("a.b.example.co.uk", .fail, "x.example", ["example.co.uk"], .pass, DMARCPolicy.none, "PSL: co.uk is a suffix"),
            ("a.b.example.co.uk", .fail, "x.example", ["co.uk"], .fail, .quarantine, "PSL: d=co.uk is not example.co.uk"),
            ("alice.github.io", .fail, "x.example", ["bob.github.io"], .fail, .reject, "PSL private section: github.io users differ"),
            ("sampled.example", .fail, "x.example", [], .fail, .quarantine, "pct=0: reject becomes quarantine"),
            ("twice.example", .fail, "x.example", [], DMARCResult.none, nil, "two records: no DMARC"),
            ("nowhere.example", .fail, "x.example", [], DMARCResult.none, nil, "no record"),
            ("slow.example", .fail, "x.example", [], .temperror, nil, "DNS timeout"),
            ("nop.example", .fail, "x.example", [], .fail, DMARCPolicy.none, "no p= but rua=: p=none"),
            (nil, .pass, "example.org", ["example.org"], .permerror, nil, "no single From domain"),
        ]
        for (from, spf, spfDomain, passes, result, policy, label) in table {
            let outcome = await checker.check(fromDomain: from, spf: spf, spfDomain: spfDomain, dkim: passes.map(pass))
            XCTAssertEqual(outcome.result, result, "\(label): \(outcome.reason)")
            XCTAssertEqual(outcome.policy, policy, "\(label): \(outcome.reason)")
        }
    }
}
