"""Connected mailboxes against a real Dovecot: start-from-now pulls only new mail, import
history pulls all, kill -9 and restart never pull twice nor skip, a UIDVALIDITY change
re-scans without duplicates, and a wrong password is a status, not a crash."""
import json
import os
import re
import shutil
import subprocess
import time
import unittest

from dovecot import PASSWORD, USER, Dovecot
from harness import Server


def raw(subject, msgid):
    return ("From: Ann <ann@customer.test>\r\nTo: support@provider.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nhello\r\n" % (subject, msgid)).encode()


@unittest.skipUnless(shutil.which("dovecot"), "dovecot not installed (scripts/bootstrap installs it)")
class MailboxesTest(unittest.TestCase):
    def setUp(self):
        self.dovecot = Dovecot()
        self.dovecot.add(raw("Old one", "old1@customer.test"))
        self.dovecot.add(raw("Old two", "old2@customer.test"))
        self.dovecot.start()
        self.server = Server(env={"POSTROOM_MAILBOXES_POLL_INTERVAL": "1s", "POSTROOM_MAILBOX_PROVIDER": PASSWORD, "POSTROOM_MAILBOX_BAD": "nope"})
        filters = os.path.join(self.server.tmp, "filters")
        os.makedirs(filters)
        with open(os.path.join(filters, "provider.sieve"), "w") as f:
            f.write('require "fileinto";\nif header :contains "subject" "two" { fileinto "Billing"; }\n')
        self.server.env["POSTROOM_FILTERS_DIR"] = filters
        self.server.cli("inbox", "create", "Provider", "--address", "support@provider.test")

    def tearDown(self):
        self.server.cleanup()
        self.dovecot.stop()

    def add(self, *extra, env="POSTROOM_MAILBOX_PROVIDER"):
        out = self.server.cli("mailbox", "add", "--inbox", "provider", "--host", "127.0.0.1", "--port", str(self.dovecot.port),
                              "--security", "plain", "--user", USER, "--password-env", env, "--json", *extra).stdout
        return json.loads(out)["id"]

    def mailbox(self, ident):
        return [m for m in json.loads(self.server.cli("mailbox", "list", "--json").stdout)["mailboxes"] if m["id"] == ident][0]

    def subjects(self):
        return sorted(m["subject"] for m in self.server.messages("provider"))

    def wait_for(self, predicate, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        self.fail("timed out; subjects %s; mailboxes %s; log:\n%s" % (
            self.subjects(), self.server.cli("mailbox", "list").stdout.decode(), self.server.read_log()[-3000:]))

    def test_start_from_now_pulls_only_new_mail(self):
        # A poll interval longer than the wait below: only IDLE can bring the new mail in time.
        self.server.env["POSTROOM_MAILBOXES_POLL_INTERVAL"] = "120s"
        ident = self.add()
        self.server.start()
        self.wait_for(lambda: self.mailbox(ident)["status"] == "connected")
        # Each new message is stored within 2 seconds of its delivery to the provider.
        waits = []
        for i in range(5):
            delivered = time.time()
            self.dovecot.add(raw("New %d" % i, "new%d@customer.test" % i))
            while self.server.count("imap:")[0] < i + 1 and time.time() - delivered < 10:
                time.sleep(0.01)
            waits.append(time.time() - delivered)
        print("\n  IDLE: delivered -> stored in %s s" % ", ".join("%.2f" % w for w in waits))
        self.assertLess(max(waits), 2.0, waits)
        self.wait_for(lambda: self.subjects() == ["New %d" % i for i in range(5)])
        m = self.mailbox(ident)
        self.assertEqual(m["pulled"], 5)
        self.assertNotIn(PASSWORD, json.dumps(m))
        # Shutdown ends the IDLE at once and exits cleanly.
        self.assertEqual(self.server.stop(timeout=20), 0)

    def test_idle_renewal_and_a_dropped_connection(self):
        self.server.env["POSTROOM_MAILBOXES_POLL_INTERVAL"] = "120s"
        self.server.env["POSTROOM_MAILBOXES_IDLE_RENEW"] = "2s"
        # Shorter than one IDLE: silence while idling must not count as a dead connection.
        self.server.env["POSTROOM_MAILBOXES_TIMEOUT"] = "1s"
        ident = self.add()
        self.server.start()
        self.wait_for(lambda: self.mailbox(ident)["status"] == "connected")
        self.wait_for(lambda: self.server.read_log().count("IDLE renewed") >= 3)
        self.assertNotIn("sent nothing", self.server.read_log())
        self.assertEqual(self.mailbox(ident)["failures"], 0)
        delivered = time.time()
        self.dovecot.add(raw("After renewals", "ren1@customer.test"))
        self.wait_for(lambda: self.server.count("imap:")[0] == 1)
        self.assertLess(time.time() - delivered, 2.0)
        # The provider goes away: a status, not a crash; it comes back: mail flows again.
        self.dovecot.stop(keep=True)
        self.wait_for(lambda: self.mailbox(ident)["status"] == "error")
        self.assertIn("connection", self.mailbox(ident)["lastError"])
        self.dovecot.start()
        self.dovecot.add(raw("After the outage", "out1@customer.test"))
        self.wait_for(lambda: self.subjects() == ["After renewals", "After the outage"], timeout=40)
        self.assertEqual(self.mailbox(ident)["status"], "connected")
        self.assertEqual(self.server.proc.poll(), None)

    def test_history_kill9_restart_and_new_uidvalidity_never_duplicate(self):
        ident = self.add("--import-history")
        self.server.start()
        self.wait_for(lambda: self.subjects() == ["Old one", "Old two"])
        self.server.kill9()
        self.dovecot.add(raw("While down", "down1@customer.test"))
        self.server.start()
        self.wait_for(lambda: self.subjects() == ["Old one", "Old two", "While down"])
        time.sleep(2.5)  # two more polls: nothing pulled again
        self.assertEqual(self.subjects(), ["Old one", "Old two", "While down"])
        self.assertEqual(self.mailbox(ident)["pulled"], 3)
        # The provider renumbers the folder: everything is read again, nothing duplicated.
        before = self.mailbox(ident)["uidValidity"]
        subprocess.run(["doveadm", "-c", self.dovecot.conf, "mailbox", "update", "-u", USER, "--uid-validity", str(before + 7), "INBOX"],
                       check=True, capture_output=True)
        self.dovecot.add(raw("After renumbering", "renum1@customer.test"))
        self.wait_for(lambda: "After renumbering" in self.subjects())
        time.sleep(2.5)
        self.assertEqual(self.subjects(), ["After renumbering", "Old one", "Old two", "While down"])
        self.assertEqual(self.mailbox(ident)["uidValidity"], before + 7)
        self.server.wait_processed()
        channels = {m["channel"] for m in self.server.messages("provider")}
        self.assertEqual(channels, {"imap:%d" % ident})
        # Filters ran on pulled mail as on SMTP mail.
        convs = self.server.api("/api/conversations?inbox=provider&limit=100")["conversations"]
        labels = {c["subject"]: c["labels"] for c in convs}
        self.assertEqual(labels["Old two"], ["Billing"], labels)
        self.assertEqual(labels["Old one"], [], labels)

    def test_wrong_password_backs_off_then_recovers(self):
        ident = self.add("--import-history", env="POSTROOM_MAILBOX_BAD")
        self.server.start()
        self.wait_for(lambda: self.mailbox(ident)["failures"] >= 3, timeout=30)
        m = self.mailbox(ident)
        self.assertEqual(m["status"], "error")
        self.assertIsNotNone(m["nextAttempt"])
        delays = [int(d) for d in re.findall(r"mailbox %d .*retrying in (\d+) s" % ident, self.server.read_log())]
        self.assertEqual(delays[:3], [1, 2, 4], delays)
        # The provider now takes that password: the next attempt connects and pulls.
        self.dovecot.set_password("nope")
        self.wait_for(lambda: self.subjects() == ["Old one", "Old two"], timeout=30)
        m = self.mailbox(ident)
        self.assertEqual((m["status"], m["failures"], m.get("lastError"), m.get("nextAttempt")), ("connected", 0, None, None))
        self.assertIsNotNone(m["highestModSeq"])  # Dovecot offers CONDSTORE

    def test_wrong_password_is_a_status_and_test_command(self):
        ident = self.add(env="POSTROOM_MAILBOX_BAD")
        self.server.start()
        self.wait_for(lambda: self.mailbox(ident)["status"] == "error")
        m = self.mailbox(ident)
        self.assertRegex(m["lastError"], "(AUTHENTICATE PLAIN|LOGIN) \\*\\*\\* refused")
        self.assertNotIn("nope", m["lastError"])
        self.assertNotIn("nope", self.server.read_log())
        p = self.server.cli("mailbox", "test", str(ident), check=False)
        self.assertNotEqual(p.returncode, 0)
        good = self.add()
        p = self.server.cli("mailbox", "test", str(good))
        self.assertIn(b"messages 2", p.stdout)
        self.server.cli("mailbox", "remove", str(ident))
        # STARTTLS chosen but not offered (this Dovecot has ssl = no): refused, no plain login.
        out = self.server.cli("mailbox", "add", "--inbox", "provider", "--host", "127.0.0.1", "--port", str(self.dovecot.port),
                              "--security", "starttls", "--user", USER, "--password-env", "POSTROOM_MAILBOX_PROVIDER", "--json").stdout
        tls = json.loads(out)["id"]
        p = self.server.cli("mailbox", "test", str(tls), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"does not offer STARTTLS", p.stderr)
        self.server.cli("mailbox", "remove", str(tls))
        self.assertEqual([m["id"] for m in json.loads(self.server.cli("mailbox", "list", "--json").stdout)["mailboxes"]], [good])
        # The same over the API.
        created = self.server.api("/api/mailboxes", method="POST", body={
            "inbox": "provider", "host": "127.0.0.1", "port": self.dovecot.port, "security": "plain", "user": USER,
            "passwordEnv": "POSTROOM_MAILBOX_PROVIDER", "folder": "INBOX"})
        self.assertEqual(created["status"], "new")
        self.assertEqual(self.server.api("/api/mailboxes/%d/test" % created["id"], method="POST")["messages"], 2)
        self.assertEqual(len(self.server.api("/api/mailboxes")["mailboxes"]), 2)
        status, _, body = self.server.http("/api/mailboxes", method="POST", body={
            "inbox": "provider", "host": "imap.example.com", "security": "plain", "user": "x", "passwordEnv": "POSTROOM_MAILBOX_X"})
        self.assertEqual(status, 409, body)
        self.assertIn(b"loopback", body)
        status, _, body = self.server.http("/api/mailboxes/%d/test" % ident, method="POST")
        self.assertEqual(status, 404)
        self.assertEqual(self.server.api("/api/mailboxes/%d" % created["id"], method="DELETE")["removed"], str(created["id"]))


if __name__ == "__main__":
    unittest.main()
