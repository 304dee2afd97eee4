"""Start-up, configuration mistakes, the inbox CLI on a running server, and
graceful shutdown."""
import json
import os
import signal
import smtplib
import subprocess
import time
import unittest

from harness import BIN, Server, RawSMTP


class ConfigAndCLITest(unittest.TestCase):
    def test_config_mistake_names_key_and_does_not_start(self):
        server = Server(config_text="hostname: mx.test\nsmtp:\n  port: twenty\n")
        try:
            p = subprocess.run([BIN, "serve"] + server.base_args(), capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 78)
            self.assertIn("postroom.yaml:3:9: smtp.port: expected an integer", p.stderr)
            p = subprocess.run([BIN, "serve", "--data-dir", server.data_dir], capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, POSTROOM_SMTP_MAX_MESSAGE_SIZE="huge"))
            self.assertEqual(p.returncode, 78)
            self.assertIn("POSTROOM_SMTP_MAX_MESSAGE_SIZE: smtp.max-message-size: expected a size", p.stderr)
            with open(server.config, "w") as f:
                f.write("smtp:\n  prot: 25\n")
            p = subprocess.run([BIN, "inbox", "list"] + server.base_args(), capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 78)
            self.assertIn("smtp.prot: unknown key (did you mean smtp.port?)", p.stderr)
        finally:
            server.cleanup()

    def test_config_file_keys_apply(self):
        server = Server(config_text="hostname: gateway.example.test\nfallback-domain: fwd.example.test\nsmtp:\n  max-message-size: 1M\n")
        server.env.pop("POSTROOM_HOSTNAME")
        server.start()
        try:
            with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
                code, banner = s.ehlo()
                self.assertIn(b"gateway.example.test", banner)
                self.assertEqual(s.esmtp_features["size"], str(1024 * 1024))
            inbox = server.api("/api/inboxes")["inboxes"][0]
            self.assertEqual(inbox["addresses"], ["support@gateway.example.test"])
            self.assertTrue(inbox["fallbackAddress"].endswith("@fwd.example.test"))
        finally:
            server.cleanup()

    def test_inbox_cli_on_a_running_server(self):
        server = Server().start()
        try:
            created = json.loads(server.cli("inbox", "create", "Sales Team", "--address", "sales@mx.test", "--address", "Orders@MX.test", "--json").stdout)
            self.assertEqual(created["slug"], "sales-team")
            self.assertEqual(created["addresses"], ["sales@mx.test", "orders@mx.test"])
            self.assertRegex(created["fallbackAddress"], r"^sales-team-[a-z0-9]{4}@mx\.test$")
            server.wait_accepts("orders@mx.test")
            server.wait_accepts(created["fallbackAddress"])
            server.cli("inbox", "add-address", "sales-team", "deals@mx.test")
            server.wait_accepts("deals@mx.test")
            server.cli("inbox", "remove-address", "sales-team", "deals@mx.test")
            deadline = time.time() + 5
            while True:
                c = RawSMTP(server.smtp_port)
                c.reply(); c.cmd("EHLO x"); c.cmd("MAIL FROM:<a@b.test>")
                code, _ = c.cmd("RCPT TO:<deals@mx.test>")
                c.close()
                if code == 550 or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(code, 550)
            p = server.cli("inbox", "remove-address", "sales-team", created["fallbackAddress"], check=False)
            self.assertEqual(p.returncode, 65)
            self.assertIn(b"fallback address", p.stderr)
            p = server.cli("inbox", "create", "Other", "--address", "sales@mx.test", check=False)
            self.assertEqual(p.returncode, 65)
            self.assertIn(b"already belongs to inbox 'sales-team'", p.stderr)
            listed = json.loads(server.cli("inbox", "list", "--json").stdout)["inboxes"]
            self.assertEqual([i["slug"] for i in listed], ["support", "sales-team"])
            text = server.cli("inbox", "list").stdout.decode()
            self.assertIn("fallback", text)
        finally:
            server.cleanup()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_lets_data_finish_and_says_421_to_idle_sessions(self):
        server = Server().start()
        try:
            idle = RawSMTP(server.smtp_port)
            idle.reply()
            idle.cmd("EHLO idle.test")
            busy = RawSMTP(server.smtp_port)
            busy.reply()
            busy.cmd("EHLO busy.test")
            busy.cmd("MAIL FROM:<a@b.test>")
            busy.cmd("RCPT TO:<support@mx.test>")
            self.assertEqual(busy.cmd("DATA")[0], 354)
            busy.send(b"Subject: in flight during shutdown\r\n\r\nfirst half\r\n")
            server.proc.send_signal(signal.SIGTERM)
            code, text = idle.reply()
            self.assertEqual(code, 421, text)
            self.assertTrue(idle.closed())
            time.sleep(0.3)
            busy.send(b"second half\r\n.\r\n")
            code, text = busy.reply()
            self.assertEqual(code, 250, text)
            code, text = busy.reply()
            self.assertEqual(code, 421, text)
            self.assertEqual(server.proc.wait(timeout=30), 0)
            # New connections are refused once the listener is closed.
            with self.assertRaises(OSError):
                RawSMTP(server.smtp_port, timeout=2).reply()
            server.start()
            [m] = [m for m in server.messages() if m.get("subject") == "in flight during shutdown"]
            self.assertEqual(server.raw(m["id"]), b"Subject: in flight during shutdown\r\n\r\nfirst half\r\nsecond half\r\n")
        finally:
            server.cleanup()

    def test_first_run_prints_token_and_makes_tls_pair(self):
        server = Server()
        server.env.pop("POSTROOM_ADMIN_TOKEN")
        server.start()
        try:
            token_file = os.path.join(server.data_dir, "admin-token")
            self.assertTrue(os.path.exists(token_file))
            self.assertEqual(os.stat(token_file).st_mode & 0o777, 0o600)
            token = open(token_file).read().strip()
            status, _, _ = server.http("/api/inboxes", token=token)
            self.assertEqual(status, 200)
            self.assertTrue(os.path.exists(os.path.join(server.data_dir, "tls", "selfsigned-cert.pem")))
            server.stop()
            self.assertIn(token, server.read_log())
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
