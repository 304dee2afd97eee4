"""Issue 13, the operator's front door: what a new user hit, each fixed and kept fixed.
--version, sysexits exit codes, no silent ./data from the wrong folder, a port in use
named with its listener and setting, queue ids that are delivery ids everywhere, the
ticket printed as a number, filter actions as flat JSON, ISO 8601 times, a DKIM record
a zone file takes, and imported history that keeps its dates and arrives closed."""
import json
import mailbox
import os
import re
import socket
import subprocess
import tempfile
import unittest
from email.message import EmailMessage

from harness import BIN, Server


def run(*args, cwd=None, env=None):
    e = dict(os.environ)
    e.pop("POSTROOM_DATA_DIR", None)
    e.update(env or {})
    return subprocess.run([BIN] + list(args), capture_output=True, cwd=cwd, env=e, timeout=60)


class FrontDoorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.server.cli("inbox", "create", "History", "--address", "history@mx.test")
        cls.server.cli("inbox", "create", "Help", "--address", "help@mx.test", "--create-tickets")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_startup_log_and_config_show_name_what_is_in_effect(self):
        from harness import TOKEN
        log = self.server.read_log()
        self.assertIn("in effect:", log)
        for key in ("smtp", "outbound", "dkim", "filters", "mailboxes", "data-dir"):
            self.assertRegex(log, r"(?m)^%s\s" % re.escape(key), log)
        self.assertNotIn(TOKEN, log)
        shown = self.server.cli("config", "show").stdout.decode()
        self.assertIn("direct to each recipient's MX", shown)
        self.assertIn(os.path.realpath(self.server.data_dir), shown)
        self.assertNotIn(TOKEN, shown)
        self.assertIn("admin token set", shown)

    def test_inbox_create_and_delete_through_api_and_cli(self):
        status, _, raw = self.server.http("/api/inboxes", method="POST", body={"name": "Billing", "addresses": ["billing@mx.test"], "createTickets": True})
        self.assertEqual(status, 201, raw)
        created = json.loads(raw)
        self.assertEqual((created["slug"], created["addresses"], created["createTickets"]), ("billing", ["billing@mx.test"], True))
        self.server.wait_accepts("billing@mx.test")
        status, _, raw = self.server.http("/api/inboxes", method="POST", body={"name": "Again", "addresses": ["billing@mx.test"]})
        self.assertEqual((status, json.loads(raw)["error"]), (409, "conflict"), raw)
        # An inbox that holds mail is not deleted (the mail would lose its place).
        self.server.cli("inbox", "create", "Kept", "--address", "kept@mx.test")
        self.server.wait_accepts("kept@mx.test")
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as c:
            c.sendmail("dee@customer.test", ["kept@mx.test"], b"From: dee@customer.test\r\nSubject: keep me\r\n\r\nHi\r\n")
        self.server.wait_processed()
        status, _, raw = self.server.http("/api/inboxes/kept", method="DELETE")
        self.assertEqual(status, 409, raw)
        self.assertIn("holds mail", json.loads(raw)["reason"])
        status, _, raw = self.server.http("/api/inboxes/billing", method="DELETE")
        self.assertEqual((status, json.loads(raw)), (200, {"deleted": "billing"}))
        self.assertEqual(self.server.http("/api/inboxes/billing")[0], 404)
        # The CLI does the same.
        self.server.cli("inbox", "create", "Temp", "--address", "temp@mx.test")
        self.assertEqual(json.loads(self.server.cli("inbox", "delete", "temp", "--json").stdout), {"deleted": "temp"})
        self.assertEqual(self.server.cli("inbox", "delete", "kept", check=False).returncode, 65)

    def test_mailbox_test_runs_in_the_server(self):
        # The variable is set for the CLI but not for the server: the answer must be the
        # server's ("not set in the server's environment"), not the shell's.
        created = self.server.api("/api/mailboxes", method="POST", body={
            "inbox": "help", "host": "127.0.0.1", "port": 1, "security": "plain", "user": "u", "passwordEnv": "POSTROOM_MAILBOX_FRONTDOOR"})
        from harness import TOKEN
        p = run("mailbox", "test", str(created["id"]), *self.server.base_args(), env={"POSTROOM_MAILBOX_FRONTDOOR": "secret", "POSTROOM_ADMIN_TOKEN": TOKEN})
        self.assertEqual(p.returncode, 69, (p.stdout, p.stderr))
        self.assertIn("server's environment", p.stderr.decode())
        p = run("mailbox", "test", str(created["id"]), "--json", *self.server.base_args(), env={"POSTROOM_ADMIN_TOKEN": TOKEN})
        answer = json.loads(p.stdout)
        self.assertFalse(answer["ok"])
        self.server.api("/api/mailboxes/%d" % created["id"], method="DELETE")
        # No server for a data dir: said, with the address and the setting.
        with tempfile.TemporaryDirectory() as empty:
            p = run("mailbox", "test", "1", "--data-dir", empty, env={"POSTROOM_HTTP_PORT": "1", "POSTROOM_ADMIN_TOKEN": TOKEN})
            self.assertEqual(p.returncode, 69, p.stderr)
            self.assertIn("no Postroom server answers at 127.0.0.1:1 (http.listen, http.port)", p.stderr.decode())

    def test_user_deactivation_through_cli_and_api(self):
        robin = json.loads(self.server.cli("user", "create", "Kim Left", "--email", "kim@mx.test", "--json").stdout)
        self.assertTrue(robin["active"])
        status, _, raw = self.server.http("/api/inboxes/help/members", method="PUT", body={"members": [robin["id"]]})
        self.assertEqual(status, 200, raw)
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as c:
            c.sendmail("eve@customer.test", ["help@mx.test"], b"From: eve@customer.test\r\nSubject: for kim\r\nMessage-ID: <kim@customer.test>\r\n\r\nHi\r\n")
        self.server.wait_processed()
        conversation = [c for c in self.server.api("/api/conversations?inbox=help")["conversations"] if c["subject"] == "for kim"][0]
        self.server.api("/api/conversations/%d/assign" % conversation["id"], method="POST", body={"userId": robin["id"]})
        # Deactivated: kept, out of the inbox, the open conversation unassigned with an event.
        user = json.loads(self.server.cli("user", "deactivate", str(robin["id"]), "--json").stdout)
        self.assertFalse(user["active"])
        self.assertNotIn(robin["id"], self.server.api("/api/inboxes/help/members")["members"])
        detail = self.server.api("/api/conversations/%d" % conversation["id"])
        self.assertIsNone(detail["conversation"].get("assigneeUserId"))
        self.assertTrue(any("deactivated" in (e.get("body") or "") for e in detail["events"]), detail["events"])
        # Nothing more is assigned to them.
        status, _, raw = self.server.http("/api/conversations/%d/assign" % conversation["id"], method="POST", body={"userId": robin["id"]})
        self.assertEqual((status, json.loads(raw)["error"]), (409, "conflict"), raw)
        self.assertIn("deactivated", self.server.cli("user", "list").stdout.decode())
        self.assertEqual(self.server.api("/api/users/%d/deactivate" % robin["id"], method="POST")["active"], False)

    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.decode(), r"^postroom \d+\.\d+\.\d+")

    def test_no_silent_data_dir_in_the_wrong_folder(self):
        with tempfile.TemporaryDirectory() as elsewhere:
            p = run("conversations", "list", cwd=elsewhere)
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertIn(os.path.join(os.path.realpath(elsewhere), "data"), p.stderr.decode())
            self.assertIn("--data-dir", p.stderr.decode())
            self.assertFalse(os.path.exists(os.path.join(elsewhere, "data")))
            # Named explicitly, a new data dir is made, and said so.
            p = run("inbox", "list", "--data-dir", os.path.join(elsewhere, "new"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("created a new data dir", p.stderr.decode())

    def test_exit_codes(self):
        # 64: a flag the command does not take (swift-argument-parser's usage error).
        self.assertEqual(self.server.cli("queue", "list", "--nonsense", check=False).returncode, 64)
        # 65: an id that names nothing.
        p = self.server.cli("queue", "retry", "999999", check=False)
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertIn("no delivery 999999", p.stderr.decode())
        self.assertEqual(self.server.cli("queue", "drop", "999999", check=False).returncode, 65)
        self.assertEqual(self.server.cli("queue", "show", "999999", check=False).returncode, 65)
        # 66: a message file that cannot be read (1 stays "the script does not compile").
        script = os.path.join(self.server.tmp, "keep.sieve")
        with open(script, "w") as f:
            f.write("keep;\n")
        p = self.server.cli("filters", "test", "--script", script, "--message", "/nonexistent.eml", check=False)
        self.assertEqual(p.returncode, 66, p.stderr)

    def test_port_in_use_names_listener_and_setting(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            other = Server(args=())
            try:
                other.smtp_port = port
                other.start(wait=False)
                other.proc.wait(timeout=30)
                log = other.read_log()
                self.assertEqual(other.proc.returncode, 69, log)
                self.assertIn("cannot listen on 127.0.0.1:%d for SMTP" % port, log)
                self.assertIn("smtp.port", log)
                self.assertNotIn("CancellationError", log)
            finally:
                other.cleanup()

    def test_ticket_printed_as_its_number_and_times_iso(self):
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as c:
            c.sendmail("ann@customer.test", ["help@mx.test"],
                       b"From: ann@customer.test\r\nTo: help@mx.test\r\nSubject: Broken widget\r\nMessage-ID: <bw@customer.test>\r\n\r\nIt broke.\r\n")
        self.server.wait_processed()
        out = self.server.cli("conversations", "list", "--inbox", "help").stdout.decode()
        self.assertRegex(out, r"Broken widget \[#\d+\]")
        self.assertNotIn("TicketInfo", out)
        conversation = int(out.split("\t")[0])
        shown = self.server.cli("conversations", "show", str(conversation)).stdout.decode()
        self.assertRegex(shown, r"ticket \[#\d+\] new, normal priority")
        self.assertNotIn("TicketInfo", shown)
        inbox = self.server.api("/api/inboxes/help")
        self.assertRegex(inbox["createdAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")

    def test_filter_actions_as_flat_json(self):
        script = os.path.join(self.server.tmp, "vacation.sieve")
        with open(script, "w") as f:
            f.write('require ["vacation", "fileinto"];\nvacation :days 3 :subject "Away" "Back Monday.";\nfileinto "Later";\n')
        message = os.path.join(self.server.tmp, "m.eml")
        with open(message, "wb") as f:
            f.write(b"From: ann@customer.test\r\nTo: help@mx.test\r\nSubject: Hi\r\n\r\nHello\r\n")
        p = self.server.cli("filters", "test", "--script", script, "--message", message, "--json")
        result = json.loads(p.stdout)
        self.assertNotIn("_0", p.stdout.decode())
        by_action = {a["action"]: a for a in result["actions"]}
        self.assertEqual(by_action["vacation"]["subject"], "Away")
        self.assertEqual(by_action["vacation"]["days"], 3)
        self.assertEqual(by_action["fileinto"]["mailbox"], "Later")
        # The API answers the same shape.
        api = self.server.api("/api/filters/test", method="POST", body={"script": open(script).read(), "message": open(message).read()})
        self.assertEqual(api["actions"], result["actions"])

    def test_dkim_record_fits_a_zone_file(self):
        out = self.server.cli("dkim", "keygen", "zone.test", "sel1").stdout.decode()
        strings = re.findall(r'"([^"]*)"', out)
        self.assertGreater(len(strings), 1, out)
        self.assertTrue(all(len(s) <= 255 for s in strings), out)
        self.assertTrue("".join(strings).startswith("v=DKIM1; k=rsa; p=MII"), out)

    def test_imported_history_keeps_dates_closed_unassigned(self):
        user = self.server.api("/api/users", method="POST", body={"name": "Robin", "email": "robin@mx.test"})
        status, _, body = self.server.http("/api/inboxes/history/members", method="PUT", body={"members": [user["id"]]})
        self.assertEqual(status, 200, body)
        status, _, body = self.server.http("/api/inboxes/history/settings", method="PATCH", body={"routing": "round-robin"})
        self.assertEqual(status, 200, body)
        path = os.path.join(self.server.tmp, "history.mbox")
        box = mailbox.mbox(path)
        m = EmailMessage()
        m["From"] = "old@customer.test"
        m["To"] = "history@mx.test"
        m["Subject"] = "Back in 2021"
        m["Message-ID"] = "<old-2021@customer.test>"
        m["Date"] = "Tue, 02 Mar 2021 09:30:00 +0000"
        m.set_content("An old question.\n")
        box.add(m)
        box.close()
        self.server.cli("import", "mbox", path, "--inbox", "history")
        self.server.wait_processed()
        convs = [c for c in self.server.api("/api/conversations?inbox=history&status=closed")["conversations"] if c["subject"] == "Back in 2021"]
        self.assertEqual(len(convs), 1, self.server.api("/api/conversations?inbox=history"))
        c = convs[0]
        self.assertTrue(c["lastMessageAt"].startswith("2021-03-02T09:30:00"), c)
        self.assertTrue(c["createdAt"].startswith("2021-03-02"), c)
        self.assertIsNone(c.get("assigneeUserId"), c)
        # Nothing was sent because of history: no acknowledgement, no notification.
        self.assertEqual(self.server.api("/api/queue")["deliveries"], [])

    def test_every_error_is_json_with_error_and_reason(self):
        cases = [
            ("/api/conversations/999999", "GET", None, 404, "not-found"),
            ("/api/no-such-thing", "GET", None, 404, "not-found"),
            ("/api/conversations/abc", "GET", None, 400, "bad-request"),
            ("/api/users", "POST", b"{not json", 400, "bad-request"),
            ("/api/users", "POST", {"email": "x@mx.test"}, 400, "bad-request"),
        ]
        for path, method, body, status, word in cases:
            got, headers, raw = self.server.http(path, method=method, body=body)
            self.assertEqual(got, status, (path, raw))
            parsed = json.loads(raw)
            self.assertEqual(set(parsed), {"error", "reason"}, (path, raw))
            self.assertEqual(parsed["error"], word, (path, raw))
            self.assertTrue(parsed["reason"], (path, raw))
        got, headers, raw = self.server.http("/api/inboxes", token="wrong")
        self.assertEqual(got, 401)
        self.assertEqual(json.loads(raw)["error"], "unauthorized")
        self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))

    def test_wrong_method_answers_405_with_allow(self):
        got, headers, raw = self.server.http("/api/inboxes", method="DELETE")
        self.assertEqual(got, 405, raw)
        allow = {m.strip() for m in headers.get("Allow", "").split(",")}
        self.assertIn("GET", allow)
        self.assertEqual(json.loads(raw)["error"], "method-not-allowed")
        got, headers, raw = self.server.http("/api/conversations/1/split", method="GET")
        self.assertEqual(got, 405, raw)
        self.assertIn("POST", headers.get("Allow", ""))

    def subcommands(self, *path):
        """The subcommands `postroom PATH --help` lists."""
        out = run(*path, "--help").stdout.decode()
        if "SUBCOMMANDS:" not in out:
            return []
        names = []
        for line in out.split("SUBCOMMANDS:", 1)[1].splitlines():
            m = re.match(r"^  ([a-z][a-z-]*)\s", line + " ")
            if m:
                names.append(m.group(1))
        return names

    def test_every_subcommand_has_help(self):
        walked = 0
        for group in self.subcommands():
            p = run(group, "--help")
            self.assertEqual(p.returncode, 0, (group, p.stderr))
            self.assertIn("--data-dir", p.stdout.decode() + "".join(run(group, s, "--help").stdout.decode() for s in self.subcommands(group)), group)
            for sub in self.subcommands(group):
                p = run(group, sub, "--help")
                self.assertEqual(p.returncode, 0, (group, sub, p.stderr))
                self.assertIn("USAGE:", p.stdout.decode(), (group, sub))
                walked += 1
        self.assertGreater(walked, 25)

    def test_json_forms_match_the_api_schema(self):
        import jsonschema
        import yaml
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "openapi.yaml")) as f:
            spec = yaml.safe_load(f)
        resolver = jsonschema.RefResolver.from_schema(spec)

        def check(schema, value, what):
            jsonschema.Draft202012Validator(schema, resolver=resolver).validate(value)

        def response(path, method="get", status="200"):
            return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]

        import smtplib
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as c:
            c.sendmail("cy@customer.test", ["help@mx.test"],
                       b"From: cy@customer.test\r\nTo: help@mx.test\r\nSubject: Shapes\r\nMessage-ID: <shapes@customer.test>\r\n\r\nHi\r\n")
        self.server.wait_processed()
        cli = lambda *a: json.loads(self.server.cli(*a).stdout)
        check(response("/api/inboxes"), cli("inbox", "list", "--json"), "inbox list")
        check({"$ref": "#/components/schemas/Inbox"}, cli("inbox", "set", "help", "--no-trust-references", "--json"), "inbox set")
        page = cli("conversations", "list", "--json")
        check(response("/api/conversations"), page, "conversations list")
        check(response("/api/conversations/{id}"), cli("conversations", "show", str(page["conversations"][0]["id"]), "--json"), "conversations show")
        messages = cli("messages", "list", "--json")
        check(response("/api/messages"), messages, "messages list")
        check(response("/api/messages/{id}"), cli("messages", "show", str(messages["messages"][0]["id"]), "--json"), "messages show")
        check(response("/api/quarantine"), cli("messages", "quarantine", "--json"), "messages quarantine")
        check(response("/api/queue"), cli("queue", "list", "--json"), "queue list")
        check(response("/api/mailboxes"), cli("mailbox", "list", "--json"), "mailbox list")
        check(response("/api/users"), cli("user", "list", "--json"), "user list")
        message = os.path.join(self.server.tmp, "shape.eml")
        with open(message, "wb") as f:
            f.write(b"From: a@b.test\r\nSubject: x\r\n\r\nx\r\n")
        script = os.path.join(self.server.tmp, "shape.sieve")
        with open(script, "w") as f:
            f.write('require "fileinto"; fileinto "X";\n')
        check({"$ref": "#/components/schemas/FilterTestResult"}, cli("filters", "test", "--script", script, "--message", message, "--json"), "filters test")


if __name__ == "__main__":
    unittest.main()
