import XCTest

@testable import SMTPProtocol

/// The DATA decoder against a deliberately simple reference, over random messages
/// fed in random chunk sizes: the fast path must not change any answer.
final class DataDecoderTests: XCTestCase {
    /// Reference: split at CRLF, stop at a line that is exactly ".", unstuff one dot.
    func reference(_ stream: [UInt8]) -> (body: [UInt8], bareLF: Bool, bareCR: Bool, consumed: Int)? {
        var body: [UInt8] = []
        var bareLF = false
        var bareCR = false
        var lineStart = 0
        var i = 0
        while i + 1 < stream.count {
            if stream[i] == 0x0D && stream[i + 1] == 0x0A {
                var line = Array(stream[lineStart..<i])
                if line == [UInt8(ascii: ".")] { return (body, bareLF, bareCR, i + 2) }
                if line.first == UInt8(ascii: ".") { line.removeFirst() }
                if line.contains(0x0A) { bareLF = true }
                if line.contains(0x0D) { bareCR = true }
                body += line + [0x0D, 0x0A]
                i += 2
                lineStart = i
            } else {
                i += 1
            }
        }
        return nil
    }

    func testRandomMessagesAndChunkings() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array("ab.. \t".utf8) + [0x0D, 0x0A, 0xC3, 0xA9]
        for round in 0..<2000 {
            var stream: [UInt8] = []
            let lines = Int.random(in: 0...12, using: &rng)
            for _ in 0..<lines {
                let length = Int.random(in: 0...30, using: &rng)
                for _ in 0..<length {
                    // Mostly ordinary text, sometimes CR or LF alone.
                    let b = Int.random(in: 0..<100, using: &rng) < 90 ? alphabet[Int.random(in: 0..<6, using: &rng)] : alphabet.randomElement(using: &rng)!
                    stream.append(b)
                }
                stream += [0x0D, 0x0A]
            }
            stream += Array(".\r\nNEXT".utf8)
            guard let expected = reference(stream) else { continue }
            var decoder = DataDecoder(maxSize: 1 << 20, maxTextLine: 1000)
            var offset = 0
            var finished = false
            while offset < stream.count && !finished {
                let size = Int.random(in: 1...9, using: &rng)
                let end = min(stream.count, offset + size)
                let (consumed, done) = stream.withUnsafeBufferPointer { decoder.feed(UnsafeBufferPointer(rebasing: $0[offset..<end])) }
                offset += consumed
                finished = done
            }
            XCTAssertTrue(finished, "round \(round)")
            XCTAssertEqual(offset, expected.consumed, "round \(round)")
            XCTAssertEqual(decoder.body, expected.body, "round \(round): \(stream)")
            XCTAssertEqual(decoder.sawBareLF, expected.bareLF, "round \(round): \(stream)")
            XCTAssertEqual(decoder.sawBareCR, expected.bareCR, "round \(round): \(stream)")
        }
    }

    func testSizeLimitKeepsCounting() {
        var decoder = DataDecoder(maxSize: 10, maxTextLine: 1000)
        let stream = Array("0123456789abcdef\r\n.\r\n".utf8)
        let (consumed, finished) = stream.withUnsafeBufferPointer { decoder.feed($0) }
        XCTAssertTrue(finished)
        XCTAssertEqual(consumed, stream.count)
        XCTAssertEqual(decoder.body.count, 10)
        XCTAssertEqual(decoder.receivedSize, 18)
        XCTAssertEqual(decoder.refusal, .messageTooBig)
    }

    func testLongLineFlaggedInFastPath() {
        var decoder = DataDecoder(maxSize: 1 << 20, maxTextLine: 1000)
        let stream = Array(("a" + String(repeating: "b", count: 998) + "\r\n.\r\n").utf8)
        _ = stream.withUnsafeBufferPointer { decoder.feed($0) }
        XCTAssertEqual(decoder.refusal, .textLineTooLong)
    }
}
