import XCTest

@testable import MailboxPull

/// The pull's decision, table-style: checkpoint and EXAMINE in, step out.
final class PullPlanTests: XCTestCase {
    func testDecisions() {
        typealias C = PullCheckpoint
        let rows: [(String, C, UInt32, UInt32?, UInt64?, Bool, PullStep)] = [
            ("first pull with history reads from the start", C(uidValidity: nil, lastUID: 0), 7, 120, nil, false, .fetch(after: 0)),
            ("first pull from now marks the end", C(uidValidity: nil, lastUID: 0), 7, 120, nil, true, .markEnd(atLeast: 119)),
            ("from now, UIDNEXT unknown", C(uidValidity: nil, lastUID: 0), 7, nil, nil, true, .markEnd(atLeast: 0)),
            ("from now, UIDNEXT 0 does not wrap", C(uidValidity: nil, lastUID: 0), 7, 0, nil, true, .markEnd(atLeast: 0)),
            ("later pull goes on after the checkpoint", C(uidValidity: 7, lastUID: 40), 7, 120, nil, true, .fetch(after: 40)),
            ("a new UIDVALIDITY reads again", C(uidValidity: 7, lastUID: 40), 8, 120, nil, false, .restart),
            ("a new UIDVALIDITY wins over CONDSTORE", C(uidValidity: 7, lastUID: 40, highestModSeq: 900), 8, 120, 900, false, .restart),
            ("CONDSTORE: nothing changed", C(uidValidity: 7, lastUID: 40, highestModSeq: 900), 7, 120, 900, false, .unchanged),
            ("CONDSTORE: something changed", C(uidValidity: 7, lastUID: 40, highestModSeq: 900), 7, 120, 901, false, .fetch(after: 40)),
            ("CONDSTORE: never read through", C(uidValidity: 7, lastUID: 40), 7, 120, 900, false, .fetch(after: 40)),
            ("server without CONDSTORE", C(uidValidity: 7, lastUID: 40, highestModSeq: 900), 7, 120, nil, false, .fetch(after: 40)),
            ("a stray last UID without a validity is ignored", C(uidValidity: nil, lastUID: 99), 7, 120, nil, false, .fetch(after: 0)),
        ]
        for (name, checkpoint, validity, next, modseq, fromNow, expected) in rows {
            XCTAssertEqual(
                PullPlan.decide(checkpoint, uidValidity: validity, uidNext: next, highestModSeq: modseq, startFromNow: fromNow), expected, name)
        }
    }
}
