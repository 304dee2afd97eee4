import Foundation
import XCTest

@testable import Settings

/// Which keys a reload applies and which wait for a restart, from the text each layer gave.
final class ConfigChangeTests: XCTestCase {
    func values(_ yaml: String, environment: [String: String] = [:], flags: [(key: String, value: String)] = []) throws -> [String: String] {
        let path = NSTemporaryDirectory() + "postroom-change-\(UUID().uuidString).yaml"
        FileManager.default.createFile(atPath: path, contents: Data(yaml.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ConfigLoader.loadValues(file: path, environment: environment, flags: flags).values
    }

    func testTheWinningLayerIsRecorded() throws {
        let v = try values("smtp:\n  port: 25\noutbound:\n  relay: a.test:587\n", environment: ["POSTROOM_SMTP_PORT": "26"], flags: [("smtp.port", "27")])
        XCTAssertEqual(v["smtp.port"], "27")
        XCTAssertEqual(v["outbound.relay"], "a.test:587")
        XCTAssertNil(v["hostname"])
    }

    func testLiveAndRestartKeysAreToldApart() throws {
        let old = try values("outbound:\n  relay: a.test:587\nsmtp:\n  port: 25\n")
        let new = try values("outbound:\n  relay: b.test:587\n  password: x\nsmtp:\n  port: 2526\n  max-recipients: 100\nautomail:\n  per-recipient-cap: 2\n")
        let change = ConfigChange(old: old, new: new)
        XCTAssertEqual(change.applied, ["outbound.relay", "outbound.password", "automail.per-recipient-cap"])
        // max-recipients: 100 is its default, so it did not change.
        XCTAssertEqual(change.restartNeeded, ["smtp.port"])
    }

    func testRemovingAKeyGoesBackToItsDefault() throws {
        let change = ConfigChange(old: try values("outbound:\n  relay: a.test:587\n"), new: try values(""))
        XCTAssertEqual(change.applied, ["outbound.relay"])
        XCTAssertEqual(ConfigChange(old: [:], new: [:]), ConfigChange(old: ["smtp.port": "2525"], new: [:]))
    }

    func testEveryLiveKeyExists() {
        for name in ConfigKey.liveNames { XCTAssertNotNil(ConfigKey.named(name), name) }
    }
}
