// Sender authentication (MailAuth): what a stranger controls is the message (DKIM
// signatures, ARC sets, Authentication-Results fields, From) and the DNS records of
// its own domains (SPF records with macros and includes, DKIM keys, DMARC records).
//
// Input: the first octet picks the part, the rest is the data:
//   0: an SPF record, parsed, macro-expanded and evaluated with every TXT lookup
//      answering that same record (includes and redirects recurse into it);
//   1: a message, through DKIM and ARC verification (keys answered from a fixed
//      Ed25519 record), the removal of forged Authentication-Results and the From domain;
//   2: a DMARC record and a domain name, through DMARC evaluation and the public
//      suffix list.
import Dispatch
import Foundation
import FuzzSupport
import NetAddress

@testable import MailAuth

struct FixedDNS: DNSLookup {
    let text: String

    func txt(_ name: String) async throws(DNSLookupFailure) -> [String] {
        if name.hasPrefix("timeout.") { throw DNSLookupFailure("timeout") }
        return [text]
    }
    func a(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { name.count % 2 == 0 ? [IPAddress(octets: [192, 0, 2, 1])!] : [] }
    func aaaa(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { [] }
    func mx(_ name: String) async throws(DNSLookupFailure) -> [String] { ["mx." + name] }
    func ptr(_ address: IPAddress) async throws(DNSLookupFailure) -> [String] { ["host.example"] }
}

let keyRecord = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
let suffixes = PublicSuffixList(text: "com\nco.uk\n*.ck\n!www.ck\ngithub.io\n")

func run(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

func fuzzOne(_ bytes: [UInt8]) {
    guard let mode = bytes.first else { return }
    let data = Array(bytes.dropFirst().prefix(256 * 1024))
    let text = String(decoding: data, as: UTF8.self)
    switch mode % 3 {
    case 0:
        _ = try? SPFRecord.parse(text)
        let context = MacroContext(
            ip: IPAddress(octets: [192, 0, 2, 7])!, local: "a", senderDomain: "example.com", domain: "example.com", helo: "h.example",
            receiver: "mx.test", now: { Date(timeIntervalSince1970: 0) })
        if let expanded = try? Macro.expand(text, context, explanation: true) { blackHole(expanded) }
        let checker = SPFChecker(dns: FixedDNS(text: "v=spf1 " + text), receiver: "mx.test")
        run {
            let outcome = await checker.checkMailFrom(ip: IPAddress(octets: [192, 0, 2, 1])!, mailFrom: "a@example.com", helo: "h.example")
            invariant(!outcome.reason.isEmpty, "an SPF outcome without a reason")
        }
    case 1:
        let dns = FixedDNS(text: keyRecord)
        run {
            let signatures = await DKIMVerifier(dns: dns).verify(data)
            invariant(signatures.count <= 8, "more signatures checked than the limit")
            _ = await ARCVerifier(dns: dns).verify(data)
        }
        let cleaned = Authenticator.removingResults(claiming: "mx.test", from: data)
        invariant(cleaned.count <= data.count, "removing fields made the message longer")
        blackHole(Authenticator.fromDomain(data))
        blackHole(Canonicalization.relaxed.body(data[...]).count + Canonicalization.simple.body(data[...]).count)
    default:
        let parts = text.split(separator: "\n", maxSplits: 1).map(String.init)
        let record = parts.first ?? ""
        let domain = parts.count > 1 ? parts[1] : "example.com"
        blackHole(suffixes.organizationalDomain(domain))
        _ = try? TagList.parse(record)
        let checker = DMARCChecker(dns: FixedDNS(text: record), suffixes: suffixes)
        run {
            let outcome = await checker.check(fromDomain: domain, spf: .pass, spfDomain: "mail." + domain, dkim: [])
            invariant(!outcome.reason.isEmpty, "a DMARC outcome without a reason")
        }
    }
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
