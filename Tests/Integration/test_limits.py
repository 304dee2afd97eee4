"""Each limit has a config key and a clear reply; memory stays bounded whatever a
client sends."""
import smtplib
import socket
import time
import unittest

from harness import Server, RawSMTP

CONFIG = """
smtp:
  max-message-size: 10K
  max-recipients: 3
  max-sessions: 6
  max-sessions-per-ip: 4
  idle-timeout: 1500ms
  max-errors: 3
"""


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(config_text=CONFIG).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def session(self, source="127.0.0.1"):
        c = RawSMTP.__new__(RawSMTP)
        c.sock = socket.create_connection(("127.0.0.1", self.server.smtp_port), timeout=10, source_address=(source, 0))
        c.buf = b""
        return c

    def ready(self):
        c = self.session()
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.cmd("EHLO limits.test")[0], 250)
        return c

    def test_size_declared(self):
        c = self.ready()
        code, text = c.cmd("MAIL FROM:<a@b.test> SIZE=20000")
        self.assertEqual(code, 552)
        self.assertIn("5.3.4", text)
        c.close()

    def test_size_undeclared(self):
        c = self.ready()
        c.cmd("MAIL FROM:<a@b.test>")
        c.cmd("RCPT TO:<support@mx.test>")
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 300 + b".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 552)
        self.assertIn("5.3.4", text)
        # The session goes on.
        self.assertEqual(c.cmd("NOOP")[0], 250)
        c.close()
        self.assertFalse([m for m in self.server.messages() if m.get("subject") == "big"])

    def test_ehlo_advertises_configured_size(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo()
            self.assertEqual(s.esmtp_features["size"], str(10 * 1024))

    def test_text_line_limit(self):
        c = self.ready()
        c.cmd("MAIL FROM:<a@b.test>")
        c.cmd("RCPT TO:<support@mx.test>")
        c.cmd("DATA")
        c.send(b"Subject: long line\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n")
        code, text = c.reply()
        self.assertEqual(code, 550)
        self.assertIn("5.6.0", text)
        c.close()

    def test_command_line_limit(self):
        c = self.ready()
        code, text = c.cmd("NOOP " + "z" * 600)
        self.assertEqual(code, 500)
        self.assertIn("5.5.6", text)
        c.close()

    def test_recipient_limit(self):
        c = self.ready()
        c.cmd("MAIL FROM:<a@b.test>")
        codes = [c.cmd("RCPT TO:<support+%d@mx.test>" % i)[0] for i in range(4)]
        self.assertEqual(codes, [250, 250, 250, 452])
        c.close()

    def test_error_limit(self):
        c = self.ready()
        self.assertEqual(c.cmd("BOGUS")[0], 500)
        self.assertEqual(c.cmd("BOGUS")[0], 500)
        c.send(b"BOGUS\r\n")
        self.assertEqual(c.reply()[0], 500)
        code, text = c.reply()
        self.assertEqual(code, 421)
        self.assertIn("4.7.0", text)
        self.assertTrue(c.closed())

    def test_idle_timeout(self):
        c = self.ready()
        start = time.time()
        code, text = c.reply()
        self.assertEqual(code, 421)
        self.assertIn("4.4.2", text)
        self.assertLess(time.time() - start, 5)
        self.assertTrue(c.closed())

    def test_sessions_per_ip_and_total(self):
        time.sleep(0.2)
        held = []
        try:
            for _ in range(4):
                c = self.session("127.0.0.1")
                self.assertEqual(c.reply()[0], 220)
                held.append(c)
            c = self.session("127.0.0.1")
            code, text = c.reply()
            self.assertEqual(code, 421)
            self.assertIn("4.7.0", text)
            self.assertIn("your address", text)
            self.assertTrue(c.closed())
            for _ in range(2):
                c = self.session("127.0.0.2")
                self.assertEqual(c.reply()[0], 220)
                held.append(c)
            c = self.session("127.0.0.3")
            code, text = c.reply()
            self.assertEqual(code, 421)
            self.assertIn("Too many sessions", text)
        finally:
            for c in held:
                c.close()

    def test_memory_bounded_endless_line_and_message(self):
        pid = self.server.proc.pid
        before = rss_kib(pid)
        c = self.ready()
        chunk = b"x" * 65536
        for _ in range(300):  # ~20 MB on one command line, no newline
            c.send(chunk)
        c.send(b"\r\n")
        self.assertEqual(c.reply()[0], 500)
        self.assertEqual(c.cmd("MAIL FROM:<a@b.test>")[0], 250)
        c.cmd("RCPT TO:<support@mx.test>")
        self.assertEqual(c.cmd("DATA")[0], 354)
        line = b"y" * 78 + b"\r\n"
        block = line * 800
        for _ in range(500):  # ~32 MB of message against a 10 KiB limit
            c.send(block)
        c.send(b".\r\n")
        self.assertEqual(c.reply()[0], 552)
        after = rss_kib(pid)
        c.close()
        # A small multiple of the limits, not of what was sent.
        self.assertLess(after - before, 32 * 1024, (before, after))


if __name__ == "__main__":
    unittest.main()
