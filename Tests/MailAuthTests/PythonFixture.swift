import Foundation
import XCTest

/// Runs one of this folder's fixture generators with Debian's python3 (dkimpy,
/// authheaders and friends come from scripts/bootstrap) and returns what it printed.
enum PythonFixture {
    static func output(of script: String, file: StaticString = #filePath, line: UInt = #line) throws -> Data {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("no /usr/bin/python3 (scripts/bootstrap installs it)") }
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(script) failed (its Python packages come from scripts/bootstrap)", file: file, line: line)
        return data
    }
}
