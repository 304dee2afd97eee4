import Foundation
import MailAuth
import NetAddress
import XCTest

@testable import Doctor

/// A zone as a table; names in `failing` fail like a resolver that does not answer.
struct TableDNS: DNSLookup {
    var txts: [String: [String]] = [:]
    var addresses: [String: [IPAddress]] = [:]
    var mxs: [String: [String]] = [:]
    var ptrs: [String: [String]] = [:]
    var failing: Set<String> = []

    func check(_ name: String) throws(DNSLookupFailure) {
        if failing.contains(name) { throw DNSLookupFailure("timed out") }
    }
    func txt(_ name: String) async throws(DNSLookupFailure) -> [String] { try check(name); return txts[name] ?? [] }
    func a(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try check(name); return (addresses[name] ?? []).filter(\.isV4) }
    func aaaa(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try check(name); return (addresses[name] ?? []).filter { !$0.isV4 } }
    func mx(_ name: String) async throws(DNSLookupFailure) -> [String] { try check(name); return mxs[name] ?? [] }
    func ptr(_ address: IPAddress) async throws(DNSLookupFailure) -> [String] { try check(address.description); return ptrs[address.description] ?? [] }
}

final class DoctorTests: XCTestCase {
    let ip = IPAddress("192.0.2.10")!

    func severities(_ findings: [Finding]) -> [Finding.Severity] { findings.map(\.severity) }

    func testHostnameAddressesAndReverseDNS() async {
        var dns = TableDNS(addresses: ["mx.example.test": [ip, IPAddress("2001:db8::10")!]], ptrs: ["192.0.2.10": ["MX.example.test."]])
        var result = await DNSChecks(dns: dns, resolver: "test").hostname("mx.example.test")
        XCTAssertEqual(result.addresses.count, 2)
        XCTAssertEqual(severities(result.findings), [.ok, .ok, .problem], "\(result.findings)")
        XCTAssertTrue(result.findings[2].message.contains("2001:db8::10 has no PTR"))
        dns.failing = ["192.0.2.10"]
        result = await DNSChecks(dns: dns, resolver: "127.0.0.1:53").hostname("mx.example.test")
        XCTAssertEqual(result.findings[1].severity, .warning)
        XCTAssertTrue(result.findings[1].fix?.contains("127.0.0.1:53") ?? false)
        let local = await DNSChecks(dns: dns, resolver: "test").hostname("localhost")
        XCTAssertEqual(severities(local.findings), [.problem])
        let lan = await DNSChecks(dns: TableDNS(addresses: ["mx.lan.test": [IPAddress("10.0.0.5")!]]), resolver: "test").hostname("mx.lan.test")
        XCTAssertEqual(severities(lan.findings), [.ok, .warning])
        XCTAssertEqual(lan.addresses, [])
    }

    func testMXByNameByAddressOrElsewhere() async {
        let dns = TableDNS(
            addresses: ["in.example.test": [ip]], mxs: ["a.test": ["mx.example.test"], "b.test": ["in.example.test"], "c.test": ["mail.other.test"]])
        let checks = DNSChecks(dns: dns, resolver: "test")
        let a = await checks.mx(domain: "a.test", hostname: "mx.example.test", hostAddresses: [ip])
        let b = await checks.mx(domain: "b.test", hostname: "mx.example.test", hostAddresses: [ip])
        let c = await checks.mx(domain: "c.test", hostname: "mx.example.test", hostAddresses: [ip])
        let d = await checks.mx(domain: "d.test", hostname: "mx.example.test", hostAddresses: [ip])
        XCTAssertEqual(severities(a + b + c + d), [.ok, .ok, .warning, .problem])
        XCTAssertEqual(d[0].fix, "publish d.test. IN MX 10 mx.example.test. (or forward the existing mailbox to the inbox's fallback address)")
    }

    func testSPFIsEvaluatedForTheSendingAddresses() async {
        let dns = TableDNS(txts: ["a.test": ["v=spf1 ip4:192.0.2.0/24 -all"], "b.test": ["v=spf1 -all"], "c.test": ["v=spf1 a -all", "v=spf1 mx -all"]])
        let checks = DNSChecks(dns: dns, resolver: "test")
        let pass = await checks.spf(domain: "a.test", hostname: "mx.example.test", senders: [ip], via: "this host")
        let fail = await checks.spf(domain: "b.test", hostname: "mx.example.test", senders: [ip], via: "this host")
        let two = await checks.spf(domain: "c.test", hostname: "mx.example.test", senders: [ip], via: "this host")
        let none = await checks.spf(domain: "d.test", hostname: "mx.example.test", senders: [ip], via: "this host")
        XCTAssertEqual(severities(pass + fail + two + none), [.ok, .problem, .problem, .problem])
        XCTAssertEqual(fail[0].fix, "add ip4:192.0.2.10 to b.test's SPF record (v=spf1 -all)")
        XCTAssertEqual(none[0].fix, "publish d.test. IN TXT \"v=spf1 ip4:192.0.2.10 -all\"")
    }

