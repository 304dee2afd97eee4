import Foundation
import NetAddress
import XCTest

@testable import MailAuth

/// The verdict, the Authentication-Results header Postroom writes, and the removal of
/// incoming ones that claim its name (RFC 8601 5).
final class AuthenticatorTests: XCTestCase {
    func testForgedResultsClaimingOurNameAreRemoved() {
        let message = Array(
            ("Authentication-Results: MX.test;\r\n\tdmarc=pass\r\n"
                + "Authentication-Results: (comment) mx.test 1; spf=pass\r\n"
                + "Authentication-Results: mx.test.evil.example; spf=pass\r\n"
                + "Authentication-Results: other.example; dkim=pass\r\n"
                + "From: a@b.example\r\n\r\nAuthentication-Results: mx.test; in the body stays\r\n").utf8)
        let cleaned = String(decoding: Authenticator.removingResults(claiming: "mx.test", from: message), as: UTF8.self)
        XCTAssertEqual(
            cleaned,
            "Authentication-Results: mx.test.evil.example; spf=pass\r\nAuthentication-Results: other.example; dkim=pass\r\n"
                + "From: a@b.example\r\n\r\nAuthentication-Results: mx.test; in the body stays\r\n")
    }

    func testHeaderQuotesWhatWouldBreakIt() async {
        let dns = ZoneDNS(["b.example": [.record(type: "TXT", value: ["v=spf1 ip4:192.0.2.1 -all"])]])
        let report = await Authenticator(dns: dns, authservID: "mx.test").authenticate(
            message: Array("From: a@b.example\r\n\r\nx\r\n".utf8), clientIP: "192.0.2.1", helo: "h (x); y", mailFrom: "a@b.example")
        XCTAssertEqual(report.spf.result, .pass)
        XCTAssertEqual(report.verdict, .verified)
        XCTAssertTrue(report.trusted)
        let header = report.header
        XCTAssertTrue(header.hasPrefix("Authentication-Results: mx.test;\r\n\tspf=pass"), header)
        XCTAssertTrue(header.hasSuffix("\r\n"))
        XCTAssertFalse(header.dropLast(2).contains("\r\n\r\n"))
        // Every line after the first is a continuation.
        for line in header.dropLast(2).components(separatedBy: "\r\n").dropFirst() { XCTAssertTrue(line.hasPrefix("\t"), line) }
        XCTAssertEqual(AuthenticationReport.value("a b;c"), "\"a b;c\"")  // a quoted-string may hold ";"
        XCTAssertEqual(AuthenticationReport.comment("x(y)\r\nz"), "x y   z")
    }

    func testVerdicts() async {
        let dns = ZoneDNS([
            "spf.example": [.record(type: "TXT", value: ["v=spf1 ip4:192.0.2.1 -all"])],
            "_dmarc.strict.example": [.record(type: "TXT", value: ["v=DMARC1; p=reject"])],
            "strict.example": [.record(type: "TXT", value: ["v=spf1 -all"])],
        ])
        let authenticator = Authenticator(dns: dns, authservID: "mx.test")
        func run(_ from: String, _ mailFrom: String) async -> AuthenticationReport {
            await authenticator.authenticate(message: Array("From: \(from)\r\n\r\nx\r\n".utf8), clientIP: "192.0.2.1", helo: "h.example", mailFrom: mailFrom)
        }
        // No DMARC record, SPF pass for another domain: unverified From, but the reverse
        // path is trusted for an automatic answer.
        let other = await run("a@nodns.example", "b@spf.example")
        XCTAssertEqual(other.verdict, .unverified)
        XCTAssertTrue(other.trusted)
        // p=reject and SPF fail: unverified, not trusted, the reject policy applies.
        let forged = await run("a@strict.example", "a@strict.example")
        XCTAssertEqual(forged.dmarc.result, .fail)
        XCTAssertEqual(forged.verdict, .unverified)
        XCTAssertFalse(forged.trusted)
        XCTAssertTrue(forged.dmarcRejects)
        // Two From addresses: DMARC cannot apply.
        let two = await authenticator.authenticate(
            message: Array("From: a@spf.example, b@spf.example\r\n\r\nx\r\n".utf8), clientIP: "192.0.2.1", helo: "h.example", mailFrom: "a@spf.example")
        XCTAssertEqual(two.dmarc.result, .permerror)
        // Not an IP address: SPF none, nothing crashes.
        let odd = await authenticator.authenticate(message: [], clientIP: "unix-socket", helo: "", mailFrom: "")
        XCTAssertEqual(odd.spf.result, .none)
    }
}
