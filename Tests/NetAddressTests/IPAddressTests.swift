import XCTest

@testable import NetAddress

/// Addresses decide loopback (plain IMAP), internal (SSRF guard) and SPF ip4/ip6: a
/// wrong parse is a security hole, so every text form is pinned here.
final class IPAddressTests: XCTestCase {
    func testParsesEveryTextFormAndRefusesNames() {
        XCTAssertEqual(IPAddress("192.0.2.1")?.octets, [192, 0, 2, 1])
        XCTAssertEqual(IPAddress("::1")?.description, "::1")
        XCTAssertEqual(IPAddress("[2001:DB8::0:1]")?.description, "2001:db8::1")
        XCTAssertEqual(IPAddress("fe80::1%eth0")?.description, "fe80::1")
        XCTAssertEqual(IPAddress("::ffff:10.0.0.1")?.unmapped.description, "10.0.0.1")
        XCTAssertEqual(IPAddress("2001:db8:0:0:1:0:0:1")?.description, "2001:db8::1:0:0:1")
        XCTAssertEqual(IPAddress("1:2:3:4:5:6:7:8")?.description, "1:2:3:4:5:6:7:8")
        for bad in ["127.attacker.example", "127.1", "256.0.0.1", "1.2.3.4.", "01234.1.1.1", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "+1::", "::g", "", "localhost"] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }

    func testLoopbackAndInternalRanges() {
        for text in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.2"] { XCTAssertTrue(IPAddress(text)!.isLoopback, text) }
        for text in ["128.0.0.1", "::2", "::ffff:10.0.0.1"] { XCTAssertFalse(IPAddress(text)!.isLoopback, text) }
        for text in ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::", "fc00::1", "fd12::1", "fe80::1", "ff02::1", "::ffff:192.168.0.1"] {
            XCTAssertTrue(IPAddress(text)!.isInternal, text)
        }
        for text in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1", "::ffff:8.8.8.8"] { XCTAssertFalse(IPAddress(text)!.isInternal, text) }
    }

    func testCIDR() {
        let a = IPAddress("192.0.2.130")!
        XCTAssertTrue(a.isIn(IPAddress("192.0.2.128")!, prefixLength: 25))
        XCTAssertFalse(a.isIn(IPAddress("192.0.2.0")!, prefixLength: 25))
        XCTAssertTrue(a.isIn(IPAddress("0.0.0.0")!, prefixLength: 0))
        XCTAssertTrue(a.isIn(a, prefixLength: 32))
        XCTAssertFalse(a.isIn(a, prefixLength: 33))
        XCTAssertFalse(a.isIn(IPAddress("::")!, prefixLength: 0))
        XCTAssertTrue(IPAddress("2001:db8::1")!.isIn(IPAddress("2001:db8::")!, prefixLength: 32))
        XCTAssertFalse(IPAddress("2001:db9::1")!.isIn(IPAddress("2001:db8::")!, prefixLength: 32))
        XCTAssertEqual(IPAddress("2001:db8::cb01")!.dottedForm, "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1")
    }
}
