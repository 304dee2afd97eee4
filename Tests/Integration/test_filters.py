"""Filters in the running server: a reject rule answers 550 at end of DATA, discard
stores but hides, vacation makes one reply per sender, fileinto/flags become spam,
labels and stars, and a broken edit leaves the old rules working."""
import os
import signal
import smtplib
import sqlite3
import time
import unittest

from harness import Server

GLOBAL = r'''require ["reject", "fileinto", "imap4flags"];
if header :contains "subject" "buy now" { reject "Unsolicited offers are not accepted here."; stop; }
if address :domain :is "from" "spammer.test" { discard; stop; }
if header :contains "subject" "viagra" { fileinto "Spam"; stop; }
if header :contains "subject" "urgent" { addflag "\\Flagged"; }
'''

SUPPORT = r'''require ["fileinto", "vacation", "copy", "vnd.postroom"];
if header :contains "subject" "invoice" { fileinto "Billing"; }
if header :contains "subject" "forward me" { redirect :copy "archive@elsewhere.test"; }
if header :contains "subject" "vip" { postroom_comment "VIP customer"; }
vacation :days 1 :subject "We are closed today" "We answer tomorrow.";
'''


class FiltersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.filters = os.path.join(cls.server.tmp, "filters")
        os.makedirs(cls.filters)
        cls.write("global.sieve", GLOBAL)
        cls.write("support.sieve", SUPPORT)
        cls.server.env["POSTROOM_FILTERS_DIR"] = cls.filters
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.filters, name)
        with open(path, "w") as f:
            f.write(text)
        # make the change visible to the once-a-second mtime check
        t = time.time() + 2
        os.utime(path, (t, t))

    def send(self, subject, sender="ann@customer.test", extra=""):
        msg = "From: %s\r\nTo: support@mx.test\r\nSubject: %s\r\nMessage-ID: <%s-%f@customer.test>\r\n%s\r\nbody\r\n" % (
            sender, subject, subject.replace(" ", "-"), time.time(), extra)
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail(sender, ["support@mx.test"], msg.encode())
        self.server.wait_processed()

    def conversation(self, subject, hidden=False):
        found = [c for c in self.server.api("/api/conversations?limit=500%s" % ("&hidden=true" if hidden else ""))["conversations"]
                 if c["subject"] == subject]
        return found[0] if found else None

    def db(self):
        return sqlite3.connect(os.path.join(self.server.data_dir, "postroom.sqlite"))

    def test_reject_answers_550_and_stores_nothing(self):
        before = len(self.server.messages())
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo()
            s.mail("seller@shop.test")
            s.rcpt("support@mx.test")
            code, text = s.data(b"From: seller@shop.test\r\nSubject: BUY NOW cheap\r\n\r\noffer\r\n")
        self.assertEqual(code, 550)
        self.assertIn(b"5.7.1 Unsolicited offers are not accepted here.", text)
        self.assertEqual(len(self.server.messages()), before)

    def test_discard_stores_but_hides(self):
        self.send("free money", sender="bot@spammer.test")
        self.assertIsNone(self.conversation("free money"))
        hidden = self.conversation("free money", hidden=True)
        self.assertTrue(hidden["hidden"])
        timeline = self.server.api("/api/conversations/%d" % hidden["id"])["timeline"]
        self.assertTrue(timeline[0]["discarded"])

    def test_vacation_once_per_sender_and_never_to_lists(self):
        self.send("question one", sender="zed@customer.test")
        self.send("question two", sender="zed@customer.test")
        self.send("weekly news", sender="news@lists.test", extra="List-Id: <weekly.lists.test>\r\n")
        rows = self.db().execute("SELECT recipient, subject FROM vacation_request ORDER BY id").fetchall()
        zed = [r for r in rows if r[0] == "zed@customer.test"]
        self.assertEqual(zed, [("zed@customer.test", "We are closed today")])
        self.assertFalse([r for r in rows if r[0] == "news@lists.test"])

    def test_fileinto_flags_redirect_and_postroom_actions(self):
        self.send("viagra deal")
        self.assertEqual(self.conversation("viagra deal")["status"], "spam")
        self.send("invoice 42 urgent")
        c = self.conversation("invoice 42 urgent")
        self.assertEqual(c["labels"], ["Billing"])
        self.assertTrue(c["starred"])
        self.send("please forward me")
        self.assertEqual(self.db().execute("SELECT address FROM redirect_request").fetchall(), [("archive@elsewhere.test",)])
        self.send("vip request")
        events = self.server.api("/api/conversations/%d" % self.conversation("vip request")["id"])["events"]
        self.assertIn("VIP customer", [e.get("body") for e in events])

    def test_broken_edit_keeps_old_rules_then_reload(self):
        self.write("global.sieve", GLOBAL + "\nif header :contains \"subject\" {\n")  # broken
        time.sleep(1.5)
        self.assertIn("refused", self.server.read_log())
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo(); s.mail("seller@shop.test"); s.rcpt("support@mx.test")
            code, _ = s.data(b"Subject: buy now again\r\n\r\nx\r\n")
        self.assertEqual(code, 550, "the previous rules must stay in force")
        self.assertIn("global.sieve:8:1", self.server.read_log())
        # A fixed version with a new rule, picked up by SIGHUP.
        self.write("global.sieve", GLOBAL.replace("buy now", "act fast"))
        self.server.proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo(); s.mail("seller@shop.test"); s.rcpt("support@mx.test")
            code, _ = s.data(b"From: seller@shop.test\r\nSubject: act fast\r\n\r\nx\r\n")
            self.assertEqual(code, 550)
            s.rset(); s.mail("seller@shop.test"); s.rcpt("support@mx.test")
            code, _ = s.data(b"From: seller@shop.test\r\nSubject: buy now, old rule gone\r\n\r\nx\r\n")
            self.assertEqual(code, 250)
        self.write("global.sieve", GLOBAL)
        self.server.proc.send_signal(signal.SIGHUP)
        time.sleep(1.2)

    def test_zz_apply_rules_to_stored_mail(self):
        self.send("stored question", sender="yan@customer.test")
        self.write("support.sieve", SUPPORT + 'if header :contains "subject" "stored" { fileinto "Stored"; }\n')
        dry = self.server.cli("filters", "apply", "--inbox", "support", "--dry-run").stdout.decode()
        self.assertIn('fileinto "Stored"', dry)
        self.assertIn("would change", dry)
        self.assertIn("vacation", dry)  # reported, not acted on
        self.assertEqual(self.conversation("stored question")["labels"], [])
        self.server.cli("filters", "apply", "--inbox", "support")
        self.assertEqual(self.conversation("stored question")["labels"], ["Stored"])
        self.write("support.sieve", SUPPORT)


if __name__ == "__main__":
    unittest.main()
