"""`postroom import --inbox SLUG imap URL` against a real Dovecot: every message is
pulled with BODY.PEEK[] (the mailbox's mail stays unread), filed like SMTP mail, and a
second run adds nothing; a wrong password is a clear error, never logged in the output."""
import imaplib
import os
import shutil
import socket
import threading
import time
import unittest

from dovecot import PASSWORD, USER, Dovecot
from harness import Server


def raw(subject, msgid, body="hello\r\n"):
    return ("From: Ann <ann@customer.test>\r\nTo: support@provider.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n%s" % (subject, msgid, body)).encode()


@unittest.skipUnless(shutil.which("dovecot"), "dovecot not installed (scripts/bootstrap installs it)")
class IMAPImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot()
        cls.dovecot.add(raw("First", "m1@customer.test"))
        cls.dovecot.add(raw("Second", "m2@customer.test", "line\r\n" * 5000))
        cls.dovecot.add(raw("Third", "m3@customer.test"), flags="S")
        cls.dovecot.start()
        cls.server = Server().start()
        cls.server.cli("inbox", "create", "Provider", "--address", "support@provider.test")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.dovecot.stop()

    def url(self, password=PASSWORD):
        user = USER.replace("@", "%40")
        return "imap://%s@127.0.0.1:%d/INBOX" % (user, self.dovecot.port)

    def imp(self, url, password=PASSWORD, check=True):
        env_before = self.server.env.get("POSTROOM_IMAP_PASSWORD")
        self.server.env["POSTROOM_IMAP_PASSWORD"] = password
        try:
            return self.server.cli("import", "imap", url, "--inbox", "provider", check=check)
        finally:
            if env_before is None:
                self.server.env.pop("POSTROOM_IMAP_PASSWORD", None)

    def test_import_twice_and_mail_stays_unread(self):
        out = self.imp(self.url()).stdout.decode()
        self.assertIn("imported 3, skipped 0", out)
        self.assertIn("imported 0, skipped 3", self.imp(self.url()).stdout.decode())
        self.dovecot.add(raw("Fourth", "m4@customer.test"))
        self.assertIn("imported 1, skipped 3", self.imp(self.url()).stdout.decode())
        self.server.wait_processed()
        subjects = sorted(m["subject"] for m in self.server.messages("provider"))
        self.assertEqual(subjects, ["First", "Fourth", "Second", "Third"])
        second = [m for m in self.server.messages("provider") if m["subject"] == "Second"][0]
        self.assertEqual(self.server.raw(second["id"]).count(b"line\r\n"), 5000)
        # Nothing was marked \Seen by the import (only Third was, before).
        imap = imaplib.IMAP4("127.0.0.1", self.dovecot.port)
        imap.login(USER, PASSWORD)
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "UNSEEN")
        self.assertEqual(len(data[0].split()), 3)
        imap.logout()

    def test_wrong_password_is_a_clear_error(self):
        p = self.imp(self.url(), password="wrong", check=False)
        self.assertNotEqual(p.returncode, 0)
        err = p.stderr.decode()
        self.assertRegex(err, "AUTHENTICATE PLAIN \\*\\*\\* refused|LOGIN \\*\\*\\* refused")
        self.assertNotIn("wrong", err)

    def test_a_server_that_goes_silent_is_given_up_on(self):
        # A peer that greets, then never answers: what a connection dropped by a NAT
        # looks like from here. The silence timeout turns it into an error.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        held = []

        def serve():
            conn, _ = listener.accept()
            held.append(conn)
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR IDLE] ready\r\n")

        threading.Thread(target=serve, daemon=True).start()
        url = "imap://u@127.0.0.1:%d/INBOX" % listener.getsockname()[1]
        self.server.env["POSTROOM_MAILBOXES_TIMEOUT"] = "2s"
        started = time.time()
        try:
            p = self.imp(url, check=False)
        finally:
            del self.server.env["POSTROOM_MAILBOXES_TIMEOUT"]
            listener.close()
            for c in held:
                c.close()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("sent nothing for 2 s", p.stderr.decode())
        self.assertLess(time.time() - started, 15)

    def test_plain_to_a_remote_host_is_refused(self):
        p = self.server.cli("import", "imap", "imap://u:p@mail.example.com:143/INBOX", "--inbox", "provider", check=False)
        self.assertNotEqual(p.returncode, 0)
        p = self.server.cli("import", "imap", "ftp://x", "--inbox", "provider", check=False)
        self.assertIn(b"imap://", p.stderr)


if __name__ == "__main__":
    unittest.main()
