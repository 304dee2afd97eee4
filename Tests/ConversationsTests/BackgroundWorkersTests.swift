import Dispatch
import Synchronization
import XCTest

@testable import Conversations

/// Parsing's threads: rounds that follow one another reuse the threads (the round is
/// answered only once its thread is free again), and a thread held by a long run
/// does not hold up the next work.
final class BackgroundWorkersTests: XCTestCase {
    func testRoundsReuseTheirThreads() async {
        let workers = BackgroundWorkers(niceness: 10, limit: 64)
        for round in 0..<200 {
            let results = await ParseRound.run([round, round + 1], budget: .seconds(5), { $0 * 2 }, on: workers)
            XCTAssertEqual(results, [round * 2, (round + 1) * 2])
        }
        XCTAssertLessThanOrEqual(workers.threads, 3)
    }

    func testLongRunDoesNotHoldUpTheNext() {
        let workers = BackgroundWorkers(niceness: 10, limit: 64)
        let release = DispatchSemaphore(value: 0)
        let done = expectation(description: "second")
        workers.submit {
            release.wait()
            return nil
        }
        workers.submit {
            done.fulfill()
            return nil
        }
        wait(for: [done], timeout: 5)
        release.signal()
    }
}
