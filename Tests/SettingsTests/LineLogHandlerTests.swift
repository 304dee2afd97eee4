import Foundation
import Logging
import XCTest

@testable import Settings

/// The server's log lines: StreamLogHandler's format, one whole line per write.
final class LineLogHandlerTests: XCTestCase {
    func testLineHasStreamLogHandlersShape() {
        var handler = LineLogHandler(label: "postroom")
        handler.metadata["b"] = "2"
        let event = LogEvent(
            level: .info, message: "Q1: client=[127.0.0.1], result=250 queued", metadata: ["a": "1"], source: "Intake", file: #fileID,
            function: #function, line: #line)
        XCTAssertEqual(
            handler.format(event, timestamp: "2026-12-03T19:53:21+0000"),
            "2026-12-03T19:53:21+0000 info postroom: a=1 b=2 [Intake] Q1: client=[127.0.0.1], result=250 queued\n")
        let plain = LogEvent(level: .warning, message: "m", metadata: nil, source: "S", file: #fileID, function: #function, line: #line)
        handler.metadata = [:]
        XCTAssertEqual(handler.format(plain, timestamp: "T"), "T warning postroom: [S] m\n")
    }

    func testClockFormatsOncePerSecondInLocalTime() {
        let saved = getenv("TZ").map { String(cString: $0) }
        setenv("TZ", "UTC", 1)
        tzset()
        defer {
            if let saved { setenv("TZ", saved, 1) } else { unsetenv("TZ") }
            tzset()
        }
        XCTAssertEqual(LogClock.format(1_796_327_601), "2026-12-03T19:53:21+0000")
        let clock = LogClock()
        XCTAssertEqual(clock.now().count, "2026-12-03T19:53:21+0000".count)
    }

    /// Lines from many threads reach the file whole, none lost or interleaved.
    func testLinesFromManyThreadsArriveWhole() throws {
        let path = NSTemporaryDirectory() + "postroom-log-\(UUID().uuidString)"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer {
            close(descriptor)
            unlink(path)
        }
        let handler = LineLogHandler(label: "t", descriptor: descriptor)
        let long = String(repeating: "x", count: 3000)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let logger = Logger(label: "t", factory: { _ in handler })
            for n in 0..<200 { logger.info("thread=\(thread) n=\(n) \(long)") }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1600)
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix(long) && $0.contains(" info t: [") })
    }
}
