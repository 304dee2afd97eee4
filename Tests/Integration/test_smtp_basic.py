import smtplib
import ssl
import os
import subprocess
import unittest

from harness import ROOT, Server, RawSMTP


class BasicSMTPTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_plain_smtplib_stores_exact_bytes(self):
        msg = b"From: a@b.test\r\nTo: support@mx.test\r\nSubject: plain\r\n\r\nhello\r\n.leading dot\r\n"
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            code, _ = s.ehlo("client.test")
            self.assertEqual(code, 250)
            for ext in ["pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls", "chunking"]:
                self.assertTrue(s.has_extn(ext), ext)
            s.sendmail("a@b.test", ["support@mx.test"], msg)
        m = [x for x in self.server.messages() if x["subject"] == "plain"][0]
        self.assertEqual(self.server.raw(m["id"]), msg)
        self.assertEqual(m["recipients"][0]["inbox"], "support")

    def test_starttls(self):
        msg = b"Subject: tls\r\n\r\nsecret\r\n"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.starttls(context=ctx)
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("a@b.test", ["support@mx.test"], msg)
        m = [x for x in self.server.messages() if x["subject"] == "tls"][0]
        self.assertTrue(m["tls"])
        self.assertEqual(m["protocol"], "ESMTPS")
        self.assertEqual(self.server.raw(m["id"]), msg)

    def test_relay_denied_and_unknown_user(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo()
            s.mail("a@b.test")
            code, text = s.rcpt("someone@elsewhere.test")
            self.assertEqual(code, 554)
            self.assertIn(b"5.7.1", text)
            code, text = s.rcpt("nobody@mx.test")
            self.assertEqual(code, 550)
            self.assertIn(b"5.1.1", text)

    def test_swaks(self):
        p = subprocess.run(
            ["swaks", "--server", "127.0.0.1:%d" % self.server.smtp_port, "--to", "support+swaks@mx.test",
             "--from", "swaks@client.test", "--header", "Subject: via swaks"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("250 2.0.0 Ok: queued as", p.stdout)
        m = [x for x in self.server.messages() if x["subject"] == "via swaks"][0]
        self.assertEqual(m["recipients"][0]["tag"], "swaks")

    def test_swaks_starttls(self):
        p = subprocess.run(
            ["swaks", "--server", "127.0.0.1:%d" % self.server.smtp_port, "--to", "support@mx.test",
             "--from", "swaks@client.test", "--header", "Subject: swaks over tls", "-tls"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("TLS started", p.stdout)
        m = [x for x in self.server.messages() if x["subject"] == "swaks over tls"][0]
        self.assertEqual(m["protocol"], "ESMTPS")

    def test_vrfy_and_help(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo()
            code, text = s.verify("support@mx.test")
            self.assertEqual(code, 252)
            self.assertIn(b"2.0.0", text)
            code, text = s.docmd("HELP")
            self.assertEqual(code, 214)
            self.assertIn(b"BDAT", text)

    def test_bare_lf_command(self):
        c = RawSMTP(self.server.smtp_port)
        c.reply()
        c.send(b"EHLO x\n")
        code, text = c.reply()
        self.assertEqual(code, 550)
        self.assertIn("5.5.2", text)
        c.close()


class TLSRequiredTest(unittest.TestCase):
    def test_mail_refused_before_starttls(self):
        server = Server(env={"POSTROOM_SMTP_TLS_REQUIRED": "true"}).start()
        try:
            with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
                s.ehlo()
                code, text = s.mail("a@b.test")
                self.assertEqual(code, 530)
                self.assertIn(b"5.7.0", text)
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s.starttls(context=ctx)
                s.ehlo()
                s.sendmail("a@b.test", ["support@mx.test"], b"Subject: required tls\r\n\r\nx\r\n")
            self.assertTrue([m for m in server.messages() if m.get("subject") == "required tls"][0]["tls"])
        finally:
            server.cleanup()

    def test_configured_certificate_is_used(self):
        tmp = Server()
        cert = os.path.join(tmp.tmp, "dev-cert.pem")
        key = os.path.join(tmp.tmp, "dev-key.pem")
        subprocess.run(["bash", os.path.join(ROOT, "certs", "make-dev-cert"), "configured.example.test", tmp.tmp], check=True, capture_output=True)
        server = Server(env={"POSTROOM_SMTP_TLS_CERTIFICATE": cert, "POSTROOM_SMTP_TLS_KEY": key}).start()
        try:
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = True
            with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
                s._host = "configured.example.test"
                s.starttls(context=ctx)
                self.assertIn("configured.example.test", str(s.sock.getpeercert()))
        finally:
            server.cleanup()
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
