"""IMAP over TLS against a real Dovecot with its own CA: implicit TLS (imaps://) and
STARTTLS both verify the server's certificate against `mailboxes.ca-file` (by name and by
IP address), a certificate from another CA is refused, and a 20 MB message arrives
byte for byte."""
import hashlib
import json
import os
import shutil
import time
import unittest

from dovecot import PASSWORD, USER, Dovecot, make_ca
from harness import Server


def raw(subject, msgid, body="hello\r\n"):
    return ("From: Ann <ann@customer.test>\r\nTo: support@provider.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n%s" % (subject, msgid, body)).encode()


def big_body(octets):
    """Numbered lines, so a lost, doubled or moved chunk shows in the digest."""
    lines = []
    total = 0
    n = 0
    while total < octets:
        line = "%08d %s\r\n" % (n, "abcdefghijklmnopqrstuvwxyz0123456789" * 2)
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines)


@unittest.skipUnless(shutil.which("dovecot") and shutil.which("openssl"), "dovecot or openssl not installed (scripts/bootstrap installs them)")
class IMAPTLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot(tls=True)
        cls.big = raw("Big one", "big@customer.test", big_body(20 * 1024 * 1024))
        cls.dovecot.add(raw("First", "t1@customer.test"))
        cls.dovecot.add(cls.big)
        cls.dovecot.add(raw("Third", "t3@customer.test"))
        cls.dovecot.start()
        cls.server = Server(env={"POSTROOM_MAILBOXES_CA_FILE": cls.dovecot.ca, "POSTROOM_MAILBOX_PROVIDER": PASSWORD,
                                 "POSTROOM_MAILBOXES_POLL_INTERVAL": "1s"}).start()
        cls.server.cli("inbox", "create", "Imported", "--address", "imported@provider.test")
        cls.server.cli("inbox", "create", "Connected", "--address", "connected@provider.test")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.dovecot.stop()

    def imp(self, url, inbox="imported", env=None, check=True):
        saved = dict(self.server.env)
        self.server.env["POSTROOM_IMAP_PASSWORD"] = PASSWORD
        self.server.env.update(env or {})
        try:
            return self.server.cli("import", "imap", url, "--inbox", inbox, check=check)
        finally:
            self.server.env = saved

    def test_implicit_tls_import_with_a_20mb_message(self):
        user = USER.replace("@", "%40")
        started = time.time()
        out = self.imp("imaps://%s@localhost:%d/INBOX" % (user, self.dovecot.tls_port)).stdout.decode()
        elapsed = time.time() - started
        self.assertIn("imported 3, skipped 0", out)
        print("\n  imaps import of 3 messages incl. 20 MB: %.1f s" % elapsed)
        # By address: the certificate's IP entry is checked (no SNI for an address).
        out = self.imp("imaps://%s@127.0.0.1:%d/INBOX" % (user, self.dovecot.tls_port)).stdout.decode()
        self.assertIn("imported 0, skipped 3", out)
        self.server.wait_processed(timeout=60)
        big = [m for m in self.server.messages("imported") if m["subject"] == "Big one"][0]
        self.assertEqual(hashlib.sha256(self.server.raw(big["id"])).hexdigest(), hashlib.sha256(self.big).hexdigest())

    def test_a_certificate_from_another_ca_is_refused(self):
        other = os.path.join(self.server.tmp, "other")
        os.makedirs(other)
        other_ca, _, _ = make_ca(other, "other")
        user = USER.replace("@", "%40")
        p = self.imp("imaps://%s@localhost:%d/INBOX" % (user, self.dovecot.tls_port), env={"POSTROOM_MAILBOXES_CA_FILE": other_ca}, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("certificate is not trusted", p.stderr.decode())

    def test_starttls_connected_mailbox(self):
        out = self.server.cli("mailbox", "add", "--inbox", "connected", "--host", "localhost", "--port", str(self.dovecot.port),
                              "--security", "starttls", "--user", USER, "--password-env", "POSTROOM_MAILBOX_PROVIDER", "--import-history",
                              "--json").stdout
        ident = json.loads(out)["id"]
        self.assertIn(b"messages 3", self.server.cli("mailbox", "test", str(ident)).stdout)
        deadline = time.time() + 60
        while time.time() < deadline:
            m = [m for m in json.loads(self.server.cli("mailbox", "list", "--json").stdout)["mailboxes"] if m["id"] == ident][0]
            if m["pulled"] == 3:
                break
            time.sleep(0.3)
        self.assertEqual(m["pulled"], 3, m)
        self.assertEqual(m["status"], "connected")
        self.server.wait_processed(timeout=60)
        self.assertEqual(sorted(x["subject"] for x in self.server.messages("connected")), ["Big one", "First", "Third"])


if __name__ == "__main__":
    unittest.main()
