import Foundation
import NetAddress
import XCTest

@testable import MailAuth

/// The same SPF, DKIM and DMARC results as the `authheaders` package on generated
/// message x DNS cases (auth_differential.py: 130 cases, seeded).
final class AuthDifferentialTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let ip: String
        let mailFrom: String
        let helo: String
        let message: String
        let zone: [[String]]
        let spf: String
        let dkim: String
        let dmarc: String
        let header: String
    }

    struct Fixture: Decodable { let cases: [Case] }

    func testSameResultsAsAuthheaders() async throws {
        let data = try PythonFixture.output(of: "auth_differential.py")
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 100)
        guard !PublicSuffixList.shared.isEmpty else { throw XCTSkip("no public suffix list (scripts/bootstrap installs publicsuffix)") }
        var differences: [String] = []
        for c in fixture.cases {
            var zone: [String: [ZoneDNS.Entry]] = [:]
            for record in c.zone where record.count == 3 {
                let value = record[1] == "MX" ? record[2].split(separator: " ").map(String.init) : [record[2]]
                zone[record[0], default: []].append(.record(type: record[1], value: value))
            }
            var authenticator = Authenticator(dns: ZoneDNS(zone), authservID: "mx.test")
            authenticator.suffixes = PublicSuffixList.shared
            let report = await authenticator.authenticate(
                message: Array(try XCTUnwrap(Data(base64Encoded: c.message))), clientIP: c.ip, helo: c.helo, mailFrom: c.mailFrom)
            let ours = (report.spf.result.rawValue, report.dkim.first?.result.rawValue ?? "none", report.dmarc.result.rawValue)
            if ours != (c.spf, c.dkim, c.dmarc) {
                differences.append("\(c.name): ours spf=\(ours.0) dkim=\(ours.1) dmarc=\(ours.2) (\(report.spf.reason); \(report.dkim.first?.reason ?? ""); \(report.dmarc.reason)); authheaders: \(c.header)")
            }
        }
        print("authheaders differential: \(fixture.cases.count - differences.count)/\(fixture.cases.count) cases agree")
        for d in differences { print("  DIFF \(d)") }
        XCTAssertEqual(differences, [])
    }
}
