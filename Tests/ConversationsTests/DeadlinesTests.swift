import Dispatch
import Synchronization
import XCTest

@testable import Conversations

/// Many timeouts on one timer: due ones run, cancelled ones never do and let go of
/// what they hold at once, and an earlier deadline re-arms the timer.
final class DeadlinesTests: XCTestCase {
    func testDueRunCancelledDoNotAndEarlierRearms() {
        let deadlines = Deadlines()
        let ran = Mutex<[String]>([])
        let late = expectation(description: "late")
        let early = expectation(description: "early")
        deadlines.add(after: 0.3) {
            ran.withLock { $0.append("late") }
            late.fulfill()
        }
        let cancelled = deadlines.add(after: 0.1) { ran.withLock { $0.append("cancelled") } }
        deadlines.add(after: 0.05) {
            ran.withLock { $0.append("early") }
            early.fulfill()
        }
        deadlines.cancel(cancelled)
        XCTAssertEqual(deadlines.pending, 2)
        wait(for: [early, late], timeout: 5, enforceOrder: true)
        XCTAssertEqual(ran.withLock { $0 }, ["early", "late"])
        XCTAssertEqual(deadlines.pending, 0)
    }

    /// A short timeout added while a long one is armed still fires on time, and lists
    /// of different delays keep their own order.
    func testShortAfterLongFiresFirst() {
        let deadlines = Deadlines()
        let ran = Mutex<[String]>([])
        let short = expectation(description: "short")
        let long = expectation(description: "long")
        deadlines.add(after: 0.4) {
            ran.withLock { $0.append("long") }
            long.fulfill()
        }
        for _ in 0..<100 { deadlines.cancel(deadlines.add(after: 0.4) {}) }
        deadlines.add(after: 0.05) {
            ran.withLock { $0.append("short") }
            short.fulfill()
        }
        wait(for: [short, long], timeout: 5, enforceOrder: true)
        XCTAssertEqual(ran.withLock { $0 }, ["short", "long"])
    }

    func testManyCancelledThenOneDue() {
        let deadlines = Deadlines()
        for _ in 0..<5000 { deadlines.cancel(deadlines.add(after: 0.01) {}) }
        XCTAssertEqual(deadlines.pending, 0)
        let due = expectation(description: "due")
        deadlines.add(after: 0.05) { due.fulfill() }
        wait(for: [due], timeout: 5)
    }
}
