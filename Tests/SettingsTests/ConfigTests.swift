import Foundation
import XCTest

@testable import Settings

final class ConfigTests: XCTestCase {
    func write(_ text: String) -> String {
        let path = NSTemporaryDirectory() + "postroom-config-\(UUID().uuidString).yaml"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    func testDefaults() throws {
        let config = try ConfigLoader.load(file: nil, environment: [:])
        XCTAssertEqual(config.smtpPort, 2525)
        XCTAssertEqual(config.httpPort, 8080)
        XCTAssertEqual(config.dataDir, "./data")
        XCTAssertEqual(config.maxMessageSize, 25 * 1024 * 1024)
        XCTAssertEqual(config.idleTimeout, 300)
        XCTAssertEqual(config.effectiveFallbackDomain, "localhost")
    }

    func testLayering() throws {
        let file = write("hostname: mx.example.com\nsmtp:\n  port: 25\n  max-message-size: 10M\n  idle-timeout: 2m\nhttp:\n  port: 9000\n")
        let config = try ConfigLoader.load(
            file: file, environment: ["POSTROOM_SMTP_PORT": "2626", "POSTROOM_ADMIN_TOKEN": "secret"],
            flags: [("smtp.port", "2727")])
        XCTAssertEqual(config.hostname, "mx.example.com")
        XCTAssertEqual(config.smtpPort, 2727)
        XCTAssertEqual(config.httpPort, 9000)
        XCTAssertEqual(config.maxMessageSize, 10 * 1024 * 1024)
        XCTAssertEqual(config.idleTimeout, 120)
        XCTAssertEqual(config.adminToken, "secret")
    }

    func testMistakesNameTheKeyAndPlace() {
        let file = write("smtp:\n  port: twenty\n")
        XCTAssertThrowsError(try ConfigLoader.load(file: file, environment: [:])) { error in
            let e = error as! ConfigError
            XCTAssertEqual(e.key, "smtp.port")
            XCTAssertEqual(e.location, "\(file):2:9")
            XCTAssertTrue(e.message.contains("expected an integer"), e.message)
        }
        let unknown = write("smtp:\n  prot: 25\n")
        XCTAssertThrowsError(try ConfigLoader.load(file: unknown, environment: [:])) { error in
            let e = error as! ConfigError
            XCTAssertEqual(e.key, "smtp.prot")
            XCTAssertTrue(e.description.contains("unknown key"), e.description)
            XCTAssertTrue(e.description.contains("smtp.port"), e.description)
        }
        XCTAssertThrowsError(try ConfigLoader.load(file: nil, environment: ["POSTROOM_SMTP_TLS_REQUIRED": "maybe"])) { error in
            XCTAssertEqual((error as! ConfigError).location, "environment POSTROOM_SMTP_TLS_REQUIRED")
        }
        XCTAssertThrowsError(try ConfigLoader.load(file: write("smtp: [1, 2]\n"), environment: [:]))
        XCTAssertThrowsError(try ConfigLoader.load(file: write("a: b: c\n"), environment: [:]))
        XCTAssertThrowsError(try ConfigLoader.load(file: "/nonexistent.yaml", environment: [:]))
        XCTAssertThrowsError(try ConfigLoader.load(file: nil, environment: ["POSTROOM_SMTP_TLS_KEY": "/x"])) { error in
            XCTAssertTrue("\(error)".contains("must be set together"))
        }
    }

    func testSizesAndDurations() {
        XCTAssertEqual(ConfigKey.parseSize("25M"), 26_214_400)
        XCTAssertEqual(ConfigKey.parseSize("512kib"), 524_288)
        XCTAssertEqual(ConfigKey.parseSize("100"), 100)
        XCTAssertNil(ConfigKey.parseSize("lots"))
        XCTAssertEqual(ConfigKey.parseDuration("5m"), 300)
        XCTAssertEqual(ConfigKey.parseDuration("250ms"), 0.25)
        XCTAssertEqual(ConfigKey.parseDuration("45"), 45)
    }

    func testMailboxKeys() throws {
        let config = try ConfigLoader.load(
            file: write("mailboxes:\n  idle-renew: 20m\n  timeout: 90s\n  ca-file: \(write("pem"))\n"), environment: [:])
        XCTAssertEqual(config.mailboxIdleRenew, 1200)
        XCTAssertEqual(config.mailboxTimeout, 90)
        XCTAssertNotNil(config.mailboxCAFile)
        XCTAssertThrowsError(try ConfigLoader.load(file: nil, environment: ["POSTROOM_MAILBOXES_IDLE_RENEW": "30m"])) { error in
            XCTAssertTrue("\(error)".contains("under 29m"), "\(error)")
        }
        XCTAssertThrowsError(try ConfigLoader.load(file: nil, environment: ["POSTROOM_MAILBOXES_CA_FILE": "/nonexistent.pem"])) { error in
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }
    }

    func testEnvironmentNames() {
        XCTAssertEqual(ConfigKey.named("smtp.max-sessions-per-ip")?.environmentName, "POSTROOM_SMTP_MAX_SESSIONS_PER_IP")
        XCTAssertEqual(ConfigKey.named("admin-token")?.environmentName, "POSTROOM_ADMIN_TOKEN")
    }
}
