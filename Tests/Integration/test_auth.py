"""Sender authentication end to end (issue 11): SPF, DKIM, DMARC and ARC checked before
the 250 against a local DNS server (dnslib), with messages signed and ARC-sealed by
dkimpy. A forged customer does not thread into the customer's conversation and gets no
acknowledgement; a forwarded message with a valid ARC chain does; p=reject can refuse;
a DNS timeout never loses mail; the results are in the stored message, the API and the
CLI."""
import base64
import json
import os
import re
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import dkim  # noqa: E402  (Debian python3-dkim)
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from dnsserver import ZoneServer  # noqa: E402
from fakepeers import SMTPPeer, wait_until  # noqa: E402
from harness import Server  # noqa: E402


def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()


CUSTOMER_PEM, CUSTOMER_KEY = rsa_key()
FORWARDER_PEM, FORWARDER_KEY = rsa_key()


def message(headers, body="Hello,\r\nmy order did not arrive.\r\n"):
    return "".join("%s: %s\r\n" % kv for kv in headers).encode() + b"\r\n" + body.encode()


def signed(raw):
    return dkim.sign(raw, b"rsa", b"customer.example", CUSTOMER_PEM, canonicalize=(b"relaxed", b"relaxed")) + raw


def send(server, raw, sender, rcpts=("support@mx.test",)):
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as s:
        s.ehlo("client.test")
        s.mail(sender)
        for r in rcpts:
            s.rcpt(r)
        try:
            code, text = s.data(raw)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
    return code, text.decode("utf-8", "replace")


class AuthenticationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = ZoneServer({
            "customer.example": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
            "_dmarc.customer.example": [("TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@customer.example")],
            "rsa._domainkey.customer.example": [("TXT", CUSTOMER_KEY)],
            "forwarder.example": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
            "arc._domainkey.forwarder.example": [("TXT", FORWARDER_KEY)],
            "nodmarc.example": [("TXT", "v=spf1 ip4:127.0.0.0/8 -all")],
        }, timeouts=["slow.example", "_dmarc.slow.example"])
        cls.relay = SMTPPeer()
        cls.server = Server(env={
            "POSTROOM_AUTH_ENABLED": "true", "POSTROOM_OUTBOUND_RESOLVER": cls.dns.address, "POSTROOM_AUTH_TIMEOUT": "3s",
            "POSTROOM_OUTBOUND_RELAY": cls.relay.address, "POSTROOM_OUTBOUND_SECURITY": "none"})
        cls.server.start()
        cls.server.api("/api/inboxes/support/settings", method="PATCH", body={"autoAcknowledge": True})
        # The customer's first message: DKIM-signed by customer.example, so DMARC passes
        # although SPF fails (127.0.0.1 is not in customer.example's record).
        first = message([("From", "Alice <alice@customer.example>"), ("To", "support@mx.test"), ("Subject", "Where is my order?"),
                         ("Message-ID", "<order-1@customer.example>"),
                         ("Authentication-Results", "mx.test; dmarc=pass header.from=customer.example (forged by the sender)"),
                         ("Authentication-Results", "other.example; spf=pass smtp.mailfrom=customer.example")])
        code, text = send(cls.server, signed(first), "alice@customer.example")
        assert code == 250, (code, text)
        cls.server.wait_processed()
        cls.first = [m for m in cls.server.messages() if m.get("subject") == "Where is my order?" and m["channel"] == "smtp"][0]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.relay.stop()
        cls.dns.stop()

    def acks_to(self, address):
        return [m for m in self.relay.messages if any(address.encode() in r for r in m["rcpts"])]

    def conversation_of(self, message_id):
        for c in self.server.api("/api/conversations?limit=100")["conversations"]:
            detail = self.server.api("/api/conversations/%d" % c["id"])
            for t in detail["timeline"]:
                if t["messageId"] == message_id:
                    return detail, t
        raise AssertionError("message %s is in no conversation" % message_id)

    def test_a_verified_customer_is_recorded_everywhere(self):
        detail = self.server.api("/api/messages/%d" % self.first["id"])
        auth = detail["authentication"]
        self.assertEqual(auth["verdict"], "verified", auth)
        self.assertEqual(auth["spf"]["result"], "fail")
        self.assertEqual([(s["result"], s["domain"], s["selector"]) for s in auth["dkim"]], [("pass", "customer.example", "rsa")])
        self.assertEqual(auth["dmarc"]["result"], "pass")
        self.assertEqual(detail["message"]["verified"], "verified")
        _, entry = self.conversation_of(self.first["id"])
        self.assertEqual(entry["verified"], "verified")
        self.assertIn("DKIM aligned", entry["verifiedBy"])
        # Our Authentication-Results on top; the sender's one claiming our name is gone,
        # another host's stays (RFC 8601 5).
        raw = self.server.raw(self.first["id"])
        self.assertTrue(raw.startswith(b"Authentication-Results: mx.test;"), raw[:200])
        self.assertEqual(raw.count(b"Authentication-Results: mx.test"), 1)
        self.assertNotIn(b"forged by the sender", raw)
        self.assertIn(b"Authentication-Results: other.example;", raw)
        self.assertIn(b"dkim=pass", raw.split(b"\r\n\r\n")[0])
        # The acknowledgement went to the verified customer.
        self.assertTrue(wait_until(lambda: self.acks_to("alice@customer.example"), 15), "no acknowledgement for alice")
        # The CLI shows each check.
        shown = self.server.cli("messages", "show", str(self.first["id"])).stdout.decode()
        self.assertIn("sender:      verified", shown)
        self.assertIn("dkim:      pass d=customer.example s=rsa", shown)
        self.assertIn("dmarc:     pass header.from=customer.example", shown)

    def test_forged_customer_is_not_threaded_nor_answered(self):
        acks_before = len(self.acks_to("alice@customer.example"))
        forged = message([("From", "Alice <alice@customer.example>"), ("To", "support@mx.test"), ("Subject", "Re: Where is my order?"),
                          ("Message-ID", "<forged-1@attacker.example>"), ("In-Reply-To", "<order-1@customer.example>"),
                          ("References", "<order-1@customer.example>")], "Please send the refund to my new bank account.\r\n")
        code, text = send(self.server, forged, "alice@customer.example")
        self.assertEqual(code, 250, text)  # default auth.dmarc-reject: spam, kept
        self.server.wait_processed()
        mine = [m for m in self.server.messages() if m.get("verified") == "unverified" and m["from"] == "alice@customer.example"]
        self.assertTrue(mine)
        detail, entry = self.conversation_of(mine[0]["id"])
        first_conversation, _ = self.conversation_of(self.first["id"])
        self.assertNotEqual(detail["conversation"]["id"], first_conversation["conversation"]["id"])
        self.assertEqual(entry["threadRule"], "linked")
        self.assertIn("fails DMARC", entry["threadDetail"])
        self.assertEqual(detail["conversation"]["status"], "spam")
        self.assertEqual(entry["verified"], "unverified")
        time.sleep(2)
        self.assertEqual(len(self.acks_to("alice@customer.example")), acks_before, "an acknowledgement went to a forged sender")
        self.assertIn("dmarc=fail", self.server.read_log())

    def test_forwarded_with_valid_arc_chain_threads_in(self):
        original = signed(message([("From", "Alice <alice@customer.example>"), ("To", "alice-forward@forwarder.example"),
                                   ("Subject", "Re: Where is my order?"), ("Message-ID", "<order-2@customer.example>"),
                                   ("In-Reply-To", "<order-1@customer.example>"), ("References", "<order-1@customer.example>")],
                                  "Any news?\r\n"))
        # The forwarder checked it (dmarc=pass), adds a footer (which breaks the DKIM body
        # hash) and seals the result.
        hop = original + b"-- \r\nForwarded by forwarder.example\r\n"
        hop = (b"Authentication-Results: forwarder.example; dkim=pass header.d=customer.example; "
               b"dmarc=pass header.from=customer.example\r\n") + hop
        hop = b"".join(dkim.arc_sign(hop, b"arc", b"forwarder.example", FORWARDER_PEM, b"forwarder.example")) + hop
        code, text = send(self.server, hop, "alice-forward@forwarder.example")
        self.assertEqual(code, 250, text)
        self.server.wait_processed()
        found = [m for m in self.server.messages() if m.get("verified") == "forwarded"]
        self.assertEqual(len(found), 1, [(m["id"], m.get("verified")) for m in self.server.messages()])
        auth = self.server.api("/api/messages/%d" % found[0]["id"])["authentication"]
        self.assertEqual(auth["dmarc"]["result"], "fail")
        self.assertEqual(auth["arc"]["result"], "pass")
        self.assertEqual(auth["forwarder"], "forwarder.example")
        detail, entry = self.conversation_of(found[0]["id"])
        first_conversation, _ = self.conversation_of(self.first["id"])
        self.assertEqual(detail["conversation"]["id"], first_conversation["conversation"]["id"])
        self.assertEqual(entry["threadRule"], "references")
        self.assertIn("forwarded by forwarder.example", entry["verifiedBy"])
        self.assertNotEqual(detail["conversation"]["status"], "spam")

    def test_refuse_policy_answers_550(self):
        self.server.api("/api/inboxes/support/settings", method="PATCH", body={"dmarcReject": "refuse"})
        try:
            # Inbox settings reach the SMTP side within ~2 s: try until they have.
            deadline = time.time() + 15
            n = 0
            while True:
                n += 1
                forged = message([("From", "alice@customer.example"), ("To", "support@mx.test"), ("Subject", "refund"),
                                  ("Message-ID", "<forged-refuse-%d@attacker.example>" % n)])
                code, text = send(self.server, forged, "alice@customer.example")
                if code == 550 or time.time() > deadline:
                    break
                time.sleep(0.5)
            self.assertEqual(code, 550, text)
            self.assertIn("5.7.1", text)
            self.assertIn("DMARC", text)
        finally:
            self.server.api("/api/inboxes/support/settings", method="PATCH", body={"dmarcReject": "default"})
        status, _, body = self.server.http("/api/inboxes/support/settings", method="PATCH", body={"dmarcReject": "bounce"})
        self.assertEqual(status, 400, body)

    def test_dns_timeout_is_temperror_and_keeps_the_mail(self):
        started = time.time()
        raw = message([("From", "x@slow.example"), ("To", "support@mx.test"), ("Subject", "slow dns"), ("Message-ID", "<slow-1@slow.example>")])
        code, text = send(self.server, raw, "x@slow.example")
        self.assertEqual(code, 250, text)
        self.assertLess(time.time() - started, 20)
        self.server.wait_processed()
        mine = [m for m in self.server.messages() if m.get("subject") == "slow dns"]
        auth = self.server.api("/api/messages/%d" % mine[0]["id"])["authentication"]
        self.assertEqual(auth["spf"]["result"], "temperror", auth)
        self.assertEqual(auth["verdict"], "unverified")

    def test_spf_alone_without_dmarc_is_trusted(self):
        raw = message([("From", "bob@nodmarc.example"), ("To", "support@mx.test"), ("Subject", "hello from bob"),
                       ("Message-ID", "<bob-1@nodmarc.example>")])
        code, text = send(self.server, raw, "bob@nodmarc.example")
        self.assertEqual(code, 250, text)
        self.server.wait_processed()
        mine = [m for m in self.server.messages() if m.get("subject") == "hello from bob"]
        auth = self.server.api("/api/messages/%d" % mine[0]["id"])["authentication"]
        self.assertEqual((auth["spf"]["result"], auth["dmarc"]["result"], auth["verdict"]), ("pass", "none", "verified"), auth)
        self.assertTrue(wait_until(lambda: self.acks_to("bob@nodmarc.example"), 15), "no acknowledgement for bob")


if __name__ == "__main__":
    unittest.main()
