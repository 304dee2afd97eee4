import XCTest

@testable import DNSClient

/// Issue 10: DNS answers are checked before they are believed; internal addresses are
/// recognised so a stranger's MX cannot point delivery at this network.
final class DNSTests: XCTestCase {
    func answer(id: UInt16, qr: Bool, name: String, type: UInt16, address: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), qr ? 0x81 : 0x01, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        for label in name.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += Array(label.utf8) }
        out += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        out += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + address
        return out
    }

    func testQuestionAndFlagsAreParsed() throws {
        let m = try DNSMessage.parse(answer(id: 7, qr: true, name: "Mx.Example.COM", type: 1, address: [192, 0, 2, 1]))
        XCTAssertTrue(m.isResponse)
        XCTAssertEqual(m.question?.name, "mx.example.com")
        XCTAssertEqual(m.question?.type, 1)
        XCTAssertEqual(m.answers.map(\.value), ["192.0.2.1"])
        XCTAssertFalse(try DNSMessage.parse(answer(id: 7, qr: false, name: "a.test", type: 1, address: [1, 2, 3, 4])).isResponse)
        XCTAssertEqual(MXResolver.normalized("Mx.Example.COM."), "mx.example.com")
        XCTAssertEqual(MXResolver.normalized("bücher.example"), "bücher.example")
    }

    func testTruncatedAndLoopingAnswersAreErrors() {
        var looping = answer(id: 1, qr: true, name: "a.test", type: 1, address: [1, 2, 3, 4])
        looping[12] = 0xC0
        looping[13] = 12  // the question's name points at itself
        XCTAssertThrowsError(try DNSMessage.parse(looping))
        XCTAssertThrowsError(try DNSMessage.parse(Array(answer(id: 1, qr: true, name: "a.test", type: 1, address: [1, 2, 3, 4]).prefix(20))))
    }

    func testInternalAddresses() {
        for address in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.1.1", "0.0.0.0", "100.64.0.1", "224.0.0.1",
                        "0:0:0:0:0:0:0:1", "fd00:0:0:0:0:0:0:1", "fe80:0:0:0:0:0:0:1", "0:0:0:0:0:ffff:a00:1", "1.2.3", "nonsense"] {
            XCTAssertTrue(MXResolver.isInternal(address), address)
        }
        for address in ["192.0.2.1", "172.32.0.1", "8.8.8.8", "2001:db8:0:0:0:0:0:1", "0:0:0:0:0:ffff:808:808"] {
            XCTAssertFalse(MXResolver.isInternal(address), address)
        }
    }
}
