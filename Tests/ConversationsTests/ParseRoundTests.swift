import XCTest

@testable import Conversations

/// A round of parses with one deadline: what finishes in time is kept, in order; what
/// does not is nil, and the round does not wait for it.
final class ParseRoundTests: XCTestCase {
    func testEveryResultInOrder() async {
        let results = await ParseRound.run([3, 1, 2], budget: .seconds(5)) { $0 * 10 }
        XCTAssertEqual(results, [30, 10, 20])
    }

    func testASlowParseIsGivenUpAtTheDeadlineAndTheOthersKept() async {
        let started = ContinuousClock.now
        let results = await ParseRound.run([1, 2], budget: .milliseconds(200)) { n -> Int in
            if n == 2 { Thread.sleep(forTimeInterval: 3) }
            return n
        }
        XCTAssertEqual(results, [1, nil])
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2), "waited for the slow parse")
    }

    func testNothingToDo() async {
        let results = await ParseRound.run([Int](), budget: .seconds(1)) { $0 }
        XCTAssertEqual(results, [])
    }
}
