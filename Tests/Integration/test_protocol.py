"""Protocol behaviour against the running server: SMTPUTF8, 8BITMIME, BDAT,
pipelining, smuggling and STARTTLS injection, with raw sockets where smtplib is too
polite to send what attackers send."""
import smtplib
import socket
import ssl
import unittest

from harness import Server, RawSMTP


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.server.cli("inbox", "create", "Sales", "--address", "sales@mx.test")
        cls.server.wait_accepts("sales@mx.test")
        fallback = [i for i in cls.server.api("/api/inboxes")["inboxes"] if i["slug"] == "sales"][0]["fallbackAddress"]
        cls.server.wait_accepts(fallback)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def find(self, subject):
        return [m for m in self.server.messages() if m.get("subject") == subject]

    def session(self):
        c = RawSMTP(self.server.smtp_port)
        code, _ = c.reply()
        self.assertEqual(code, 220)
        code, _ = c.cmd("EHLO raw.test")
        self.assertEqual(code, 250)
        return c

    def test_smtputf8_and_8bitmime(self):
        msg = "From: Ünïcødé <δοκιμή@παράδειγμα.δοκιμή>\r\nSubject: utf8 ✓\r\n\r\nkøbenhavn — 東京\r\n".encode()
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo()
            s.sendmail("δοκιμή@παράδειγμα.δοκιμή", ["support@mx.test"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        [m] = self.find("utf8 ✓")
        self.assertTrue(m["smtputf8"])
        self.assertEqual(m["protocol"], "UTF8SMTP")
        self.assertEqual(m["bodyType"], "8BITMIME")
        self.assertEqual(m["from"], "δοκιμή@παράδειγμα.δοκιμή")
        self.assertEqual(self.server.raw(m["id"]), msg)

    def test_8bitmime_without_smtputf8(self):
        msg = "Subject: eight bit\r\n\r\nLatin-1 text: caf\xe9\r\n".encode("latin-1")
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo()
            s.sendmail("a@b.test", ["support@mx.test"], msg, mail_options=["BODY=8BITMIME"])
        [m] = self.find("eight bit")
        self.assertEqual(self.server.raw(m["id"]), msg)

    def test_non_ascii_address_without_smtputf8(self):
        c = self.session()
        code, text = c.cmd("MAIL FROM:<δοκιμή@example.test>")
        self.assertEqual(code, 553)
        self.assertIn("5.6.7", text)
        c.close()

    def test_bdat_over_raw_socket(self):
        c = self.session()
        part1 = b"Subject: chunked\r\n\r\n"
        part2 = b".line starting with a dot is not stuffed in BDAT\r\n"
        self.assertEqual(c.cmd("MAIL FROM:<a@b.test>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<support@mx.test>")[0], 250)
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        code, text = c.reply()
        self.assertEqual(code, 250)
        c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        self.assertIn("queued as", text)
        c.cmd("QUIT")
        [m] = self.find("chunked")
        self.assertEqual(self.server.raw(m["id"]), part1 + part2)

    def test_bdat_pipelined_with_commands(self):
        c = self.session()
        body = b"Subject: bdat pipelined\r\n\r\nx\r\n"
        c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<support@mx.test>\r\nBDAT %d LAST\r\n" % len(body) + body + b"QUIT\r\n")
        codes = [c.reply()[0] for _ in range(4)]
        self.assertEqual(codes, [250, 250, 250, 221])
        self.assertEqual(len(self.find("bdat pipelined")), 1)

    def test_pipelining(self):
        c = self.session()
        c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<support@mx.test>\r\nRCPT TO:<nobody@mx.test>\r\nDATA\r\n")
        codes = [c.reply()[0] for _ in range(4)]
        self.assertEqual(codes, [250, 250, 550, 354])
        c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual(c.reply()[0], 221)
        self.assertEqual(len(self.find("pipelined")), 1)

    def test_one_message_two_inboxes_stored_once(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("a@b.test", ["support@mx.test", "SALES@MX.TEST"], b"Subject: both inboxes\r\n\r\nx\r\n")
        [m] = self.find("both inboxes")
        self.assertEqual(sorted(r["inbox"] for r in m["recipients"]), ["sales", "support"])
        in_sales = [x["id"] for x in self.server.messages("sales")]
        in_support = [x["id"] for x in self.server.messages("support")]
        self.assertIn(m["id"], in_sales)
        self.assertIn(m["id"], in_support)

    def test_fallback_address(self):
        inboxes = self.server.api("/api/inboxes")["inboxes"]
        fallback = [i for i in inboxes if i["slug"] == "sales"][0]["fallbackAddress"]
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("a@b.test", [fallback], b"Subject: via fallback\r\n\r\nforwarded\r\n")
        [m] = self.find("via fallback")
        self.assertEqual(m["recipients"][0]["inbox"], "sales")

    def test_null_reverse_path_and_postmaster(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo()
            self.assertEqual(s.mail("<>")[0], 250)
            self.assertEqual(s.rcpt("<Postmaster>")[0], 250)
            self.assertEqual(s.data(b"Subject: bounce to postmaster\r\n\r\nx\r\n")[0], 250)
        [m] = self.find("bounce to postmaster")
        self.assertEqual(m["from"], "")

    # --- smuggling: each attempt is followed by a second message's commands ------

    def smuggle(self, ending):
        c = self.session()
        subject = "smuggle %r" % ending
        c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<support@mx.test>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 354])
        payload = (b"Subject: " + subject.encode() + b"\r\n\r\nfirst message" + ending +
                   b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<sales@mx.test>\r\nDATA\r\n"
                   b"Subject: smuggled\r\n\r\nsmuggled body\r\n.\r\n")
        c.send(payload)
        code, text = c.reply()
        c.cmd("QUIT")
        c.close()
        return subject, code, text

    def test_smuggling_attempts(self):
        for ending in [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"]:
            before = len(self.server.messages())
            subject, code, text = self.smuggle(ending)
            after = self.server.messages()
            # The whole message is refused: neither it nor the smuggled one is stored.
            self.assertEqual(code, 550, (ending, text))
            self.assertIn("5.5.2", text)
            self.assertEqual(len(after), before, ending)
            self.assertFalse([m for m in after if m.get("subject") == "smuggled"])
            self.assertFalse([m for m in after if m["from"] == "evil@attacker.test"])

    def test_smuggling_after_a_good_message(self):
        """A good message, then a smuggling attempt in the same session: exactly one stored."""
        c = self.session()
        c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<support@mx.test>\r\nDATA\r\nSubject: good one\r\n\r\nok\r\n.\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 354, 250])
        c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<support@mx.test>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 354])
        c.send(b"Subject: bad one\r\n\r\nx\n.\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<sales@mx.test>\r\nDATA\r\nsmuggled\r\n.\r\n")
        self.assertEqual(c.reply()[0], 550)
        msgs = self.server.messages()
        self.assertEqual(len([m for m in msgs if m.get("subject") == "good one"]), 1)
        self.assertFalse([m for m in msgs if m.get("subject") == "bad one" or m["from"] == "evil@attacker.test"])

    def test_dot_stuffing_exact(self):
        body = b"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n. \r\nend.\r\n"
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("a@b.test", ["support@mx.test"], body)
        [m] = self.find("dots")
        self.assertEqual(self.server.raw(m["id"]), body)

    def test_starttls_injection_is_discarded(self):
        c = self.session()
        c.send(b"STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<support@mx.test>\r\n")
        code, _ = c.reply()
        self.assertEqual(code, 220)
        tls = tls_context().wrap_socket(c.sock, server_hostname="mx.test")
        c.sock = tls
        # Had the injected commands run, RCPT would now succeed without a new MAIL.
        code, _ = c.cmd("EHLO raw.test")
        self.assertEqual(code, 250)
        code, text = c.cmd("RCPT TO:<support@mx.test>")
        self.assertEqual(code, 503, text)
        c.close()

    def test_tls_protocol_recorded(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.starttls(context=tls_context())
            s.sendmail("a@b.test", ["support@mx.test"], b"Subject: over tls\r\n\r\nx\r\n", mail_options=["SMTPUTF8"])
        [m] = self.find("over tls")
        self.assertEqual(m["protocol"], "UTF8SMTPS")

    def test_received_header_and_queue_id(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.ehlo("helo.name.test")
            s.mail("a@b.test")
            s.rcpt("support@mx.test")
            code, text = s.data(b"Subject: trace\r\n\r\nx\r\n")
        qid = text.decode().rsplit(" ", 1)[1]
        detail = self.server.api("/api/messages/" + qid)
        self.assertEqual(detail["message"]["queueId"], qid)
        rh = detail["receivedHeader"]
        self.assertTrue(rh.startswith("Received: from helo.name.test ([127.0.0.1])"), rh)
        self.assertIn("by mx.test (Postroom) with ESMTP id " + qid, rh)
        self.assertIn("for <support@mx.test>", rh)


if __name__ == "__main__":
    unittest.main()
