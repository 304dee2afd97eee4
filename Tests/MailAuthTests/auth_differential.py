#!/usr/bin/python3
"""Generated message x DNS cases with the verdicts of the `authheaders` package (by
dkimpy's author; Debian's python3-authheaders, with python3-spf for SPF), printed as JSON
for AuthDifferentialTests: Postroom's SPF, DKIM and DMARC results must be the same.

Every case has its own zone (SPF records, includes, A/MX records, DMARC records at the
From or organisational domain, DKIM keys), a client address, MAIL FROM, HELO and a
message (unsigned, signed by an aligned or unaligned domain, or tampered). Seeded, so
the cases are the same on every run."""
import base64
import json
import random
import sys

import authheaders
import dkim
import spf
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 7)


def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024 + 1024 * rng.randint(0, 1))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()


KEYS = {d: rsa_key() for d in ["shopa.co.uk", "mail.shopa.co.uk", "shopb.co.uk", "other.co.uk"]}
zone = {}


def pyspf_lookup(name, qtype, strict=True, timeout=None, level=0):
    for rtype, value in zone.get(name.lower().rstrip("."), []):
        if rtype != qtype:
            continue
        if rtype == "TXT":
            yield ((name, rtype), (value.encode(),))
        else:
            yield ((name, rtype), tuple(value) if isinstance(value, list) else value)


spf.DNSLookup = pyspf_lookup


def txt(name, timeout=5):
    """dkimpy asks with bytes and wants bytes; the DMARC lookup asks with str, wants str."""
    as_bytes = isinstance(name, bytes)
    key = name.decode() if as_bytes else name
    found = [v for t, v in zone.get(key.lower().rstrip("."), []) if t == "TXT"]
    if not found:
        return None
    return found[0].encode() if as_bytes else found[0]


SPF_TEMPLATES = [
    None,
    "v=spf1 ip4:127.0.0.0/8 -all",
    "v=spf1 -all",
    "v=spf1 ~all",
    "v=spf1 ?all",
    "v=spf1 a -all",
    "v=spf1 mx ~all",
    "v=spf1 include:inc.example -all",
    "v=spf1 redirect=inc.example",
    "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all",
    "v=spf1 exists:%{i}.ok.example -all",
    "v=spf1 ip4:not-an-address -all",
    "v=spf1 a:%{d1r}.example ~all",
]
DMARC_TEMPLATES = [None, "v=DMARC1; p=reject", "v=DMARC1; p=none; adkim=s", "v=DMARC1; p=quarantine; aspf=s", "v=DMARC1; p=reject; adkim=s; aspf=s"]

cases = []
for n in range(130):
    zone.clear()
    from_domain = rng.choice(["shopa.co.uk", "mail.shopa.co.uk", "shopb.co.uk"])
    mail_domain = rng.choice([from_domain, "shopa.co.uk", "mail.shopa.co.uk", "other.co.uk", "shopb.co.uk"])
    ip = rng.choice(["127.0.0.1", "192.0.2.7", "2001:db8::5"])
    spf_record = rng.choice(SPF_TEMPLATES)
    if spf_record:
        zone.setdefault(mail_domain, []).append(("TXT", spf_record))
        if rng.random() < 0.08:
            zone[mail_domain].append(("TXT", "v=spf1 +all"))  # two records: permerror
    zone.setdefault(mail_domain, []).append(("A", rng.choice(["127.0.0.1", "192.0.2.1"])))
    zone.setdefault(mail_domain, []).append(("MX", [10, "mx." + mail_domain]))
    zone.setdefault("mx." + mail_domain, []).append(("A", rng.choice(["127.0.0.1", "192.0.2.9"])))
    zone.setdefault("inc.example", []).append(("TXT", rng.choice(["v=spf1 ip4:127.0.0.1 -all", "v=spf1 -all", "v=spf1 ?all"])))
    zone.setdefault("1.0.0.127.ok.example", []).append(("A", "127.0.0.2"))
    dmarc = rng.choice(DMARC_TEMPLATES)
    if dmarc:
        at = rng.choice([from_domain, "shopa.co.uk" if from_domain.endswith("shopa.co.uk") else from_domain])
        zone.setdefault("_dmarc." + at, []).append(("TXT", dmarc))
    for d, (_, record) in KEYS.items():
        zone.setdefault("sel._domainkey." + d, []).append(("TXT", record))
    raw = ("From: Someone <someone@%s>\r\nTo: support@mx.test\r\nSubject: case %d\r\nMessage-ID: <case-%d@%s>\r\n\r\n"
           "Body of case %d.\r\n" % (from_domain, n, n, from_domain, n)).encode()
    signing = rng.choice([None, from_domain, "shopa.co.uk", "other.co.uk", "tampered"])
    if signing == "tampered":
        raw = dkim.sign(raw, b"sel", from_domain.encode(), KEYS[from_domain][0]) + raw
        raw = raw.replace(b"Body of case", b"Body of a changed case")
    elif signing:
        canon = rng.choice([(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple")])
        raw = dkim.sign(raw, b"sel", signing.encode(), KEYS[signing][0], canonicalize=canon) + raw
    mail_from = "bounce@" + mail_domain
    helo = "mx." + mail_domain
    spf_result, _ = spf.check2(ip, mail_from, helo)
    header = authheaders.authenticate_message(raw, "mx.test", spf=True, dkim=True, dmarc=True, ip=ip, mail_from=mail_from, helo=helo, dnsfunc=txt)
    results = {}
    for part in header.split(";")[1:]:
        part = part.strip()
        method, _, rest = part.partition("=")
        results.setdefault(method.strip(), rest.split()[0] if rest.split() else "")
    cases.append({
        "name": "case %d" % n, "ip": ip, "mailFrom": mail_from, "helo": helo, "message": base64.b64encode(raw).decode(),
        "zone": [[name, t, v if isinstance(v, str) else "%d %s" % tuple(v)] for name, records in zone.items() for t, v in records],
        "spf": spf_result, "dmarc": results.get("dmarc", "none"), "header": header,
        # authheaders says dkim=fail with no header.d for an unsigned message: that is "none".
        "dkim": results.get("dkim", "none") if b"DKIM-Signature:" in raw else "none",
    })
json.dump({"cases": cases}, sys.stdout)
