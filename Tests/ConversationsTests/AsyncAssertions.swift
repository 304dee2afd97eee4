import XCTest

/// XCTAssert* take synchronous autoclosures; these await first.
extension XCTestCase {
    func assertEqual<T: Equatable>(
        _ a: @autoclosure () async throws -> T, _ b: @autoclosure () async throws -> T, _ message: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let left = try await a()
        let right = try await b()
        XCTAssertEqual(left, right, message, file: file, line: line)
    }

    func assertNil<T>(_ a: @autoclosure () async throws -> T?, file: StaticString = #filePath, line: UInt = #line) async throws {
        let value = try await a()
        XCTAssertNil(value, file: file, line: line)
    }

}
