"""Threading with real mail over SMTP: replies by References, In-Reply-To, the
signed reply token, the ticket tag; forged tokens; forwarded copies; one message to
two team addresses; re-opening; a stranger quoting a customer's Message-ID."""
import hashlib
import hmac
import os
import json
import smtplib
import unittest

from harness import Server


class ThreadingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.server.cli("inbox", "add-address", "support", "help@mx.test")
        cls.server.wait_accepts("help@mx.test")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def send(self, headers, body="Hello.\r\n", to=("support@mx.test",), sender=None):
        sender = sender or headers.get("From", "ann@customer.test")
        text = "".join("%s: %s\r\n" % (k, v) for k, v in headers.items()) + "\r\n" + body
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail(sender, list(to), text.encode())
        self.server.wait_processed()

    def conversation_of(self, message_id):
        """The conversation(s) a Message-ID was filed into (searching the timelines)."""
        found = []
        for c in self.server.api("/api/conversations?limit=500")["conversations"]:
            detail = self.server.api("/api/conversations/%d" % c["id"])
            for m in detail["timeline"]:
                if m.get("headerMessageId") == message_id:
                    found.append((c["id"], m["threadRule"], m.get("threadDetail"), m["duplicateDeliveries"]))
        return found

    def start(self, mid, subject="Order 1234 is late", sender="ann@customer.test"):
        self.send({"From": "Ann <%s>" % sender, "To": "support@mx.test", "Subject": subject, "Message-ID": "<%s>" % mid}, sender=sender)
        [(cid, rule, _, _)] = self.conversation_of(mid)
        self.assertEqual(rule, "new")
        return cid

    def test_reply_with_references_only(self):
        cid = self.start("ref-1@customer.test")
        self.send({"From": "ann@customer.test", "Subject": "Re: Order", "Message-ID": "<ref-2@customer.test>",
                   "References": "<other@x.test> <ref-1@customer.test>"})
        [(c, rule, detail, _)] = self.conversation_of("ref-2@customer.test")
        self.assertEqual((c, rule), (cid, "references"))
        self.assertEqual(detail, "References <ref-1@customer.test>")

    def test_reply_with_in_reply_to_only(self):
        cid = self.start("irt-1@customer.test")
        self.send({"From": "ann@customer.test", "Subject": "Re: Order", "Message-ID": "<irt-2@customer.test>",
                   "In-Reply-To": "<irt-1@customer.test>"})
        self.assertEqual(self.conversation_of("irt-2@customer.test")[0][:2], (cid, "references"))

    def token_tag(self, cid):
        key = open(os.path.join(self.server.data_dir, "reply-token.key"), "rb").read()
        mac = hmac.new(key, ("conversation:%d" % cid).encode(), hashlib.sha256).digest()[:8].hex()
        return "c%dx%s" % (cid, mac)

    def test_reply_through_token_address_and_forged_token(self):
        cid = self.start("tok-1@customer.test")
        tag = self.token_tag(cid)
        # The customer's program kept no In-Reply-To/References and changed the subject.
        self.send({"From": "ann@customer.test", "Subject": "new words", "Message-ID": "<tok-2@customer.test>"},
                  to=("support+%s@mx.test" % tag,))
        self.assertEqual(self.conversation_of("tok-2@customer.test")[0][:2], (cid, "token"))
        forged = tag[:-1] + ("0" if tag[-1] != "0" else "1")
        self.send({"From": "ann@customer.test", "Subject": "forged", "Message-ID": "<tok-3@customer.test>"},
                  to=("support+%s@mx.test" % forged,))
        [(c, rule, detail, _)] = self.conversation_of("tok-3@customer.test")
        self.assertNotEqual(c, cid)
        self.assertEqual(rule, "new")
        self.assertIn("bad signature", detail)

    def test_reply_through_subject_tag(self):
        self.server.api("/api/inboxes/support/settings", method="PATCH", body={"createTickets": True})
        try:
            cid = self.start("tag-1@customer.test", subject="Printer on fire")
            ticket = self.server.api("/api/conversations/%d" % cid)["conversation"]["ticket"]["number"]
            self.send({"From": "ann@customer.test", "Subject": "Re: Printer on fire [#%d]" % ticket, "Message-ID": "<tag-2@customer.test>"})
            self.assertEqual(self.conversation_of("tag-2@customer.test")[0][:2], (cid, "ticket-tag"))
        finally:
            self.server.api("/api/inboxes/support/settings", method="PATCH", body={"createTickets": False})

    def test_forwarded_copy_is_a_duplicate(self):
        cid = self.start("dup-1@customer.test")
        # The same message again, as a forwarding mailbox would deliver it to the fallback address.
        fallback = self.server.api("/api/inboxes/support")["fallbackAddress"]
        self.send({"From": "Ann <ann@customer.test>", "To": "support@mx.test", "Subject": "Order 1234 is late",
                   "Message-ID": "<dup-1@customer.test>"}, to=(fallback,))
        [(c, rule, _, duplicates)] = self.conversation_of("dup-1@customer.test")
        self.assertEqual((c, duplicates), (cid, 1))
        states = [m["state"] for m in self.server.messages() if m.get("subject") == "Order 1234 is late"]
        self.assertIn("duplicate", states)

    def test_one_message_to_two_team_addresses(self):
        self.send({"From": "ann@customer.test", "To": "support@mx.test, help@mx.test", "Subject": "both", "Message-ID": "<two-1@customer.test>"},
                  to=("support@mx.test", "help@mx.test"))
        self.assertEqual(len(self.conversation_of("two-1@customer.test")), 1)

    def test_reply_into_closed_conversation_reopens_it(self):
        cid = self.start("closed-1@customer.test")
        self.server.api("/api/conversations/%d/status" % cid, method="POST", body={"status": "closed"})
        self.send({"From": "ann@customer.test", "Subject": "Re: still broken", "Message-ID": "<closed-2@customer.test>",
                   "In-Reply-To": "<closed-1@customer.test>"})
        detail = self.server.api("/api/conversations/%d" % cid)
        self.assertEqual(detail["conversation"]["status"], "open")
        self.assertEqual(len(detail["timeline"]), 2)

    def test_stranger_quoting_a_customers_message_id(self):
        cid = self.start("priv-1@customer.test")
        self.send({"From": "news@newsletter.test", "Subject": "Re: Order 1234 is late", "Message-ID": "<nl-1@newsletter.test>",
                   "In-Reply-To": "<priv-1@customer.test>", "List-Id": "<weekly.newsletter.test>"}, sender="news@newsletter.test")
        [(c, rule, detail, _)] = self.conversation_of("nl-1@newsletter.test")
        self.assertNotEqual(c, cid)
        self.assertEqual(rule, "linked")
        self.assertIn("not a participant", detail)
        summary = self.server.api("/api/conversations/%d" % c)["conversation"]
        self.assertEqual(summary["linkedConversationId"], cid)
        # And the customer's conversation still holds only the customer's mail.
        self.assertEqual(len(self.server.api("/api/conversations/%d" % cid)["timeline"]), 1)

    def test_quoted_text_split_and_contact(self):
        cid = self.start("q-1@customer.test", sender="zoe@customer.test")
        self.send({"From": "Zoe <zoe@customer.test>", "Subject": "Re: Order", "Message-ID": "<q-2@customer.test>",
                   "In-Reply-To": "<q-1@customer.test>"},
                  body="Any news?\r\n\r\nOn Mon, 1 Jan 2024, Support <support@mx.test> wrote:\r\n> We are on it.\r\n", sender="zoe@customer.test")
        timeline = self.server.api("/api/conversations/%d" % cid)["timeline"]
        self.assertEqual(timeline[-1]["text"], "Any news?")
        self.assertTrue(timeline[-1]["quotedText"].startswith("On Mon, 1 Jan 2024"))
        contact = self.server.api("/api/conversations/%d" % cid)["conversation"]["contact"]
        detail = self.server.api("/api/contacts/%d" % contact["id"])
        self.assertEqual(detail["email"], "zoe@customer.test")
        self.assertIn(cid, [c["id"] for c in detail["conversations"]])

    @staticmethod
    def dsn(message_id, original, recipient):
        return ("From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>\r\nTo: support@mx.test\r\n"
                "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <%s>\r\n"
                "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
                "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n"
                "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\n"
                "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                "Diagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected\r\n\r\n"
                "--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@mx.test\r\nTo: %s\r\n"
                "Subject: Re: Order\r\nMessage-ID: <%s>\r\n\r\nour reply\r\n--B--\r\n") % (message_id, recipient, recipient, recipient, original)

    def test_bounce_of_an_earlier_message(self):
        cid = self.start("bounce-1@customer.test", sender="gone@customer.test")
        # A report about the customer's own message is not about mail we sent: it is
        # filed as ordinary automatic mail and suppresses nothing (issue 10, row 6).
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("", ["support@mx.test"], self.dsn("dsn-0@mx.customer.test", "bounce-1@customer.test", "gone@customer.test").encode())
        self.server.wait_processed()
        [(_, rule, _, _)] = self.conversation_of("dsn-0@mx.customer.test")
        self.assertNotEqual(rule, "bounce")
        self.assertEqual(self.server.api("/api/suppressions")["suppressions"], [])
        # Our reply bounces: that report joins the conversation and suppresses.
        status, _, body = self.server.http("/api/conversations/%d/replies" % cid, method="POST", body={"text": "our reply"})
        self.assertEqual(status, 201, body)
        reply = json.loads(body)["headerMessageId"]
        # Naming the reply's Message-ID (which anyone who got the reply knows) threads
        # and records the report, but suppresses nothing.
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("", ["support@mx.test"], self.dsn("dsn-1a@mx.customer.test", reply, "gone@customer.test").encode())
        self.server.wait_processed()
        self.assertEqual(self.server.api("/api/suppressions")["suppressions"], [])
        # The real bounce comes to the signed return path of that delivery.
        import sqlite3
        db = sqlite3.connect(os.path.join(self.server.data_dir, "postroom.sqlite"))
        [(delivery,)] = db.execute("SELECT o.id FROM outbound o JOIN message m ON m.id = o.message_id WHERE m.header_message_id = ? AND o.recipient = ?",
                                   (reply, "gone@customer.test")).fetchall()
        db.close()
        key = open(os.path.join(self.server.data_dir, "reply-token.key"), "rb").read()
        tag = "b%dx%s" % (delivery, hmac.new(key, ("bounce:%d" % delivery).encode(), hashlib.sha256).digest()[:8].hex())
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("", ["support+%s@mx.test" % tag], self.dsn("dsn-1@mx.customer.test", reply, "gone@customer.test").encode())
        self.server.wait_processed()
        [(c, rule, _, _)] = self.conversation_of("dsn-1@mx.customer.test")
        self.assertEqual((c, rule), (cid, "bounce"))
        last = self.server.api("/api/conversations/%d" % cid)["timeline"][-1]
        self.assertEqual(last["bounces"][0]["status"], "5.1.1")
        self.assertIn("Recipient address rejected", last["bounces"][0]["diagnostic"])
        self.assertEqual(last["automatic"], "empty reverse path (<>)")
        emails = [x["email"] for x in self.server.api("/api/suppressions")["suppressions"]]
        self.assertIn("gone@customer.test", emails)

    def test_cli_conversations(self):
        cid = self.start("cli-1@customer.test", subject="From the terminal")
        listed = self.server.cli("conversations", "list").stdout.decode()
        self.assertIn("From the terminal", listed)
        shown = self.server.cli("conversations", "show", str(cid)).stdout.decode()
        self.assertIn("threaded by new", shown)
        self.assertIn("Hello.", shown)


if __name__ == "__main__":
    unittest.main()
