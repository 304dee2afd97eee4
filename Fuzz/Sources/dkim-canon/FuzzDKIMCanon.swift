// DKIM canonicalisation (RFC 6376 3.4) as DKIMSigner.sign does it: the message split
// into header fields and body, every field through relaxed header canonicalisation,
// the body through relaxed body canonicalisation, and the whole signing path with a
// fixed Ed25519 key. (DKIMSigner implements relaxed/relaxed only: there is no
// "simple" canonicalisation in Sources/DKIM to fuzz.)
//
// Input: the message bytes.
import Foundation
import FuzzSupport
@testable import DKIM

let signer = DKIMSigner(domain: "example.com", selector: "fuzz", key: .ed25519(Data(repeating: 7, count: 32)))
let signingTime = Date(timeIntervalSince1970: 1_795_996_800)

func fuzzOne(_ bytes: [UInt8]) {
    let (fields, body) = DKIMSigner.split(bytes)
    for field in fields {
        let canonical = DKIMSigner.relaxedHeader(field.name, field.value)
        // Relaxed: unfolded, so a canonical field is one line ending in no white space.
        invariant(!canonical.contains("\r\n"), "relaxed header keeps a CRLF: \(canonical.debugDescription)")
        invariant(canonical.last != " " && canonical.last != "\t", "relaxed header ends in white space")
    }
    let canonicalBody = DKIMSigner.relaxedBody(body)
    if !canonicalBody.isEmpty {
        invariant(canonicalBody.suffix(2) == Data([0x0D, 0x0A]), "relaxed body does not end in CRLF")
    }
    // Canonical form is a fixed point: a verifier canonicalising what we sent gets
    // the same bytes, so the body hash we signed is the one it computes.
    let again = DKIMSigner.relaxedBody(Array(canonicalBody))
    invariant(again == canonicalBody, "relaxed body canonicalisation is not idempotent")
    if bytes.count <= 64 * 1024 {
        let signed = try? signer.sign(bytes, at: signingTime)
        if let signed { invariant(signed.count > bytes.count, "signature header missing") }
    }
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
