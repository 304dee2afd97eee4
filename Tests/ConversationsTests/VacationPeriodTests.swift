import XCTest

@testable import Conversations

/// Issue 10, suspected item: a huge vacation `:days` or `:seconds` overflowed the
/// period arithmetic; now it is clamped (RFC 5230 4.1).
final class VacationPeriodTests: XCTestCase {
    func testHugePeriodsAreClamped() {
        XCTAssertEqual(FilterActions.periodMillis(days: Int.max, seconds: nil), 365 * 86_400_000)
        XCTAssertEqual(FilterActions.periodMillis(days: Int.min, seconds: nil), 86_400_000)
        XCTAssertEqual(FilterActions.periodMillis(days: nil, seconds: Int.max), 365 * 86_400_000)
        XCTAssertEqual(FilterActions.periodMillis(days: nil, seconds: Int.min), 1000)
        XCTAssertEqual(FilterActions.periodMillis(days: nil, seconds: nil), 7 * 86_400_000)
    }
}
