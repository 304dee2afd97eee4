#!/usr/bin/python3
"""DKIM cases signed by dkimpy (an independent implementation), printed as JSON for
DKIMVerifyTests: the key records (a zone) and messages with the result each signature
must get. Run with Debian's python3 (python3-dkim, python3-nacl)."""
import base64, json, sys, time
import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
import nacl.signing

def rsa_key(bits):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()

def ed_key():
    sk = nacl.signing.SigningKey.generate()
    return base64.b64encode(bytes(sk)), "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(sk.verify_key)).decode()

MESSAGE = (b"From: Alice Example <alice@example.org>\r\n"
           b"To: support@postroom.test\r\n"
           b"Subject: An order that\r\n\tfolds  over two lines\r\n"
           b"Date: Tue, 1 Dec 2026 05:00:00 +0000\r\n"
           b"Message-ID: <order-1@example.org>\r\n"
           b"\r\n"
           b"Hello,  my order\t did not arrive. \r\n"
           b"\r\n"
           b"Alice\r\n\r\n\r\n")

zone = {}
cases = []
rsa_pem, zone["rsa._domainkey.example.org"] = rsa_key(2048)
small_pem, zone["small._domainkey.example.org"] = rsa_key(1024)
ed_seed, zone["ed._domainkey.example.org"] = ed_key()
other_pem, other_record = rsa_key(2048)
zone["wrong._domainkey.example.org"] = other_record
zone["revoked._domainkey.example.org"] = "v=DKIM1; k=rsa; p="

def sign(message, selector, key, canon=(b"relaxed", b"relaxed"), alg=b"rsa-sha256", length=False, domain=b"example.org", headers=None):
    return dkim.sign(message, selector, domain, key, canonicalize=canon, signature_algorithm=alg, length=length,
                     include_headers=headers) + message

def case(name, message, expect, reason=None):
    cases.append({"name": name, "message": base64.b64encode(message).decode(), "expect": expect, "reason": reason})

