import Crypto
import Foundation
import XCTest
import _CryptoExtras

@testable import DKIM

final class DKIMTests: XCTestCase {
    /// RFC 6376 section 3.4.5.
    func testRelaxedCanonicalizationExample() {
        let message = Array("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n".utf8)
        let (fields, body) = DKIMSigner.split(message)
        let headers = fields.map { DKIMSigner.relaxedHeader($0.name, $0.value) }
        XCTAssertEqual(headers, ["a:X", "b:Y Z"])
        XCTAssertEqual(String(decoding: DKIMSigner.relaxedBody(body), as: UTF8.self), " C\r\nD E\r\n")
        XCTAssertEqual(DKIMSigner.relaxedBody([]), Data())
    }

    /// Fuzzer finding: `$` in the trailing-space regex also matched before a final bare
    /// LF, so canonicalising twice differed (RFC 6376 3.4.4 trims only before CRLF).
    func testRelaxedBodyIsAFixedPoint() {
        for body in ["a \n", "a\t \nb \r\n", "x  \r\n \n\r\n", " \n \n"] {
            let once = DKIMSigner.relaxedBody(Array(body.utf8))
            XCTAssertEqual(DKIMSigner.relaxedBody(Array(once)), once, body.debugDescription)
        }
    }

    func testRSASignatureVerifiesWithThePublicKey() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let signer = DKIMSigner(domain: "example.com", selector: "s1", key: .rsa(key))
        let signed = try signer.sign(Array("From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n".utf8), at: Date(timeIntervalSince1970: 1000))
        let text = String(decoding: signed, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1;"))
        // Recompute what was signed and check it with the public key.
        let (fields, _) = DKIMSigner.split(signed)
        let sig = fields.first { $0.name == "DKIM-Signature" }!.value
        let b = sig.components(separatedBy: "b=").last!.replacingOccurrences(of: "\r\n\t", with: "").trimmingCharacters(in: .whitespaces)
        let unsigned = sig.replacingOccurrences(of: b.isEmpty ? "\u{0}" : sig.components(separatedBy: "b=").last!, with: "")
        var canonical = fields.filter { ["from", "subject"].contains($0.name.lowercased()) }.map { DKIMSigner.relaxedHeader($0.name, $0.value) + "\r\n" }.joined()
        canonical += DKIMSigner.relaxedHeader("DKIM-Signature", unsigned)
        let signature = _RSA.Signing.RSASignature(rawRepresentation: Data(base64Encoded: b)!)
        XCTAssertTrue(key.publicKey.isValidSignature(signature, for: SHA256.hash(data: Data(canonical.utf8)), padding: .insecurePKCS1v1_5))
    }

    func testKeygenAndLoad() throws {
        let folder = NSTemporaryDirectory() + "dkim-\(UUID().uuidString)"
        let rsa = try DKIMSigner.generate(folder: folder, domain: "Example.com", selector: "mail", algorithm: "rsa")
        XCTAssertTrue(rsa.record.hasPrefix("mail._domainkey.example.com. IN TXT ( \"v=DKIM1; k=rsa; p="), rsa.record)
        // Zone files refuse a character-string over 255 bytes: the RSA record is split.
        let strings = rsa.record.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        XCTAssertGreaterThan(strings.count, 1)
        XCTAssertTrue(strings.allSatisfy { $0.utf8.count <= 255 })
        XCTAssertTrue(strings.joined().hasPrefix("v=DKIM1; k=rsa; p=MII"))
        XCTAssertEqual(DKIMSigner.zoneRecord(name: "s._domainkey.a.test.", text: "v=DKIM1; p=x"), "s._domainkey.a.test. IN TXT \"v=DKIM1; p=x\"")
        let ed = try DKIMSigner.generate(folder: folder, domain: "other.test", selector: "ed", algorithm: "ed25519")
        XCTAssertTrue(ed.record.contains("k=ed25519"))
        let signers = try DKIMSigner.load(folder: folder)
        XCTAssertEqual(Set(signers.keys), ["example.com", "other.test"])
        XCTAssertEqual(signers["other.test"]?.selector, "ed")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: rsa.path)[.posixPermissions] as? Int, 0o600)
    }

    func testRSAAndEd25519KeysOfOneDomainBothSign() throws {
        let folder = NSTemporaryDirectory() + "dkim-both-\(UUID().uuidString)"
        _ = try DKIMSigner.generate(folder: folder, domain: "example.com", selector: "ed", algorithm: "ed25519")
        _ = try DKIMSigner.generate(folder: folder, domain: "example.com", selector: "rsa", algorithm: "rsa")
        let signers = try DKIMSigner.load(folder: folder)
        XCTAssertEqual(signers.count, 1)
        let signer = try XCTUnwrap(signers["example.com"])
        XCTAssertEqual(Set(signer.keyNames), ["ed (ed25519-sha256)", "rsa (rsa-sha256)"])
        let signed = String(decoding: try signer.sign(Array("From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n".utf8)), as: UTF8.self)
        let headers = signed.components(separatedBy: "\r\n\r\n")[0]
        XCTAssertEqual(headers.components(separatedBy: "DKIM-Signature:").count - 1, 2, headers)
        XCTAssertTrue(headers.contains("a=ed25519-sha256") && headers.contains("s=ed;"), headers)
        XCTAssertTrue(headers.contains("a=rsa-sha256") && headers.contains("s=rsa;"), headers)
    }
}
