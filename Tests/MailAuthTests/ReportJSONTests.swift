import Foundation
import XCTest

@testable import MailAuth

/// The report's JSON is written by hand (it is on intake's path); it must stay what
/// JSONEncoder with sorted keys writes, so stored reports read back the same.
final class ReportJSONTests: XCTestCase {
    static let awkward = ["", "plain", "quote \" and \\ back/slash", "tab\tnew\nline\r\u{8}\u{C}\u{1}\u{1F}", "é ü 日本 😀", "\u{2028}\u{7F}", "</script>"]

    func reports() -> [AuthenticationReport] {
        var all: [AuthenticationReport] = []
        for text in Self.awkward {
            let dkim = DKIMSignatureOutcome(
                result: .pass, domain: "d.example\(text)", selector: "s\(text)", algorithm: "rsa-sha256", identity: text.isEmpty ? nil : "@\(text)",
                reason: text, bodyLength: text.isEmpty ? nil : text.count * 1000, signaturePrefix: "abc\(text)")
            var dmarc = DMARCOutcome(result: .fail, fromDomain: "f\(text)", reason: "r\(text)")
            if !text.isEmpty {
                dmarc.policy = .reject
                dmarc.requestedPolicy = .quarantine
                dmarc.recordDomain = "_dmarc.\(text)"
            }
            let arc = ARCOutcome(
                result: .pass, instances: text.count, sealers: text.isEmpty ? [] : [text, "b"], firstHopResults: text.isEmpty ? nil : "dmarc=pass \(text)",
                reason: text)
            all.append(
                AuthenticationReport(
                    authservID: "mx\(text)", clientIP: "192.0.2.1", spf: SPFOutcome(result: .softfail, domain: text, reason: "why \(text)", explanation: text.isEmpty ? nil : text),
                    spfHelo: text.isEmpty ? nil : SPFOutcome(result: .none, domain: "helo", reason: text, explanation: nil),
                    dkim: text.isEmpty ? [] : [dkim, dkim], dmarc: dmarc, arc: arc, verdict: .forwarded, verifiedBy: text, forwarder: text.isEmpty ? nil : text))
        }
        all.append(.temporaryFailure(authservID: "mx.test", clientIP: "::1", mailFrom: "a@b", fromDomain: nil, reason: "late"))
        return all
    }

    func testSameBytesAsJSONEncoderWithSortedKeys() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for report in reports() {
            let expected = String(decoding: try encoder.encode(report), as: UTF8.self)
            XCTAssertEqual(report.json, expected)
            XCTAssertEqual(try JSONDecoder().decode(AuthenticationReport.self, from: Data(report.json.utf8)), report)
        }
    }
}
