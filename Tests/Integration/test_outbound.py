"""Replies over a real relay (Postfix's smtp-sink, dumping each message): the
delivered bytes carry the threading headers and encodings, and the customer's answer
to the reply threads back into the same conversation."""
import re
import email
import email.policy
import glob
import json
import os
import shutil
import smtplib
import socket
import struct
import subprocess
import threading
import time
import unittest

from harness import Server, free_port


class Sink:
    def __init__(self, *extra):
        self.dir = os.path.join("/tmp", "postroom-sink-%d" % free_port())
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        args = ["smtp-sink"] + (["-u", "nobody"] if os.getuid() == 0 else []) + list(extra) + ["-d", self.dir + "/%M.", "127.0.0.1:%d" % self.port, "64"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def messages(self, count=1, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            files = sorted(glob.glob(self.dir + "/*"))
            if len(files) >= count:
                time.sleep(0.2)
                return [open(f, "rb").read() for f in sorted(glob.glob(self.dir + "/*"))]
            time.sleep(0.1)
        raise AssertionError("relay got %d messages, expected %d" % (len(glob.glob(self.dir + "/*")), count))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class FakeDNS:
    """A tiny authoritative DNS server on loopback for MX tests (A, MX, NXDOMAIN)."""

    def __init__(self, records):
        self.records = records  # (name, qtype) -> list of answers; name absent -> NXDOMAIN
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def encode_name(name):
        return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"

    def serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(512)
            except OSError:
                return
            qid = data[:2]
            pos, labels = 12, []
            while data[pos]:
                labels.append(data[pos + 1:pos + 1 + data[pos]].decode())
                pos += 1 + data[pos]
            qtype = struct.unpack(">H", data[pos + 1:pos + 3])[0]
            question = data[12:pos + 5]
            name = ".".join(labels).lower()
            known = any(n == name for n, _ in self.records)
            answers = self.records.get((name, qtype), [])
            rcode = 0 if known else 3
            body = b""
            for a in answers:
                if qtype == 1:
                    rdata = bytes(int(x) for x in a.split("."))
                else:
                    rdata = struct.pack(">H", a[0]) + self.encode_name(a[1])
                body += b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 60, len(rdata)) + rdata
            header = qid + struct.pack(">BBHHHH", 0x84, rcode, 1, len(answers), 0, 0)
            self.sock.sendto(header + question + body, addr)

    def stop(self):
        self.running = False
        self.sock.close()


@unittest.skipUnless(shutil.which("smtp-sink"), "smtp-sink not installed (scripts/bootstrap installs postfix)")
class DirectMXTest(unittest.TestCase):
    def test_delivery_to_the_recipients_mx(self):
        sink = Sink()
        dns = FakeDNS({
            ("customer.test", 15): [(10, "mx.customer.test")], ("customer.test", 1): [],
            ("mx.customer.test", 1): ["127.0.0.1"], ("mx.customer.test", 28): [],
            ("amx.test", 15): [], ("amx.test", 1): ["127.0.0.1"], ("amx.test", 28): [],
        })
        server = Server(env={"POSTROOM_OUTBOUND_RESOLVER": "127.0.0.1:%d" % dns.port, "POSTROOM_OUTBOUND_ALLOW_INTERNAL_MX": "true", "POSTROOM_OUTBOUND_MX_PORT": str(sink.port)}).start()
        try:
            for sender, mid in (("ann@customer.test", "mx1"), ("bea@amx.test", "mx2"), ("cy@nowhere.test", "mx3")):
                with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
                    s.sendmail(sender, ["support@mx.test"], ("From: %s\r\nSubject: %s\r\nMessage-ID: <%s@x.test>\r\n\r\nhi\r\n" % (sender, mid, mid)).encode())
            server.wait_processed()
            for c in server.api("/api/conversations")["conversations"]:
                status, _, body = server.http("/api/conversations/%d/replies" % c["id"], method="POST", body={"text": "reply " + c["subject"]})
                self.assertEqual(status, 201, body)
            dumps = sink.messages(2)
            recipients = sorted(email.message_from_bytes(d)["X-Rcpt-Args"] for d in dumps)
            self.assertEqual(recipients, ["<ann@customer.test>", "<bea@amx.test>"])
            deadline = time.time() + 15
            while time.time() < deadline:
                failed = [d for d in server.api("/api/queue")["deliveries"] if d["state"] == "failed"]
                if failed:
                    break
                time.sleep(0.2)
            self.assertEqual([d["recipient"] for d in failed], ["cy@nowhere.test"])
            self.assertIn("5.1.2", failed[0]["lastReply"])
        finally:
            server.cleanup()
            sink.stop()
            dns.stop()


@unittest.skipUnless(shutil.which("smtp-sink"), "smtp-sink not installed (scripts/bootstrap installs postfix)")
class OutboundTest(unittest.TestCase):
    def setUp(self):
        self.sink = Sink()
        self.server = Server(env={"POSTROOM_OUTBOUND_RELAY": "127.0.0.1:%d" % self.sink.port, "POSTROOM_OUTBOUND_SECURITY": "none"}).start()

    def tearDown(self):
        self.server.cleanup()
        self.sink.stop()

    def inbound(self, headers, body="Hello.\r\n", sender="ann@customer.test", to="support@mx.test"):
        text = "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n" + body
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail(sender, [to], text.encode())
        self.server.wait_processed()

    def test_reply_round_trip(self):
        self.inbound({"From": "Ann Customer <ann@customer.test>", "To": "support@mx.test", "Cc": "bob@customer.test",
                      "Subject": "Order 1234 is late", "Message-ID": "<c1@customer.test>"})
        conversation = self.server.api("/api/conversations")["conversations"][0]
        user = self.server.api("/api/users", method="POST", body={"name": "Zoë Agent", "email": "zoe@team.test"})
        status, _, body = self.server.http("/api/conversations/%d/replies" % conversation["id"], method="POST",
                                           body={"text": "Hello Ann — we found your parcel.\nIt ships today.", "authorId": user["id"]})
        self.assertEqual(status, 201, body)
        dumps = self.sink.messages(2)
        # smtp-sink writes the envelope as X- headers (and a Received) above the message.
        copies = [email.message_from_bytes(d, policy=email.policy.default) for d in dumps]
        # One delivery per recipient, each with its own signed return path (VERP): only a
        # bounce sent to it changes suppression, and only for that recipient.
        for copy in copies:
            self.assertRegex(copy["X-Mail-Args"], r"^<support\+b\d+x[0-9a-f]{16}@mx\.test>$")
        self.assertEqual(len({c["X-Mail-Args"] for c in copies}), 2)
        self.assertEqual(sorted(c["X-Rcpt-Args"] for c in copies), ["<ann@customer.test>", "<bob@customer.test>"])
        msg = copies[0]
        self.assertEqual(str(msg["From"]), "Zoë Agent <support@mx.test>")
        self.assertEqual(str(msg["To"]), "ann@customer.test")
        self.assertEqual(str(msg["Cc"]), "bob@customer.test")
        self.assertEqual(str(msg["Subject"]), "Re: Order 1234 is late")
        self.assertEqual(msg["In-Reply-To"], "<c1@customer.test>")
        self.assertEqual(msg["References"], "<c1@customer.test>")
        self.assertTrue(msg["Message-ID"].endswith("@mx.test>"))
        self.assertRegex(str(msg["Reply-To"]), r"support\+c%dx[0-9a-f]{16}@mx\.test" % conversation["id"])
        self.assertEqual(msg.get_content().replace("\r\n", "\n").strip(), "Hello Ann — we found your parcel.\nIt ships today.")
        # Delivery state is shown per recipient.
        deadline = time.time() + 10
        while time.time() < deadline:
            timeline = self.server.api("/api/conversations/%d" % conversation["id"])["timeline"]
            states = [d["state"] for d in timeline[-1].get("deliveries", [])]
            if states and all(s == "delivered" for s in states):
                break
            time.sleep(0.2)
        self.assertEqual(sorted(d["recipient"] for d in timeline[-1]["deliveries"]), ["ann@customer.test", "bob@customer.test"])
        self.assertEqual(states, ["delivered", "delivered"])
        self.assertEqual(timeline[-1]["threadRule"], "outbound")
        # The customer answers the reply as their mail program would: it threads back.
        self.inbound({"From": "Ann Customer <ann@customer.test>", "To": str(msg["Reply-To"]), "Subject": "Re: Re: Order 1234 is late",
                      "Message-ID": "<c2@customer.test>", "In-Reply-To": msg["Message-ID"], "References": "<c1@customer.test> " + msg["Message-ID"]},
                     to=str(msg["Reply-To"]).split("<")[-1].rstrip(">"))
        timeline = self.server.api("/api/conversations/%d" % conversation["id"])["timeline"]
        self.assertEqual(timeline[-1]["headerMessageId"], "c2@customer.test")
        self.assertEqual(timeline[-1]["threadRule"], "references")
        self.assertEqual(len(self.server.api("/api/conversations")["conversations"]), 1)

    def test_dkim_signatures_verify_with_dkimpy(self):
        try:
            import dkim
        except ImportError:
            self.skipTest("dkimpy (python3-dkim) not installed")
        records = {}
        for algorithm, selector in (("rsa", "rsa1"), ("ed25519", "ed1")):
            self.server.stop()
            for f in glob.glob(os.path.join(self.server.data_dir, "dkim", "*.key")):
                os.remove(f)
            out = self.server.cli("dkim", "keygen", "mx.test", selector, "--algorithm", algorithm).stdout.decode()
            record = "\n".join(out.strip().splitlines()[1:])
            self.assertTrue(record.startswith("%s._domainkey.mx.test. IN TXT" % selector), out)
            # A zone file takes character-strings of at most 255 bytes; an RSA key's
            # record is longer, so it comes as several strings that resolvers join.
            strings = re.findall(r'"([^"]*)"', record)
            self.assertTrue(all(len(part) <= 255 for part in strings), record)
            self.assertEqual(len(strings) > 1, algorithm == "rsa", record)
            records[("%s._domainkey.mx.test." % selector).encode()] = "".join(strings).encode()
            self.server.start()
            self.inbound({"From": "ann@customer.test", "Subject": "dkim " + algorithm, "Message-ID": "<d-%s@customer.test>" % algorithm})
            conversation = [c for c in self.server.api("/api/conversations")["conversations"] if c["subject"] == "dkim " + algorithm][0]
            status, _, body = self.server.http("/api/conversations/%d/replies" % conversation["id"], method="POST",
                                               body={"text": "Signed reply — with ünïcode.\n\n  spaced   line  \n"})
            self.assertEqual(status, 201, body)
        dumps = self.sink.messages(2)
        for dumped in dumps:
            # The relay added its own X- lines and Received above the signed message.
            message = dumped[dumped.index(b"DKIM-Signature:"):]
            self.assertIn(b"a=%s" % (b"rsa-sha256" if b"s=rsa1" in message else b"ed25519-sha256"), message)
            ok = dkim.verify(message, dnsfunc=lambda name, timeout=5: records.get(name if isinstance(name, bytes) else name.encode()))
            self.assertTrue(ok, message[:400])

    def test_acknowledgements_and_notifications(self):
        alice = self.server.api("/api/users", method="POST", body={"name": "Alice", "email": "alice@team.test"})
        bob = self.server.api("/api/users", method="POST", body={"name": "Bob", "email": "bob@team.test"})
        self.server.api("/api/users/%d" % bob["id"], method="PATCH", body={"notifyNewConversation": False})
        self.server.api("/api/inboxes/support/members", method="PUT", body={"members": [alice["id"], bob["id"]]})
        self.server.api("/api/inboxes/support/settings", method="PATCH",
                        body={"autoAcknowledge": True, "routing": "user", "routingTarget": alice["id"]})
        # RFC 5230 4.5 semantics: an acknowledgement only when the inbox is in To or Cc.
        self.inbound({"From": "ann@customer.test", "To": "support@mx.test", "Subject": "first", "Message-ID": "<a1@customer.test>"})
        self.inbound({"From": "ann@customer.test", "To": "support@mx.test", "Subject": "second", "Message-ID": "<a2@customer.test>"})
        self.inbound({"From": "news@lists.test", "Subject": "digest", "Message-ID": "<n1@lists.test>", "List-Id": "<l.lists.test>"},
                     sender="news@lists.test")
        first = [c for c in self.server.api("/api/conversations")["conversations"] if c["subject"] == "first"][0]
        status, _, body = self.server.http("/api/conversations/%d/comments" % first["id"], method="POST",
                                           body={"authorId": alice["id"], "body": "@bob please check"})
        self.assertEqual(status, 201, body)
        time.sleep(2.5)
        dumps = [email.message_from_bytes(d, policy=email.policy.default) for d in self.sink.messages(1)]
        sent = sorted((m["X-Rcpt-Args"], str(m["Subject"]), m["Auto-Submitted"]) for m in dumps)
        acks = [s for s in sent if s[0] == "<ann@customer.test>"]
        self.assertEqual(acks, [("<ann@customer.test>", "Re: first", "auto-replied")], sent)  # one per sender per day
        self.assertFalse([s for s in sent if s[0] == "<news@lists.test>"], "never answer automatic mail")
        alice_mail = [s[1] for s in sent if s[0] == "<alice@team.test>"]
        self.assertIn("[Postroom] New conversation: first", alice_mail)
        self.assertIn("[Postroom] Assigned to you: first", alice_mail)
        bob_mail = [s[1] for s in sent if s[0] == "<bob@team.test>"]
        self.assertEqual(bob_mail, ["[Postroom] You were mentioned: first"])  # no new-conversation mail: his preference
        self.assertTrue(all(s[2] in ("auto-replied", "auto-generated") for s in sent))
        ack = [m for m in dumps if m["X-Rcpt-Args"] == "<ann@customer.test>"][0]
        self.assertEqual(ack["In-Reply-To"], "<a1@customer.test>")

    def test_vacation_rule_sends_one_reply_per_sender(self):
        filters = os.path.join(self.server.tmp, "filters")
        os.makedirs(filters, exist_ok=True)
        with open(os.path.join(filters, "support.sieve"), "w") as f:
            f.write('require "vacation"; vacation :days 1 :subject "Away" "Back on Monday.";\n')
        self.server.stop()
        self.server.env["POSTROOM_FILTERS_DIR"] = filters
        self.server.start()
        for i in range(3):
            self.inbound({"From": "zed@customer.test", "To": "support@mx.test", "Subject": "q%d" % i, "Message-ID": "<z%d@customer.test>" % i},
                         sender="zed@customer.test")
        time.sleep(2)
        dumps = [email.message_from_bytes(d, policy=email.policy.default) for d in self.sink.messages(1)]
        replies = [m for m in dumps if m["X-Rcpt-Args"] == "<zed@customer.test>"]
        self.assertEqual(len(replies), 1)
        self.assertEqual(str(replies[0]["Subject"]), "Away")
        self.assertEqual(replies[0]["Auto-Submitted"], "auto-replied")
        self.assertEqual(replies[0]["X-Mail-Args"], "<>")

    def test_kill9_during_delivery_loses_no_reply(self):
        """The queue survives kill -9: every queued reply arrives after the restart (one
        in flight may arrive twice; none may be missing)."""
        for i in range(12):
            self.inbound({"From": "k%d@customer.test" % i, "Subject": "kill %d" % i, "Message-ID": "<k%d@customer.test>" % i},
                         sender="k%d@customer.test" % i)
        ids = []
        for c in self.server.api("/api/conversations?limit=100")["conversations"]:
            status, _, body = self.server.http("/api/conversations/%d/replies" % c["id"], method="POST", body={"text": "reply %d" % c["id"]})
            self.assertEqual(status, 201)
            ids.append(json.loads(body)["headerMessageId"])
        self.server.kill9()
        self.server.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            pending = [d for d in self.server.api("/api/queue")["deliveries"] if d["state"] != "delivered"]
            if not pending:
                break
            time.sleep(0.2)
        self.assertEqual(pending, [])
        got = [email.message_from_bytes(d)["Message-ID"].strip("<>") for d in self.sink.messages(len(ids))]
        self.assertEqual(sorted(set(got)), sorted(ids))

    def test_permanent_failure_bounces_into_the_conversation(self):
        self.sink.stop()
        self.sink = Sink("-f", "rcpt")  # refuses RCPT with a 5xx
        self.server.stop()
        self.server.env["POSTROOM_OUTBOUND_RELAY"] = "127.0.0.1:%d" % self.sink.port
        self.server.start()
        self.inbound({"From": "gone@customer.test", "Subject": "hello", "Message-ID": "<g1@customer.test>"}, sender="gone@customer.test")
        conversation = self.server.api("/api/conversations")["conversations"][0]
        status, _, body = self.server.http("/api/conversations/%d/replies" % conversation["id"], method="POST", body={"text": "Hi"})
        self.assertEqual(status, 201, body)
        deadline = time.time() + 15
        while time.time() < deadline:
            timeline = self.server.api("/api/conversations/%d" % conversation["id"])
            deliveries = timeline["timeline"][-1].get("deliveries", [])
            if deliveries and deliveries[0]["state"] == "failed":
                break
            time.sleep(0.2)
        self.assertEqual(deliveries[0]["state"], "failed")
        self.assertTrue(deliveries[0]["lastReply"].startswith("5"))
        self.assertTrue([e for e in timeline["events"] if "delivery to gone@customer.test failed" in (e.get("body") or "")])
        queue = self.server.cli("queue", "list").stdout.decode()
        self.assertIn("failed", queue)


if __name__ == "__main__":
    unittest.main()
