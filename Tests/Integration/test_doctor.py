"""`postroom doctor` against a local DNS server (dnslib) holding the operator's zone:
each thing an operator gets wrong (no PTR or the wrong one, an MX elsewhere, SPF
without our address, a DKIM record that is not our key, no DMARC, a secret file
readable by others, a relay that refuses AUTH) is a finding with its fix, and a
correct setup has no problem."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from dnsserver import ZoneServer
except ImportError:  # python3-dnslib missing
    ZoneServer = None
from fakepeers import SMTPPeer
from harness import Server


@unittest.skipUnless(ZoneServer, "python3-dnslib not installed (scripts/bootstrap installs it)")
class DoctorTest(unittest.TestCase):
    def setUp(self):
        self.dns = ZoneServer({})
        self.relay = SMTPPeer(name="relay.example.test", auth=("robot", "s3cret"))
        self.server = Server(env={"POSTROOM_HOSTNAME": "mx.example.test", "POSTROOM_OUTBOUND_RESOLVER": self.dns.address})
        # In the environment too, so doctor (run with the same environment) knows the ports.
        self.server.env.update(POSTROOM_SMTP_PORT=str(self.server.smtp_port), POSTROOM_HTTP_PORT=str(self.server.http_port))
        self.server.start()
        self.server.cli("inbox", "create", "Help", "--address", "help@example.test")
        key = json.loads(self.server.cli("dkim", "keygen", "example.test", "s1", "--algorithm", "ed25519", "--json").stdout)
        self.good_zone(key["text"])

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()
        self.dns.stop()
        self.relay.stop()

    def good_zone(self, dkim):
        z = self.dns.zone
        z.clear()
        z["mx.example.test"] = [("A", "192.0.2.10"), ("MX", (10, "mx.example.test")), ("TXT", "v=spf1 a -all")]
        z["10.2.0.192.in-addr.arpa"] = [("PTR", "mx.example.test")]
        z["example.test"] = [("MX", (10, "mx.example.test")), ("TXT", "v=spf1 ip4:192.0.2.10 -all"), ("TXT", "google-site-verification=x")]
        z["s1._domainkey.example.test"] = [("TXT", dkim)]
        z["_dmarc.example.test"] = [("TXT", "v=DMARC1; p=quarantine")]
        z["_dmarc.mx.example.test"] = [("TXT", "v=DMARC1; p=none")]

    def doctor(self, *args, code=None):
        p = self.server.cli("doctor", "--json", *args, check=False)
        report = json.loads(p.stdout)
        if code is not None:
            self.assertEqual(p.returncode, code, json.dumps(report, indent=1) + p.stderr.decode())
        return report

    def find(self, report, check, severity, text):
        hits = [f for f in report["findings"] if f["check"] == check and f["severity"] == severity and text in f["message"]]
        self.assertTrue(hits, "no %s %s finding with %r in %s" % (severity, check, text, json.dumps(report["findings"], indent=1)))
        return hits[0]

    def test_a_correct_setup_has_no_problem(self):
        report = self.doctor(code=0)
        self.assertEqual(report["problems"], 0, json.dumps(report, indent=1))
        self.find(report, "hostname", "ok", "PTR of 192.0.2.10 is mx.example.test")
        self.find(report, "mx", "ok", "MX of example.test is mx.example.test")
        self.find(report, "spf", "ok", "SPF of example.test passes mail from 192.0.2.10")
        self.find(report, "dkim", "ok", "s1._domainkey.example.test publishes the key")
        self.find(report, "dmarc", "ok", "_dmarc.example.test: p=quarantine")
        self.find(report, "ports", "ok", "by the running Postroom")
        self.find(report, "files", "ok", "private to uid")
        # The self-signed certificate made on first start names the host; it is a warning.
        self.find(report, "tls", "ok", "names mx.example.test")
        self.find(report, "tls", "warning", "self-signed")
        # The text form says the same, one line per finding with its fix below.
        text = self.server.cli("doctor").stdout.decode()
        self.assertIn("ok      dkim: s1._domainkey.example.test publishes the key", text)
        self.assertIn("0 problems", text)

    def test_each_mistake_is_a_problem_with_its_fix(self):
        z = self.dns.zone
        z["10.2.0.192.in-addr.arpa"] = [("PTR", "host-192-0-2-10.provider.test")]
        z["example.test"] = [("MX", (10, "mail.elsewhere.test")), ("TXT", "v=spf1 ip4:198.51.100.1 -all")]
        other = json.loads(self.server.cli("dkim", "keygen", "other.test", "x", "--algorithm", "ed25519", "--json").stdout)["text"]
        z["s1._domainkey.example.test"] = [("TXT", other)]
        del z["_dmarc.example.test"]
        os.chmod(os.path.join(self.server.data_dir, "reply-token.key"), 0o644)
        report = self.doctor(code=78)
        f = self.find(report, "hostname", "problem", "PTR of 192.0.2.10 is host-192-0-2-10.provider.test")
        self.assertIn("reverse DNS to mx.example.test", f["fix"])
        f = self.find(report, "mx", "warning", "MX of example.test is mail.elsewhere.test")
        self.assertIn("example.test. IN MX 10 mx.example.test.", f["fix"])
        f = self.find(report, "spf", "problem", "SPF of example.test gives fail for 192.0.2.10")
        self.assertIn("ip4:192.0.2.10", f["fix"])
        f = self.find(report, "dkim", "problem", "publishes a different key")
        self.assertIn("s1._domainkey.example.test. IN TXT \"v=DKIM1; k=ed25519; p=", f["fix"])
        f = self.find(report, "dmarc", "warning", "example.test has no DMARC record")
        self.assertIn("_dmarc.example.test. IN TXT", f["fix"])
        f = self.find(report, "files", "problem", "reply-token.key is readable by every user")
        self.assertIn("chmod 600", f["fix"])
        # No record at all.
        z.pop("example.test")
        z.pop("s1._domainkey.example.test")
        report = self.doctor(code=78)
        self.find(report, "mx", "problem", "example.test has no MX record")
        self.find(report, "spf", "problem", "example.test has no SPF record")
        self.find(report, "dkim", "problem", "s1._domainkey.example.test has no DKIM key record")

    def test_the_relay_is_tried_with_its_auth(self):
        self.dns.zone["relay.example.test"] = [("A", "192.0.2.20")]
        config = os.path.join(self.server.tmp, "relay.yaml")
        with open(config, "w") as f:
            f.write("outbound:\n  relay: 127.0.0.1:%d\n  security: none\n  username: robot\n" % self.relay.port)
        env = dict(self.server.env, POSTROOM_OUTBOUND_PASSWORD="s3cret")
        import subprocess
        from harness import BIN

        def run():
            p = subprocess.run([BIN, "doctor", "--json", "--config", config, "--data-dir", self.server.data_dir], capture_output=True, env=env)
            return p.returncode, json.loads(p.stdout)
        _, report = run()
        self.find(report, "relay", "ok", "127.0.0.1:%d takes a session (no TLS, authenticated as robot)" % self.relay.port)
        self.find(report, "relay", "warning", "unencrypted")
        # The relay's own address is loopback here: SPF cannot be judged for it, and says so.
        self.find(report, "spf", "warning", "has no public address known here")
        env["POSTROOM_OUTBOUND_PASSWORD"] = "wrong"
        code, report = run()
        self.assertEqual(code, 78)
        f = self.find(report, "relay", "problem", "535 5.7.8")
        self.assertIn("POSTROOM_OUTBOUND_PASSWORD", f["fix"])


if __name__ == "__main__":
    unittest.main()
