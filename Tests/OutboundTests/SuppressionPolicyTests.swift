import Foundation
import GRDB
import XCTest

@testable import Outbound
@testable import Store

/// The one suppression policy, on a real SQLite store.
final class SuppressionPolicyTests: XCTestCase {
    func testSuppressedAndOwnAddressesAreRefusedWhateverTheirCase() async throws {
        let dir = NSTemporaryDirectory() + "postroom-suppression-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.open(dataDir: dir)
        _ = try await store.createInbox(name: "Support", addresses: ["support@example.com"], fallbackDomain: "in.test")
        try await store.database.write { db in
            // As a bounce report may spell it.
            try db.execute(
                sql: "INSERT INTO suppression (email, reason, status, created_at) VALUES ('Ann@Customer.Test', 'hard bounce', '5.1.1', 0)")
        }
        try await store.database.read { db in
            let own = try Store.ownAddresses(db)
            XCTAssertEqual(try SuppressionPolicy.refusal(for: "ann@customer.test", own: own, db), .suppressed)
            XCTAssertEqual(try SuppressionPolicy.refusal(for: "ANN@customer.test", own: own, db), .suppressed)
            XCTAssertEqual(try SuppressionPolicy.refusal(for: "Support@Example.com", own: own, db), .ownAddress)
            XCTAssertNil(try SuppressionPolicy.refusal(for: "bob@customer.test", own: own, db))
        }
        try await Suppressions(store: store).remove("ann@customer.test")
        try await store.database.read { db in
            XCTAssertFalse(try SuppressionPolicy.isSuppressed("ann@customer.test", db))
        }
    }
}
