import Settings
import XCTest

final class EffectiveConfigurationTests: XCTestCase {
    func testRelayKeysAndFoldersShownSecretsNever() {
        var config = PostroomConfig()
        config.adminToken = "s3cret-token"
        config.outboundRelay = "smtp.example.com:587"
        config.outboundUsername = "postroom"
        config.outboundPassword = "relay-password"
        config.filtersDir = "/etc/postroom/filters"
        let text = EffectiveConfiguration(config, dkim: ["example.com (selector mail)"], mailboxes: ["1 me@imap.example.com/INBOX -> support"]).text
        XCTAssertTrue(text.contains("relay smtp.example.com:587, starttls as postroom (password set)"), text)
        XCTAssertTrue(text.contains("example.com (selector mail)"), text)
        XCTAssertTrue(text.contains("/etc/postroom/filters"), text)
        XCTAssertTrue(text.contains("1 me@imap.example.com/INBOX -> support"), text)
        XCTAssertTrue(text.contains("admin token set"), text)
        XCTAssertFalse(text.contains("s3cret-token"), text)
        XCTAssertFalse(text.contains("relay-password"), text)
    }

    func testDirectDeliveryAndNoKeysAreSaid() {
        let text = EffectiveConfiguration(PostroomConfig(), dkim: [], mailboxes: nil).text
        XCTAssertTrue(text.contains("direct to each recipient's MX (port 25"), text)
        XCTAssertTrue(text.contains("replies leave unsigned"), text)
        XCTAssertFalse(text.contains("mailboxes"), text)
    }
}