for canon in [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple"), (b"simple", b"relaxed")]:
    label = "/".join(c.decode() for c in canon)
    case(f"rsa-sha256 {label}", sign(MESSAGE, b"rsa", rsa_pem, canon), ["pass"])
    case(f"ed25519-sha256 {label}", sign(MESSAGE, b"ed", ed_seed, canon, alg=b"ed25519-sha256"), ["pass"])
case("rsa 1024-bit key", sign(MESSAGE, b"small", small_pem), ["pass"])
signed = sign(MESSAGE, b"rsa", rsa_pem, length=True)
case("l= with content appended after the signed length", signed + b"Appended by a list\r\n", ["pass"], "l=")
case("tampered body", sign(MESSAGE, b"rsa", rsa_pem).replace(b"did not arrive", b"arrived fine!"), ["fail"], "body hash")
case("tampered signed header", sign(MESSAGE, b"rsa", rsa_pem).replace(b"Subject: An order", b"Subject: A refund"), ["fail"], "did not verify")
case("tampered ed25519 header", sign(MESSAGE, b"ed", ed_seed, alg=b"ed25519-sha256").replace(b"alice@example.org>", b"mallory@example.org>"), ["fail"], "did not verify")
wrong = sign(MESSAGE, b"rsa", other_pem)  # signed with a key other than the published one
case("wrong key", wrong, ["fail"], "did not verify")
case("revoked key", sign(MESSAGE, b"revoked", rsa_pem), ["permerror"], "revoked")
case("no key record", sign(MESSAGE, b"missing", rsa_pem), ["permerror"], "no key")
case("rsa-sha1", sign(MESSAGE, b"rsa", rsa_pem, alg=b"rsa-sha1"), ["fail"], "sha1")
import re
expired = re.sub(rb"t=\d+;", b"t=999999999; x=1000000000;", sign(MESSAGE, b"rsa", rsa_pem), count=1)
case("expired (x= in the past)", expired, ["fail"], "expired")
both = dkim.sign(sign(MESSAGE, b"ed", ed_seed, alg=b"ed25519-sha256"), b"rsa", b"example.org", rsa_pem) + sign(MESSAGE, b"ed", ed_seed, alg=b"ed25519-sha256")
case("two signatures, rsa over ed25519", both, ["pass", "pass"])
case("one good, one tampered (body changed, then re-signed by a second domain key)",
     sign(sign(MESSAGE, b"rsa", rsa_pem).replace(b"Alice\r\n", b"Mallory\r\n"), b"ed", ed_seed, alg=b"ed25519-sha256"), ["pass", "fail"])
# Signed by OpenDKIM (opendkim-testmsg from opendkim-tools), a second independent signer:
# it can only sign rsa-sha1, which RFC 8301 says to treat as a failure.
import os, subprocess, tempfile
if os.path.exists("/usr/sbin/opendkim-testmsg"):
    with tempfile.TemporaryDirectory() as tmp:
        keyfile = os.path.join(tmp, "key.pem")
        with open(keyfile, "wb") as f:
            f.write(rsa_pem)
        folded = MESSAGE.replace(b"To: support@postroom.test\r\n", b"To: support@postroom.test,\r\n  billing@postroom.test\r\n")
        for label, msg in [("opendkim rsa-sha1", MESSAGE), ("opendkim rsa-sha1, folded To", folded)]:
            out = subprocess.run(["/usr/sbin/opendkim-testmsg", "-C", "-d", "example.org", "-s", "rsa", "-k", keyfile, "-t", tmp],
                                 input=msg, capture_output=True, check=True).stdout
            assert b"a=rsa-sha1" in out, out[:200]
            case(label, out, ["fail"], "sha1")
# An 8-bit header: the signature covers the octets, not a decoding of them.
eight = MESSAGE.replace(b"Subject: An order", "Subject: Bestellung für Jürgen".encode("latin-1"))
case("8-bit Latin-1 header", sign(eight, b"rsa", rsa_pem), ["pass"])

# ARC (RFC 8617): a message DKIM-signed by example.org, forwarded by forwarder.example
# (which checked it: dmarc=pass) and then by a list that rewrites the subject.
fwd_pem, zone["arc._domainkey.forwarder.example"] = rsa_key(2048)
list_pem, zone["arc._domainkey.list.example"] = rsa_key(2048)
arc_cases = []
original = sign(MESSAGE, b"rsa", rsa_pem)
hop1 = b"Authentication-Results: forwarder.example; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org\r\n" + original
hop1 = b"".join(dkim.arc_sign(hop1, b"arc", b"forwarder.example", fwd_pem, b"forwarder.example")) + hop1
arc_cases.append({"name": "one hop", "message": base64.b64encode(hop1).decode(), "expect": "pass", "sealers": ["forwarder.example"], "dmarcPass": True})
hop2 = hop1.replace(b"Subject: An order", b"Subject: [support-list] An order")
hop2 = b"Authentication-Results: list.example; arc=pass; dkim=fail header.d=example.org\r\n" + hop2
hop2 = b"".join(dkim.arc_sign(hop2, b"arc", b"list.example", list_pem, b"list.example")) + hop2
arc_cases.append({"name": "two hops, subject rewritten at the second", "message": base64.b64encode(hop2).decode(), "expect": "pass",
                  "sealers": ["forwarder.example", "list.example"], "dmarcPass": True})
arc_cases.append({"name": "body changed after the last seal", "message": base64.b64encode(hop2.replace(b"did not arrive", b"arrived")).decode(),
                  "expect": "fail", "sealers": ["forwarder.example", "list.example"], "dmarcPass": False})
lines = hop2.split(b"\r\n")
no_first_seal = b"\r\n".join([l for l in lines if not l.startswith(b"ARC-Seal: i=1")])
arc_cases.append({"name": "ARC-Seal i=1 removed", "message": base64.b64encode(no_first_seal).decode(), "expect": "fail", "sealers": [], "dmarcPass": False})
forged = hop2.replace(b"ARC-Authentication-Results: i=1; forwarder.example; dkim=pass", b"ARC-Authentication-Results: i=1; forwarder.example; dkim=fail", 1)
arc_cases.append({"name": "first hop's results altered", "message": base64.b64encode(forged).decode(), "expect": "fail",
                  "sealers": ["forwarder.example", "list.example"], "dmarcPass": False})
arc_cases.append({"name": "no ARC", "message": base64.b64encode(original).decode(), "expect": "none", "sealers": [], "dmarcPass": False})
# dkimpy's own verdict on each, as a cross-check of the fixture.
zone_bytes = {k.encode(): v.encode() for k, v in zone.items()}
for c in arc_cases:
    cv, _, _ = dkim.arc_verify(base64.b64decode(c["message"]), dnsfunc=lambda name, timeout=5: zone_bytes.get(name.rstrip(b".")))
    c["dkimpy"] = cv.decode()
json.dump({"zone": zone, "cases": cases, "arc": arc_cases}, sys.stdout)
