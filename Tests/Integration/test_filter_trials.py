"""The filter tester at scale: `filters test` over many messages (files, a Maildir or a
folder tree, an mbox, an inbox's stored mail with the envelope it had at delivery),
`filters diff` between two versions of a script, and `POST /api/filters/diff` over the
mail an inbox really got. The corpus diff is checked against Pigeonhole's sieve-test."""
import json
import os
import shutil
import smtplib
import subprocess
import tempfile
import unittest

from harness import BIN, Server

CORPUS = os.environ.get("POSTROOM_CORPUS_DIR")

OLD = 'require ["fileinto"];\nif header :contains "subject" "hello" { fileinto "Hello"; }\nif address :domain :is "from" "37signals.com" { fileinto "Vendors"; }\n'
NEW = ('require ["fileinto"];\nif header :contains "subject" "saying hello" { fileinto "Hello"; }\nif address :domain :is "from" "37signals.com" { fileinto "Vendors"; }\n'
       'if header :contains "subject" ["undelivered", "returned mail", "could not send"] { discard; }\n')


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=120)


class FileTrialsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postroom-trials-")
        os.chmod(self.tmp, 0o777)
        self.old = os.path.join(self.tmp, "old.sieve")
        self.new = os.path.join(self.tmp, "new.sieve")
        for path, text in ((self.old, OLD), (self.new, NEW)):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def test_many_messages_from_files_a_maildir_and_an_mbox(self):
        maildir = os.path.join(self.tmp, "Maildir")
        os.makedirs(os.path.join(maildir, "tmp"))
        self.write(os.path.join(maildir, "cur", "1.host:2,S"), "From: a@37signals.com\nSubject: invoice\n\nx\n")
        self.write(os.path.join(maildir, "new", "2.host"), "From: b@example.org\nSubject: Saying Hello\n\nx\n")
        self.write(os.path.join(maildir, "new", "3.host"), "From: c@example.org\nSubject: Returned mail: see transcript\n\nx\n")
        mbox = self.write(os.path.join(self.tmp, "box.mbox"),
                          "From a@b Mon Jan  1 00:00:00 2024\nFrom: d@example.org\nSubject: hello there\n\nx\n\n"
                          "From a@b Mon Jan  1 00:00:01 2024\nFrom: e@example.org\nSubject: other\n\n>From the start\n")
        p = run("filters", "test", "--script", self.new, "--maildir", maildir, "--mbox", mbox)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertIn(os.path.join(maildir, "cur", "1.host:2,S") + ': fileinto "Vendors"', lines)
        self.assertIn(os.path.join(maildir, "new", "2.host") + ': fileinto "Hello"', lines)
        self.assertIn(os.path.join(maildir, "new", "3.host") + ": discard", lines)
        self.assertIn(mbox + "#1: keep", lines)
        self.assertIn(mbox + "#2: keep", lines)
        self.assertEqual(lines[-1], "5 messages: 2 kept, filed Hello 1, Vendors 1, 1 discarded, 0 rejected, 0 redirected, 0 with vacation")
        # JSON: one object per line, the summary last.
        p = run("filters", "test", "--script", self.new, "--maildir", maildir, "--json")
        objects = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([o["outcome"]["folders"] for o in objects[:-1]], [["Vendors"], ["Hello"], []])
        self.assertEqual(objects[-1]["summary"]["filed"], {"Hello": 1, "Vendors": 1})
        self.assertEqual(objects[-1]["summary"]["discarded"], 1)
        # A message that cannot be read is named, the others still run, exit 66.
        p = run("filters", "test", "--script", self.new, "--message", os.path.join(self.tmp, "missing.eml"),
                "--message", os.path.join(maildir, "new", "2.host"))
        self.assertEqual(p.returncode, 66)
        self.assertIn("cannot read message", p.stderr)
        self.assertIn("1 unreadable", p.stdout)
        # One --message keeps sieve-test's output.
        p = run("filters", "test", "--script", self.new, "--message", os.path.join(maildir, "new", "2.host"))
        self.assertIn("Performed actions:", p.stdout)
        self.assertIn("store message in folder: Hello", p.stdout)

    def test_the_small_binary_answers_as_postroom_does(self):
        """postroom-filter (built beside postroom) prints and exits as `postroom filters test`."""
        small = os.path.join(os.path.dirname(BIN), "postroom-filter")
        if not os.path.exists(small):
            self.skipTest("postroom-filter not built beside %s" % BIN)
        message = self.write(os.path.join(self.tmp, "m.eml"), "From: Ann <a@37signals.com>\r\nSubject: Saying hello\r\n\r\nhi\r\n")
        broken = self.write(os.path.join(self.tmp, "broken.sieve"), "if true {\n  fileinto \"x\";\n}\n")
        for script in (self.old, self.new, broken):
            for extra in ([], ["--trace"], ["--json"]):
                ours = subprocess.run([small, "--script", script, "--message", message] + extra, capture_output=True, text=True)
                full = run("filters", "test", "--script", script, "--message", message, *extra)
                self.assertEqual((ours.returncode, ours.stdout), (full.returncode, full.stdout), (script, extra))
        missing = subprocess.run([small, "--script", self.old, "--message", os.path.join(self.tmp, "none.eml")], capture_output=True, text=True)
        self.assertEqual(missing.returncode, 66)

    @unittest.skipUnless(CORPUS and shutil.which("sieve-test"), "needs POSTROOM_CORPUS_DIR and sieve-test")
    def test_diff_over_the_corpus_matches_sieve_test(self):
        """The changed set is what Pigeonhole decides differently, message by message."""
        conf = self.write(os.path.join(self.tmp, "empty.conf"), "")
        os.chmod(conf, 0o644)

        def folders(script, message, index):
            work = os.path.join(self.tmp, "st%d" % index)
            os.makedirs(work, exist_ok=True)
            os.chmod(work, 0o777)
            copy = os.path.join(work, "s.sieve")
            shutil.copy(script, copy)
            os.chmod(copy, 0o644)
            uid = ["-o", "mail_uid=nobody", "-o", "mail_gid=nogroup"] if os.getuid() == 0 else []
            p = subprocess.run(["sieve-test", "-C", "-c", conf, "-o", "mail_location=maildir:%s/mail" % work] + uid
                               + ["-f", "sender@example.org", "-a", "recipient@example.com", copy, message], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = [l.strip() for l in p.stdout.splitlines()]
            return sorted(l.split(":", 1)[1].strip() if ":" in l else l for l in lines if "store message in folder:" in l or l == "* discard")

        messages = []
        for folder, _, names in os.walk(CORPUS):
            messages += [os.path.join(folder, n) for n in names if n.endswith(".eml")]
        messages.sort()
        expected = set()
        for i, m in enumerate(messages):
            local = os.path.join(self.tmp, "c%d.eml" % i)
            shutil.copy(m, local)
            os.chmod(local, 0o644)
            if folders(self.old, local, 2 * i) != folders(self.new, local, 2 * i + 1):
                expected.add(m)
        self.assertGreaterEqual(len(expected), 5)
        p = run("filters", "diff", "--old", self.old, "--new", self.new, "--maildir", CORPUS, "--from", "sender@example.org", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        objects = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual({o["message"] for o in objects[:-1]}, expected)
        self.assertEqual(objects[-1]["summary"]["messages"], len(messages))
        self.assertEqual(objects[-1]["summary"]["changed"], len(expected))
        # With --trace, each change names the test that made it.
        text = run("filters", "diff", "--old", self.old, "--new", self.new, "--maildir", CORPUS, "--trace").stdout
        self.assertIn('new: line 4: header :contains "subject" ["undelivered", "returned mail", "could not send"] → true ⇒ discard', text)
        self.assertIn('old: line 2: header :contains "subject" "hello" → true ⇒ fileinto Hello', text)
        self.assertIn('new: line 2: header :contains "subject" "saying hello" → false', text)
        self.assertIn("%d messages compared: %d decided differently" % (len(messages), len(expected)), text)


class StoredTrialsTest(unittest.TestCase):
    """Stored mail keeps its delivery envelope; the API diff is bounded."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.filters = os.path.join(cls.server.tmp, "filters")
        os.makedirs(cls.filters)
        cls.server.env["POSTROOM_FILTERS_DIR"] = cls.filters
        with open(os.path.join(cls.filters, "global.sieve"), "w") as f:
            f.write('require ["fileinto"];\nif header :contains "subject" "spam" { fileinto "Junk"; stop; }\n')
        with open(os.path.join(cls.filters, "support.sieve"), "w") as f:
            f.write('require ["fileinto", "envelope", "subaddress"];\nif envelope :detail "to" "orders" { fileinto "Orders"; }\n')
        cls.server.start()
        with smtplib.SMTP("127.0.0.1", cls.server.smtp_port) as c:
            for i, (sender, rcpt, subject) in enumerate([
                ("ann@customer.test", "support+orders@mx.test", "Order 1"),
                ("bob@customer.test", "support@mx.test", "Question"),
                ("eve@spam.test", "support@mx.test", "spam offer"),
                ("ann@customer.test", "support+orders@mx.test", "Order 2"),
            ]):
                c.sendmail(sender, [rcpt], ("From: %s\r\nTo: support@mx.test\r\nSubject: %s\r\nMessage-ID: <t%d@customer.test>\r\n\r\nHi\r\n"
                                            % (sender, subject, i)).encode())
        cls.server.wait_processed()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def test_stored_mail_runs_with_its_delivery_envelope(self):
        p = self.server.cli("filters", "test", "--stored", "support", "--json")
        objects = [json.loads(l) for l in p.stdout.decode().splitlines()]
        by_subject = {o["stored"]["subject"]: o for o in objects[:-1]}
        self.assertEqual(by_subject["Order 1"]["outcome"]["folders"], ["Orders"])
        self.assertEqual(by_subject["Order 1"]["envelope"], {"from": "ann@customer.test", "to": "support+orders@mx.test"})
        self.assertEqual(by_subject["Question"]["outcome"]["kept"], True)
        self.assertEqual(by_subject["spam offer"]["outcome"]["folders"], ["Junk"])
        self.assertEqual(objects[-1]["summary"]["messages"], 4)
        # --limit takes the newest.
        p = self.server.cli("filters", "test", "--stored", "support", "--limit", "1")
        self.assertIn('"Order 2": fileinto "Orders"', p.stdout.decode())
        self.assertIn("1 message:", p.stdout.decode())

    def test_diff_of_a_rule_change_over_stored_mail(self):
        new = os.path.join(self.server.tmp, "support-new.sieve")
        with open(new, "w") as f:
            f.write('require ["fileinto", "envelope", "subaddress"];\nif envelope :detail "to" "orders" { fileinto "Sales"; }\n')
        p = self.server.cli("filters", "diff", "--stored", "support", "--new", new, "--trace")
        out = p.stdout.decode()
        self.assertIn('"Order 1": fileinto "Orders" → fileinto "Sales"', out)
        self.assertIn('"Order 2": fileinto "Orders" → fileinto "Sales"', out)
        self.assertNotIn("Question", out)
        # global.sieve still runs first: the spam is filed in Junk by both, no change.
        self.assertNotIn("spam offer", out)
        self.assertIn("4 messages compared: 2 decided differently", out)

        # The same over the API, before saving.
        script = open(new).read()
        answer = self.server.api("/api/filters/diff", method="POST", body={"inbox": "support", "script": script, "trace": True})
        self.assertTrue(answer["valid"])
        self.assertEqual(answer["examined"], 4)
        self.assertTrue(answer["complete"])
        self.assertEqual(sorted(c["message"]["subject"] for c in answer["changed"]), ["Order 1", "Order 2"])
        change = answer["changed"][0]
        self.assertEqual(change["old"]["folders"], ["Orders"])
        self.assertEqual(change["new"]["folders"], ["Sales"])
        self.assertEqual(change["message"]["recipient"], "support+orders@mx.test")
        self.assertIn("⇒ fileinto Sales", change["because"]["new"][0])
        self.assertEqual(answer["old"]["filed"], {"Orders": 2, "Junk": 1})
        # Bounded: the newest `limit` messages, and it says so.
        answer = self.server.api("/api/filters/diff", method="POST", body={"inbox": "support", "script": script, "limit": 2})
        self.assertEqual(answer["examined"], 2)
        self.assertEqual(answer["stoppedBy"], "limit")
        # A script that does not compile is the finding; an unknown inbox is a 404.
        answer = self.server.api("/api/filters/diff", method="POST", body={"inbox": "support", "script": "if true {\n  fileinto \"x\";\n}"})
        self.assertFalse(answer["valid"])
        self.assertEqual(answer["line"], 2)
        status, _, body = self.server.http("/api/filters/diff", method="POST", body={"inbox": "nope", "script": "keep;"})
        self.assertEqual(status, 404, body)
        status, _, body = self.server.http("/api/filters/diff", method="POST", body={"inbox": "support", "script": "keep;", "limit": 0})
        self.assertEqual(status, 400, body)


if __name__ == "__main__":
    unittest.main()
