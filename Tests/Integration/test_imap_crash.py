"""kill -9 in the middle of pulling a big folder from a real Dovecot, then a restart:
exactly N messages, for a connected mailbox (the checkpoint rides in each batch's
transaction) and for `postroom import imap` (a second run skips what is there)."""
import json
import shutil
import subprocess
import time
import unittest

from dovecot import PASSWORD, USER, Dovecot
from harness import BIN, Server

N = 3000


def raw(i):
    return ("From: Customer %d <c%d@customer.test>\r\nTo: support@provider.test\r\nSubject: Question %d\r\n"
            "Message-ID: <q%d@customer.test>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n%s" % (
                i, i % 97, i, i, "Some words about order %d.\r\n" % i * 20)).encode()


@unittest.skipUnless(shutil.which("dovecot"), "dovecot not installed (scripts/bootstrap installs it)")
class IMAPCrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot()
        cls.dovecot.add_many(raw(i) for i in range(N))
        cls.dovecot.start()
        cls.server = Server(env={"POSTROOM_MAILBOX_PROVIDER": PASSWORD, "POSTROOM_MAILBOXES_POLL_INTERVAL": "1s"})
        cls.server.cli("inbox", "create", "Connected", "--address", "connected@provider.test")
        cls.server.cli("inbox", "create", "Imported", "--address", "imported@provider.test")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.dovecot.stop()

    def wait_count(self, prefix, at_least, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            n = self.server.count(prefix)[0]
            if n >= at_least:
                return n
            time.sleep(0.02)
        self.fail("only %d of %d after %ds; log:\n%s" % (self.server.count(prefix)[0], at_least, timeout, self.server.read_log()[-3000:]))

    def test_connected_mailbox_kill9_mid_import(self):
        out = self.server.cli("mailbox", "add", "--inbox", "connected", "--host", "127.0.0.1", "--port", str(self.dovecot.port),
                              "--security", "plain", "--user", USER, "--password-env", "POSTROOM_MAILBOX_PROVIDER", "--import-history", "--json").stdout
        ident = json.loads(out)["id"]
        prefix = "imap:%d" % ident
        self.server.start()
        self.wait_count(prefix, 300)
        self.server.kill9()
        at_kill = self.server.count(prefix)[0]
        self.assertLess(at_kill, N, "the import finished before the kill; raise N")
        self.server.start()
        self.wait_count(prefix, N)
        time.sleep(2.5)  # more polls: nothing pulled again
        self.assertEqual(self.server.count(prefix), (N, N))
        m = [m for m in json.loads(self.server.cli("mailbox", "list", "--json").stdout)["mailboxes"] if m["id"] == ident][0]
        self.assertEqual(m["pulled"], N)
        print("\n  killed at %d of %d; after restart %d, no duplicates" % (at_kill, N, N))
        self.server.stop()

    def test_import_command_kill9_then_again(self):
        env = dict(self.server.env, POSTROOM_IMAP_PASSWORD=PASSWORD)
        url = "imap://%s@127.0.0.1:%d/INBOX" % (USER.replace("@", "%40"), self.dovecot.port)
        cmd = [BIN, "import", "--data-dir", self.server.data_dir, "--inbox", "imported", "imap", url]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            self.wait_count("import", 300)
        finally:
            p.kill()
            p.wait()
        at_kill = self.server.count("import")[0]
        self.assertLess(at_kill, N, "the import finished before the kill; raise N")
        out = subprocess.run(cmd, capture_output=True, env=env, check=True).stdout.decode()
        self.assertIn("imported %d, skipped %d" % (N - at_kill, at_kill), out)
        self.assertEqual(self.server.count("import"), (N, N))
        print("\n  import killed at %d of %d; the second run added %d" % (at_kill, N, N - at_kill))


if __name__ == "__main__":
    unittest.main()
