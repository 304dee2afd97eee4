import Foundation
import NetAddress
import XCTest

@testable import MailAuth

/// Signatures made by dkimpy (dkim_cases.py: rsa and ed25519, every canonicalisation,
/// folded headers, l=, several signatures) must verify; tampering, wrong or revoked keys,
/// expiry and sha1 must not.
final class DKIMVerifyTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let message: String
        let expect: [String]
        let reason: String?
    }

    struct ARCCase: Decodable {
        let name: String
        let message: String
        let expect: String
        let sealers: [String]
        let dmarcPass: Bool
        let dkimpy: String
    }

    struct Fixture: Decodable {
        let zone: [String: String]
        let cases: [Case]
        let arc: [ARCCase]
    }

    func fixture() throws -> Fixture {
        let data = try PythonFixture.output(of: "dkim_cases.py")
        return try JSONDecoder().decode(Fixture.self, from: data)
    }

    func testSignaturesByDkimpy() async throws {
        let fixture = try fixture()
        let dns = ZoneDNS(fixture.zone.mapValues { [.record(type: "TXT", value: [$0])] })
        let verifier = DKIMVerifier(dns: dns)
        XCTAssertGreaterThan(fixture.cases.count, 15)
        for c in fixture.cases {
            let message = try XCTUnwrap(Data(base64Encoded: c.message))
            let outcomes = await verifier.verify(Array(message))
            XCTAssertEqual(outcomes.map(\.result.rawValue), c.expect, "\(c.name): \(outcomes.map(\.reason))")
            if let reason = c.reason {
                XCTAssertTrue(outcomes.contains { $0.reason.contains(reason) }, "\(c.name): \(outcomes.map(\.reason))")
            }
            if c.expect.first == "pass" { XCTAssertEqual(outcomes.first?.domain, "example.org") }
        }
    }

    /// Chains made by dkimpy's arc_sign across two forwarding hops verify (and the first
    /// hop's dmarc=pass is carried); broken ones do not. dkimpy's own verdict is checked too.
    func testARCChainsByDkimpy() async throws {
        let fixture = try fixture()
        let verifier = ARCVerifier(dns: ZoneDNS(fixture.zone.mapValues { [.record(type: "TXT", value: [$0])] }))
        for c in fixture.arc {
            let outcome = await verifier.verify(Array(try XCTUnwrap(Data(base64Encoded: c.message))))
            XCTAssertEqual(outcome.result.rawValue, c.expect, "\(c.name): \(outcome.reason)")
            XCTAssertEqual(c.dkimpy, c.expect, "\(c.name): dkimpy disagrees with the fixture")
            XCTAssertEqual(outcome.firstHopDMARCPass, c.dmarcPass, c.name)
            if c.expect == "pass" { XCTAssertEqual(outcome.sealers, c.sealers, c.name) }
        }
    }

    func testOwnSignerVerifies() async throws {
        // Canonicalisation edge: an empty body, relaxed and simple.
        XCTAssertEqual(Canonicalization.relaxed.body([][...]), [])
        XCTAssertEqual(Canonicalization.simple.body([][...]), [0x0D, 0x0A])
        XCTAssertEqual(Canonicalization.simple.body(Array("a\r\n\r\n\r\n".utf8)[...]), Array("a\r\n".utf8))
        XCTAssertEqual(Canonicalization.relaxed.body(Array(" a \t b \r\n\r\n".utf8)[...]), Array(" a b\r\n".utf8))
        XCTAssertEqual(Canonicalization.relaxed.body(Array("x".utf8)[...]), Array("x\r\n".utf8))
    }

    func testUnsignedAndMalformed() async {
        let verifier = DKIMVerifier(dns: ZoneDNS([:]))
        let none = await verifier.verify(Array("From: a@b.example\r\n\r\nx\r\n".utf8))
        XCTAssertEqual(none, [])
        let broken = await verifier.verify(Array("DKIM-Signature: v=1; a=rsa-sha256; d=b.example; d=c.example\r\nFrom: a@b.example\r\n\r\nx\r\n".utf8))
        XCTAssertEqual(broken.map(\.result), [.permerror])
        // A folded d= (a line break in the tag) never reaches a log line or the API.
        let folded = await verifier.verify(Array("DKIM-Signature: v=1; a=rsa-sha256; d=b.exam\r\n ple\r\n\tInjected: yes; s=x; h=from; bh=AA==; b=AA==\r\nFrom: a@b.example\r\n\r\nx\r\n".utf8))
        XCTAssertEqual(folded.map(\.domain), ["b.exampleinjected:yes"])
        let noFrom = await verifier.verify(Array("DKIM-Signature: v=1; a=rsa-sha256; d=b.example; s=x; h=subject; bh=AA==; b=AA==\r\nFrom: a@b.example\r\n\r\nx\r\n".utf8))
        XCTAssertEqual(noFrom.map(\.reason), ["h= does not sign From"])
    }
}
