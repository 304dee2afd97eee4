import Foundation
import NetAddress
import XCTest
import Yams

@testable import MailAuth

/// The RFC 7208 test suite as published with pyspf (Tests/Fixtures/spf, BSD licence
/// beside it), run against SPFChecker over its zone data.
final class SPFSuiteTests: XCTestCase {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/spf/rfc7208-tests.yml")

    static func entries(_ records: Any) -> [ZoneDNS.Entry] {
        var out: [ZoneDNS.Entry] = []
        for item in records as? [Any] ?? [] {
            if let text = item as? String, text == "TIMEOUT" {
                out.append(.timeout)
                continue
            }
            guard let map = item as? [String: Any] else { continue }
            for (type, value) in map {
                if let s = value as? String, s == "TIMEOUT" {
                    out.append(.timeout)
                } else if let list = value as? [Any] {
                    out.append(.record(type: type, value: list.map { "\($0)" }))
                } else {
                    out.append(.record(type: type, value: ["\(value)"]))
                }
            }
        }
        return out
    }

    func testRFC7208Suite() async throws {
        let text = try String(contentsOf: Self.suite, encoding: .utf8)
        var total = 0
        var failures: [String] = []
        for document in try Yams.load_all(yaml: text) {
            guard let scenario = document as? [String: Any], let tests = scenario["tests"] as? [String: Any] else { continue }
            var zone: [String: [ZoneDNS.Entry]] = [:]
            for (name, records) in scenario["zonedata"] as? [String: Any] ?? [:] { zone[name] = Self.entries(records) }
            let checker = SPFChecker(dns: ZoneDNS(zone), receiver: "receiver.example")
            for (name, body) in tests.sorted(by: { $0.key < $1.key }) {
                guard let test = body as? [String: Any], let host = test["host"] as? String, let ip = IPAddress(host) else { continue }
                total += 1
                let expected: [String] = (test["result"] as? [String]) ?? [(test["result"] as? String) ?? ""]
                let outcome = await checker.checkMailFrom(ip: ip, mailFrom: (test["mailfrom"] as? String) ?? "", helo: "\(test["helo"] ?? "")")
                var problem: String?
                if !expected.contains(outcome.result.rawValue) {
                    problem = "\(outcome.result.rawValue), expected \(expected.joined(separator: "|")) (\(outcome.reason))"
                } else if let explanation = test["explanation"] as? String, outcome.explanation != explanation {
                    problem = "explanation '\(outcome.explanation ?? "nil")', expected '\(explanation)'"
                }
                if let problem { failures.append("\(name) [\(test["spec"] ?? "")]: \(problem)") }
            }
        }
        let passed = total - failures.count
        print("RFC 7208 suite: \(passed)/\(total) passed (\(String(format: "%.1f", 100 * Double(passed) / Double(max(total, 1))))%)")
        for failure in failures { print("  FAIL \(failure)") }
        XCTAssertGreaterThan(total, 150)
        XCTAssertGreaterThanOrEqual(Double(passed) / Double(total), 0.95, failures.joined(separator: "\n"))
    }
}