    func testDKIMRecordAgainstTheKeyFile() async {
        let dns = TableDNS(txts: [
            "s1._domainkey.a.test": ["v=DKIM1; k=ed25519; p=AAAA BBBB"], "s2._domainkey.a.test": ["v=DKIM1; k=ed25519; p=CCCC"],
            "s3._domainkey.a.test": ["v=DKIM1; p="],
        ])
        let checks = DNSChecks(dns: dns, resolver: "test")
        let findings = await checks.dkim(
            domain: "a.test", keys: [("s1", "ed25519", "AAAABBBB"), ("s2", "ed25519", "DDDD"), ("s3", "rsa", "EEEE"), ("s4", "rsa", "FFFF")], keyFolder: "/k")
        XCTAssertEqual(severities(findings), [.ok, .problem, .problem, .problem], "\(findings)")
        XCTAssertTrue(findings[2].message.contains("revoked"))
        let none = await checks.dkim(domain: "b.test", keys: [], keyFolder: "/k")
        XCTAssertEqual(severities(none), [.warning])
    }

    func testDMARCAtTheDomainOrItsOrganisationalDomain() async {
        let dns = TableDNS(txts: ["_dmarc.example.com": ["v=DMARC1; p=reject"], "_dmarc.bad.test": ["v=DMARC1; x=1"]])
        let checks = DNSChecks(dns: dns, resolver: "test")
        let sub = await checks.dmarc(domain: "mail.example.com")
        XCTAssertEqual(sub.map(\.message), ["_dmarc.example.com: p=reject"])
        let bad = await checks.dmarc(domain: "bad.test")
        let none = await checks.dmarc(domain: "none.test")
        XCTAssertEqual(severities(bad), [.problem])
        XCTAssertEqual(severities(none), [.warning])
    }

    func testCertificateDatesNamesAndIssuer() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func facts(days: Double, names: [String], selfSigned: Bool = false) -> LocalChecks.CertificateFacts {
            .init(notAfter: now.addingTimeInterval(days * 86400), notBefore: now.addingTimeInterval(-86400), names: names, selfSigned: selfSigned)
        }
        let good = LocalChecks.certificate(facts(days: 60, names: ["mx.example.test"]), path: "c.pem", configured: true, hostname: "mx.example.test", now: now)
        XCTAssertEqual(severities(good), [.ok, .ok])
        let soon = LocalChecks.certificate(facts(days: 3.5, names: ["*.example.test"]), path: "c.pem", configured: true, hostname: "MX.example.test", now: now)
        XCTAssertEqual(severities(soon), [.warning, .ok])
        XCTAssertTrue(soon[0].message.contains("expires in 3 days"))
        let expired = LocalChecks.certificate(
            facts(days: -1, names: ["other.test"], selfSigned: true), path: "c.pem", configured: true, hostname: "mx.example.test", now: now)
        XCTAssertEqual(severities(expired), [.problem, .problem, .warning])
        XCTAssertTrue(expired[1].fix?.contains("certbot certonly -d mx.example.test") ?? false)
        XCTAssertFalse(LocalChecks.covers("*.example.test", "a.b.example.test"))
        XCTAssertFalse(LocalChecks.covers("*.example.test", "example.test"))
    }

    func testSecretsReadableByOthersAndForeignOwners() {
        let files: [LocalChecks.FileFacts] = [
            .init(path: "/d", mode: 0o700, owner: 5, isDirectory: true, secret: true),
            .init(path: "/d/admin-token", mode: 0o640, owner: 5, isDirectory: false, secret: true),
            .init(path: "/d/postroom.sqlite", mode: 0o600, owner: 0, isDirectory: false, secret: true),
        ]
        let findings = LocalChecks.permissions(files, user: 5)
        XCTAssertEqual(findings.map(\.fix), ["chmod 600 /d/admin-token", "chown -R <the server's user> /d/postroom.sqlite"])
        XCTAssertEqual(severities(LocalChecks.permissions([files[0]], user: 5)), [.ok])
    }

    func testListenersForAnMX() {
        XCTAssertEqual(severities(LocalChecks.listeners(smtpListen: "0.0.0.0", smtpPort: 25, httpListen: "127.0.0.1", httpPort: 8080)), [.ok])
        XCTAssertEqual(
            severities(LocalChecks.listeners(smtpListen: "127.0.0.1", smtpPort: 2525, httpListen: "0.0.0.0", httpPort: 8080)), [.warning, .warning, .warning])
    }

    func testReportText() {
        let report = DoctorReport([.ok("mx", "fine"), .problem("spf", "none", fix: "publish it")])
        XCTAssertEqual(report.text, "ok      mx: fine\nPROBLEM spf: none\n        fix: publish it\n1 problem, 0 warnings")
    }
}
