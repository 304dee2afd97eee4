import Foundation
import XCTest

@testable import Sieve

/// Pigeonhole's own test suite (POSTROOM_SIEVE_SUITE_DIR, LGPL test data read from
/// ../shared, not copied): every .svtest file is run; passes are reported per
/// extension and every file not run is listed with its reason.
final class ConformanceTests: XCTestCase {
    func testPigeonholeSuite() throws {
        guard let root = ProcessInfo.processInfo.environment["POSTROOM_SIEVE_SUITE_DIR"] else {
            throw XCTSkip("POSTROOM_SIEVE_SUITE_DIR not set: Pigeonhole conformance suite not run")
        }
        let testsDir = root + "/pigeonhole-0.5.19/tests"
        guard FileManager.default.fileExists(atPath: testsDir) else { throw XCTSkip("no tests folder at \(testsDir)") }
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: testsDir)
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".svtest") { files.append(path) }
        }
        files.sort()
        let runner = TestsuiteRunner()
        var perGroup: [String: (pass: Int, fail: Int)] = [:]
        var basicPass = 0, basicTotal = 0
        var report: [String] = []
        var notRun: [String] = []
        for file in files {
            let outcome = runner.run(file: testsDir + "/" + file)
            let group = file.split(separator: "/").dropLast().joined(separator: "/").isEmpty ? "core" : file.split(separator: "/").dropLast().joined(separator: "/")
            if let reason = outcome.notRun {
                notRun.append("\(file): \(reason)")
                continue
            }
            perGroup[group, default: (0, 0)].pass += outcome.passed.count
            perGroup[group, default: (0, 0)].fail += outcome.failed.count
            if outcome.basic {
                basicPass += outcome.passed.count
                basicTotal += outcome.passed.count + outcome.failed.count
            }
            for failure in outcome.failed { report.append("FAIL\(outcome.basic ? " [basic]" : "") \(file): \(failure.name): \(failure.reason)") }
        }
        var summary = "Pigeonhole 0.5.19 test suite: \(files.count) files\n"
        for (group, counts) in perGroup.sorted(by: { $0.key < $1.key }) {
            summary += "  \(group): \(counts.pass) passed, \(counts.fail) failed\n"
        }
        let ratio = basicTotal == 0 ? 0 : Double(basicPass) / Double(basicTotal)
        summary += String(format: "tests using only test/test_fail/test_set: %d of %d pass (%.1f%%)\n", basicPass, basicTotal, ratio * 100)
        summary += "not run (\(notRun.count) files):\n" + notRun.map { "  " + $0 }.joined(separator: "\n") + "\n"
        summary += report.joined(separator: "\n") + "\n"
        print(summary)
        if let out = ProcessInfo.processInfo.environment["POSTROOM_SIEVE_REPORT"] {
            try summary.write(toFile: out, atomically: true, encoding: .utf8)
        }
        XCTAssertGreaterThanOrEqual(ratio, 0.95, "basic conformance below 95%")
    }
}
