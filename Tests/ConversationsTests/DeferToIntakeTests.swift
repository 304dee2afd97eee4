import Dispatch
import Foundation
import XCTest

@testable import Conversations
@testable import Outbound
@testable import Store

/// processing.defer-under-intake: filing waits while intake is under a burst, never
/// past the cap counted from the oldest message's arrival, and not at all without a
/// burst or with the cap at zero.
final class DeferToIntakeTests: XCTestCase {
    var dir: String!
    var processor: MessageProcessor!
    var store: Store!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "postroom-defer-\(UUID().uuidString)"
        store = try Store.open(dataDir: dir)
        processor = MessageProcessor(store: store, token: ReplyToken(secret: Array(repeating: 1, count: 32)))
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func elapsed(_ work: () async -> Void) async -> Double {
        let start = ContinuousClock.now
        await work()
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    func busyFor(seconds: Double) {
        store.intakeBusyUntil.store(DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9), ordering: .relaxed)
    }

    func testNoBurstNoWait() async {
        processor.deferUnderIntake = .seconds(10)
        let waited = await elapsed { await processor.deferToIntake(oldest: Store.nowMillis()) }
        XCTAssertLessThan(waited, 0.5)
    }

    func testBurstWaitsUntilItEnds() async {
        processor.deferUnderIntake = .seconds(10)
        busyFor(seconds: 0.3)
        let waited = await elapsed { await processor.deferToIntake(oldest: Store.nowMillis()) }
        XCTAssertGreaterThanOrEqual(waited, 0.25)
        XCTAssertLessThan(waited, 5)
    }

    func testEndlessBurstStopsAtTheCap() async {
        processor.deferUnderIntake = .milliseconds(400)
        busyFor(seconds: 60)
        // The oldest message arrived 200 ms ago: 200 ms left of its cap.
        let waited = await elapsed { await processor.deferToIntake(oldest: Store.nowMillis() - 200) }
        XCTAssertGreaterThanOrEqual(waited, 0.15)
        XCTAssertLessThan(waited, 5)
    }

    func testClockSteppedBackWaitsNoLongerThanTheCap() async {
        processor.deferUnderIntake = .milliseconds(300)
        busyFor(seconds: 60)
        // Arrived "an hour from now": the wall clock went back after it was spooled.
        let waited = await elapsed { await processor.deferToIntake(oldest: Store.nowMillis() + 3_600_000) }
        XCTAssertGreaterThanOrEqual(waited, 0.25)
        XCTAssertLessThan(waited, 5)
    }

    func testZeroNeverDefers() async {
        processor.deferUnderIntake = .zero
        busyFor(seconds: 60)
        let waited = await elapsed { await processor.deferToIntake(oldest: Store.nowMillis()) }
        XCTAssertLessThan(waited, 0.5)
    }
}
