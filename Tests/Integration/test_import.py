"""Importing history from an mbox (written by Python's mailbox module, as mail clients
write them) and a Maildir into a running server: messages are filed and threaded, a
second run adds nothing, and a body line starting with "From " survives."""
import mailbox
import os
import time
import unittest
from email.message import EmailMessage

from harness import Server


def message(subject, msgid, sender, body, in_reply_to=None):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "history@mx.test"
    m["Subject"] = subject
    m["Message-ID"] = msgid
    m["Date"] = "Mon, 01 Jan 2024 10:00:00 +0000"
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
        m["References"] = in_reply_to
    m.set_content(body)
    return m


class ImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.server.cli("inbox", "create", "History", "--address", "history@mx.test")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_mbox_then_again_adds_nothing(self):
        path = os.path.join(self.server.tmp, "old.mbox")
        box = mailbox.mbox(path)
        box.add(message("Order 17 late", "<o17@customer.test>", "ann@customer.test", "Where is it?\nFrom what I see it left.\n"))
        box.add(message("Re: Order 17 late", "<o17-r@mx.test>", "history@mx.test", "It ships today.\n", "<o17@customer.test>"))
        box.add(message("Invoice", "<inv@customer.test>", "bob@customer.test", "Please send it.\n"))
        box.close()
        out = self.server.cli("import", "mbox", path, "--inbox", "history").stdout.decode()
        self.assertIn("imported 3, skipped 0", out)
        again = self.server.cli("import", "mbox", path, "--inbox", "history").stdout.decode()
        self.assertIn("imported 0, skipped 3", again)
        self.server.wait_processed()
        msgs = [m for m in self.server.messages("history") if "Order 17" in (m["subject"] or "") or m["subject"] == "Invoice"]
        self.assertEqual(len(msgs), 3, self.server.messages())
        self.assertEqual({m["channel"] for m in msgs}, {"import"})
        convs = self.server.api("/api/conversations?inbox=history&limit=100")["conversations"]
        subjects = sorted(c["subject"] for c in convs)
        self.assertIn("Order 17 late", subjects)
        self.assertIn("Invoice", subjects)
        order = [c for c in convs if c["subject"] == "Order 17 late"][0]
        self.assertEqual(order["messageCount"], 2, order)
        first = [m for m in msgs if m["subject"] == "Order 17 late"][0]
        raw = self.server.raw(first["id"])
        self.assertIn(b"\r\nFrom what I see it left.\r\n", raw)

    def test_maildir(self):
        path = os.path.join(self.server.tmp, "Maildir")
        box = mailbox.Maildir(path)
        box.add(message("From the maildir", "<md1@customer.test>", "cid@customer.test", "hello\n"))
        box.close()
        self.assertIn("imported 1", self.server.cli("import", "maildir", path, "--inbox", "history").stdout.decode())
        self.assertIn("imported 0, skipped 1", self.server.cli("import", "maildir", path, "--inbox", "history").stdout.decode())

    def test_thousands_from_mbox_and_maildir_twice(self):
        n = 3000
        for kind in ("mbox", "maildir"):
            path = os.path.join(self.server.tmp, "bulk." + kind)
            box = mailbox.mbox(path) if kind == "mbox" else mailbox.Maildir(path)
            for i in range(n):
                box.add(message("Bulk %s %d" % (kind, i), "<bulk-%s-%d@customer.test>" % (kind, i), "c%d@customer.test" % (i % 50),
                                "Line one of %d.\nFrom here on it is the body.\n" % i))
            box.close()
            before = self.server.count("import")
            started = time.time()
            first = self.server.cli("import", kind, path, "--inbox", "history").stdout.decode()
            took = time.time() - started
            self.assertIn("imported %d, skipped 0" % n, first)
            self.assertIn("imported 0, skipped %d" % n, self.server.cli("import", kind, path, "--inbox", "history").stdout.decode())
            after = self.server.count("import")
            self.assertEqual((after[0] - before[0], after[1] - before[1]), (n, n))
            print("\n  %s: %d messages in %.1f s; the second run added none" % (kind, n, took))

    def test_bad_sources_fail_clearly(self):
        p = self.server.cli("import", "maildir", "/nonexistent", "--inbox", "history", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not a Maildir", p.stderr)
        p = self.server.cli("import", "mbox", "/etc/hostname", "--inbox", "nosuch", check=False)
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()
