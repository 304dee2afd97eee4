import XCTest

@testable import MailMessage

/// The one hard-bounce rule, used for delivery reports and for our client's answers.
final class EnhancedStatusTests: XCTestCase {
    func testWhatSuppressesAnAddress() {
        let table: [(String, Bool)] = [
            ("5.1.1", true), ("5.1.2", true), ("5.1.10", true), ("5.2.1", true), ("5.1.7", false), ("5.1.8", false),
            ("5.2.2", false), ("5.7.1", false), ("5.0.0", false), ("4.1.1", false), ("2.0.0", false),
            ("5.1", false), ("5.1.1.1", false), ("5..1", false), ("5.x.1", false), ("", false), ("5.1.1234", false),
        ]
        for (status, hard) in table { XCTAssertEqual(EnhancedStatus.isHardBounce(status), hard, status) }
    }

    func testADeliveryReportNeedsActionFailedAndAnAddressStatus() {
        typealias R = DeliveryReport.Recipient
        XCTAssertTrue(R(address: "a@x.test", action: "failed", status: "5.1.1", diagnostic: nil).isHardBounce)
        XCTAssertFalse(R(address: "a@x.test", action: "delayed", status: "5.1.1", diagnostic: nil).isHardBounce)
        XCTAssertFalse(R(address: "a@x.test", action: "failed", status: "5.7.1", diagnostic: nil).isHardBounce)
    }
}
