"""Configuration that changes without a restart: the relay, DKIM keys, the retry
schedule and the limits on automatic mail reload on SIGHUP and on
POST /api/config/reload (`postroom config reload`); a mistake changes nothing; keys
that need a restart are named. The relay test runs in the server (`postroom relay test`).
Real server, real SMTP relays (recording fakes on loopback)."""
import json
import os
import signal
import smtplib
import time
import unittest

from fakepeers import SMTPPeer, wait_until
from harness import Server, free_port


def config(relay_port, cap=5, extra=""):
    return ("outbound:\n  relay: 127.0.0.1:%d\n  security: none\n  retry-schedule: 1s\n"
            "automail:\n  per-recipient-cap: %d\n%s" % (relay_port, cap, extra))


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.a = SMTPPeer(name="relay-a.test")
        self.b = SMTPPeer(name="relay-b.test", auth=("robot", "s3cret"))
        self.server = Server(config_text=config(self.a.port))
        self.server.start()
        self.sent = 0

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()
        self.a.stop()
        self.b.stop()

    def write_config(self, text):
        with open(self.server.config, "w") as f:
            f.write(text)

    def reply(self):
        """A customer writes in; an agent answers; returns the reply's Message-ID."""
        self.sent += 1
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as c:
            c.sendmail("ann@customer.test", ["support@mx.test"],
                       ("From: ann@customer.test\r\nTo: support@mx.test\r\nSubject: Case %d\r\nMessage-ID: <r%d@customer.test>\r\n\r\nHello\r\n"
                        % (self.sent, self.sent)).encode())
        self.server.wait_processed()
        conversation = [c for c in self.server.api("/api/conversations")["conversations"] if c["subject"] == "Case %d" % self.sent][0]
        status, _, body = self.server.http("/api/conversations/%d/replies" % conversation["id"], method="POST", body={"text": "Answer %d" % self.sent})
        self.assertEqual(status, 201, body)
        return json.loads(body)

    def reload(self, expect=200):
        status, _, body = self.server.http("/api/config/reload", method="POST")
        self.assertEqual(status, expect, body)
        return json.loads(body)

    def test_relay_dkim_and_caps_reload_over_the_api_and_sighup(self):
        self.reply()
        self.assertTrue(self.a.wait_messages(1), self.server.read_log())
        self.assertNotIn(b"DKIM-Signature", self.a.messages[0]["data"])

        # New relay (with AUTH), a DKIM key, a lower cap, and a key that needs a restart.
        self.server.cli("dkim", "keygen", "mx.test", "s1", "--algorithm", "ed25519")
        self.write_config(config(self.b.port, cap=1, extra="smtp:\n  max-recipients: 7\n").replace(
            "security: none\n", "security: none\n  username: robot\n  password: s3cret\n"))
        report = self.reload()
        self.assertEqual(sorted(report["applied"]), ["automail.per-recipient-cap", "outbound.password", "outbound.relay", "outbound.username"])
        self.assertEqual(report["restartNeeded"], ["smtp.max-recipients"])
        self.assertEqual(report["dkim"], ["mx.test: s1 (ed25519-sha256)"], report)
        self.assertIn("smtp.max-recipients changed but need a restart", self.server.read_log())

        self.reply()
        self.assertTrue(self.b.wait_messages(1), self.server.read_log())
        self.assertIn(b"DKIM-Signature:", self.b.messages[0]["data"])
        self.assertIn(b"s=s1", self.b.messages[0]["data"])
        self.assertTrue(any(l.startswith(b"AUTH PLAIN") for l in self.b.commands()))
        self.assertEqual(len(self.a.messages), 1)

        # What the server shows as in effect is the reloaded relay.
        effective = self.server.api("/api/config")
        self.assertIn("relay 127.0.0.1:%d" % self.b.port, effective["outbound"])
        self.assertIn("mx.test: s1", effective["dkim"])

        # The relay test runs from the server, with its password.
        probe = self.server.api("/api/relay/test", method="POST")
        self.assertTrue(probe["ok"], probe)
        self.assertTrue(probe["authenticated"])
        self.assertIn("AUTH PLAIN", probe["capabilities"])
        out = self.server.cli("relay", "test")
        self.assertIn("relay 127.0.0.1:%d takes a session" % self.b.port, out.stdout.decode())

        # SIGHUP: back to relay A, as Postfix's reload does.
        self.write_config(config(self.a.port))
        self.server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "configuration reloaded (SIGHUP)" in self.server.read_log(), 10), self.server.read_log())
        self.reply()
        self.assertTrue(self.a.wait_messages(2), self.server.read_log())
        self.assertEqual(len(self.b.messages), 1)
        # The server still runs after SIGHUP (it is not a shutdown signal).
        self.assertIsNone(self.server.proc.poll())

    def test_a_mistake_changes_nothing(self):
        self.write_config(config(self.b.port) + "smtp:\n  port: twenty\n")
        status, _, body = self.server.http("/api/config/reload", method="POST")
        self.assertEqual(status, 409, body)
        problem = json.loads(body)
        self.assertEqual(problem["error"], "conflict")
        self.assertIn("postroom.yaml:8:9: smtp.port", problem["reason"])
        self.assertIn("nothing was changed", problem["reason"])
        p = self.server.cli("config", "reload", check=False)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("smtp.port", p.stderr.decode())
        # SIGHUP with the same mistake: logged, and the server keeps running.
        self.server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "configuration reload (SIGHUP) refused" in self.server.read_log(), 10))
        self.reply()
        self.assertTrue(self.a.wait_messages(1), self.server.read_log())
        self.assertEqual(len(self.b.messages), 0)

    def test_relay_test_reports_a_refusal_and_a_dead_relay(self):
        self.write_config(config(self.b.port).replace("security: none\n", "security: none\n  username: robot\n  password: wrong\n"))
        self.assertIn("outbound.password", self.reload()["applied"])
        probe = self.server.api("/api/relay/test", method="POST")
        self.assertFalse(probe["ok"])
        self.assertIn("535 5.7.8", probe["error"])
        p = self.server.cli("relay", "test", "--json", check=False)
        self.assertEqual(p.returncode, 69)
        self.assertFalse(json.loads(p.stdout)["ok"])
        dead = free_port()  # nothing listens there
        self.write_config(config(dead))
        self.reload()
        probe = self.server.api("/api/relay/test", method="POST")
        self.assertFalse(probe["ok"])
        self.assertIn("127.0.0.1:%d" % dead, probe["error"])

    def test_no_relay_and_the_cli_report(self):
        self.write_config("")
        report = self.server.cli("config", "reload", "--json")
        self.assertIn("outbound.relay", json.loads(report.stdout)["applied"])
        status, _, body = self.server.http("/api/relay/test", method="POST")
        self.assertEqual(status, 409, body)
        self.assertIn("no relay is configured", json.loads(body)["reason"])
        text = self.server.cli("config", "reload").stdout.decode()
        self.assertIn("reloaded; no live key changed", text)


if __name__ == "__main__":
    unittest.main()
