"""The admin API against openapi.yaml: every documented route is called on the
running server and each response is validated against its documented schema."""
import json
import os
import smtplib
import unittest

import jsonschema
import yaml

from harness import ROOT, Server, TOKEN


class APITest(unittest.TestCase):
    MESSAGE = (b"Subject: for the api\r\nFrom: A <a@b.test>\r\nMessage-ID: <api-1@b.test>\r\n"
               b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
               b"--zz\r\nContent-Type: application/octet-stream; name=\"r\xc3\xa9sum\xc3\xa9.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--zz--\r\n")

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        with open(os.path.join(ROOT, "openapi.yaml")) as f:
            cls.spec = yaml.safe_load(f)
        with smtplib.SMTP("127.0.0.1", cls.server.smtp_port) as s:
            s.sendmail("a@b.test", ["support+api@mx.test"], cls.MESSAGE)
        cls.message = cls.server.messages()[0]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def validate(self, path_template, status, body, content_type, method="get"):
        operation = self.spec["paths"][path_template][method]
        responses = operation["responses"]
        self.assertIn(str(status), responses, "%s %s is not documented" % (path_template, status))
        response = responses[str(status)]
        if "$ref" in response:
            response = self.spec["components"]["responses"][response["$ref"].split("/")[-1]]
        media = response["content"]
        documented = list(media.keys())[0]
        self.assertTrue(content_type.startswith(documented), (path_template, content_type, documented))
        if documented == "application/json":
            schema = dict(media[documented]["schema"])
            schema["components"] = self.spec["components"]
            jsonschema.Draft202012Validator(schema).validate(json.loads(body))

    def call(self, path, template, token=TOKEN, method="get", body=None):
        status, headers, data = self.server.http(path, token=token, method=method.upper(), body=body)
        self.validate(template, status, data, headers.get("Content-Type", ""), method)
        return status, headers, data

    def test_every_documented_route(self):
        self.server.wait_processed()
        qid = self.message["queueId"]
        mid = str(self.message["id"])
        conversation = self.server.api("/api/conversations")["conversations"][0]
        cid = str(conversation["id"])
        contact = str(conversation["contact"]["id"])
        self.server.api("/api/inboxes/support/settings", method="PATCH", body={"createTickets": True})
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("t@b.test", ["support@mx.test"], b"From: t@b.test\r\nSubject: with ticket\r\nMessage-ID: <api-2@b.test>\r\n\r\nx\r\n")
        self.server.wait_processed()
        ticketed = [c for c in self.server.api("/api/conversations?has-ticket=true")["conversations"] if c["subject"] == "with ticket"][0]
        tid = str(ticketed["id"])
        calls = [
            ("/api/users", "/api/users", 200, "post", {"name": "Alice Smith", "email": "alice@team.test"}),
            ("/api/inboxes", "/api/inboxes", 201, "post", {"name": "Api Made", "addresses": ["made@mx.test"]}),
            ("/api/inboxes/api-made", "/api/inboxes/{slug}", 200, "delete", None),
            ("/api/inboxes/support", "/api/inboxes/{slug}", 409, "delete", None),
            ("/api/users", "/api/users", 400, "post", {"name": "No Email"}),
            ("/api/users", "/api/users", 200),
            ("/api/users/1", "/api/users/{id}", 200),
            ("/api/users/99", "/api/users/{id}", 404),
            ("/api/users/1", "/api/users/{id}", 200, "patch", {"available": False}),
            ("/api/users/99", "/api/users/{id}", 404, "patch", {"available": False}),
            ("/api/teams", "/api/teams", 200, "post", {"name": "Tier 1", "members": [1]}),
            ("/api/teams", "/api/teams", 409, "post", {"name": "Tier 2", "members": [42]}),
            ("/api/teams", "/api/teams", 200),
            ("/api/teams/1/members", "/api/teams/{id}/members", 200, "put", {"members": [1]}),
            ("/api/teams/9/members", "/api/teams/{id}/members", 404, "put", {"members": [1]}),
            ("/api/inboxes/support/members", "/api/inboxes/{slug}/members", 200, "put", {"members": [1]}),
            ("/api/inboxes/support/members", "/api/inboxes/{slug}/members", 409, "put", {"members": [77]}),
            ("/api/inboxes/support/members", "/api/inboxes/{slug}/members", 200),
            ("/api/inboxes/nope/members", "/api/inboxes/{slug}/members", 404),
            ("/api/inboxes/support/settings", "/api/inboxes/{slug}/settings", 200, "patch", {"routing": "round-robin"}),
            ("/api/inboxes/support/settings", "/api/inboxes/{slug}/settings", 409, "patch", {"routing": "user", "routingTarget": 99}),
            ("/api/conversations/" + cid + "/assign", "/api/conversations/{id}/assign", 200, "post", {"userId": 1, "teamId": 1}),
            ("/api/conversations/" + cid + "/assign", "/api/conversations/{id}/assign", 409, "post", {"userId": 99}),
            ("/api/conversations/999999/assign", "/api/conversations/{id}/assign", 404, "post", {"userId": None}),
            ("/api/conversations/" + cid + "/comments", "/api/conversations/{id}/comments", 201, "post", {"authorId": 1, "body": "@alice look"}),
            ("/api/conversations/" + cid + "/comments", "/api/conversations/{id}/comments", 400, "post", {"authorId": 1, "body": "  "}),
            ("/api/conversations/999999/comments", "/api/conversations/{id}/comments", 404, "post", {"authorId": 1, "body": "x"}),
            ("/api/conversations/" + tid + "/ticket", "/api/conversations/{id}/ticket", 200, "patch", {"stage": "waiting-on-us", "priority": "high", "ownerId": 1}),
            ("/api/conversations/" + tid + "/ticket", "/api/conversations/{id}/ticket", 400, "patch", {"priority": "whenever"}),
            ("/api/conversations/" + cid + "/ticket", "/api/conversations/{id}/ticket", 404, "patch", {"priority": "low"}),
            ("/api/conversations?assignee=1&unassigned=false&team=1&has-ticket=false&channel=email&q=hello", "/api/conversations", 200),
            ("/api/conversations?has-ticket=maybe", "/api/conversations", 400),
            ("/api/conversations/" + cid + "/status", "/api/conversations/{id}/status", 200, "post", {"status": "snoozed", "until": "2099-01-01T00:00:00Z"}),
            ("/api/conversations/" + cid + "/status", "/api/conversations/{id}/status", 400, "post", {"status": "snoozed"}),
            ("/healthz", "/healthz", 200),
            ("/metrics", "/metrics", 200),
            ("/api/inboxes", "/api/inboxes", 200),
            ("/api/inboxes/support", "/api/inboxes/{slug}", 200),
            ("/api/inboxes/nope", "/api/inboxes/{slug}", 404),
            ("/api/inboxes/support/settings", "/api/inboxes/{slug}/settings", 200, "patch", {"createTickets": False}),
            ("/api/inboxes/support/settings", "/api/inboxes/{slug}/settings", 400, "patch", b"{not json"),
            ("/api/inboxes/nope/settings", "/api/inboxes/{slug}/settings", 404, "patch", {"name": "x"}),
            ("/api/conversations", "/api/conversations", 200),
            ("/api/conversations?inbox=support&status=open&limit=5", "/api/conversations", 200),
            ("/api/conversations?contact=" + contact, "/api/conversations", 200),
            ("/api/conversations?status=weird", "/api/conversations", 400),
            ("/api/conversations?cursor=bogus", "/api/conversations", 400),
            ("/api/conversations?inbox=nope", "/api/conversations", 404),
            ("/api/conversations/" + cid, "/api/conversations/{id}", 200),
            ("/api/conversations/abc", "/api/conversations/{id}", 400),
            ("/api/conversations/999999", "/api/conversations/{id}", 404),
            ("/api/conversations/" + cid + "/status", "/api/conversations/{id}/status", 200, "post", {"status": "open"}),
            ("/api/conversations/" + cid + "/status", "/api/conversations/{id}/status", 400, "post", {"status": "gone"}),
            ("/api/conversations/999999/status", "/api/conversations/{id}/status", 404, "post", {"status": "closed"}),
            ("/api/contacts/" + contact, "/api/contacts/{id}", 200),
            ("/api/contacts?q=b.test", "/api/contacts", 200),
            ("/api/contacts", "/api/contacts", 200, "post", {"email": "new@person.test", "name": "New"}),
            ("/api/contacts", "/api/contacts", 409, "post", {"email": "new@person.test"}),
            ("/api/contacts/" + contact, "/api/contacts/{id}", 200, "patch", {"name": "Renamed", "addEmails": ["alias@b.test"]}),
            ("/api/contacts/999999", "/api/contacts/{id}", 404, "patch", {"name": "x"}),
            ("/api/contacts/999999/merge", "/api/contacts/{id}/merge", 404, "post", {"into": int(contact)}),
            ("/api/contacts/" + contact + "/merge", "/api/contacts/{id}/merge", 409, "post", {"into": int(contact)}),
            ("/api/conversations/" + cid + "/split", "/api/conversations/{id}/split", 409, "post", {"messageId": int(mid)}),
            ("/api/conversations/" + cid + "/split", "/api/conversations/{id}/split", 404, "post", {"messageId": 999999}),
            ("/api/conversations/" + tid + "/merge", "/api/conversations/{id}/merge", 200, "post", {"into": int(cid)}),
            ("/api/conversations/" + tid + "/merge", "/api/conversations/{id}/merge", 409, "post", {"into": int(cid)}),
            ("/api/contacts/999999", "/api/contacts/{id}", 404),
            ("/api/quarantine", "/api/quarantine", 200),
            ("/api/suppressions", "/api/suppressions", 200),
            ("/api/mailboxes", "/api/mailboxes", 200, "post", {"inbox": "support", "host": "127.0.0.1", "port": 1, "security": "plain", "user": "u", "passwordEnv": "POSTROOM_MAILBOX_NO_SUCH_VAR"}),
            ("/api/mailboxes", "/api/mailboxes", 400, "post", {"inbox": "support", "host": "127.0.0.1", "security": "smoke-signals", "user": "u", "passwordEnv": "POSTROOM_MAILBOX_X"}),
            ("/api/mailboxes", "/api/mailboxes", 404, "post", {"inbox": "nope", "host": "127.0.0.1", "user": "u", "passwordEnv": "POSTROOM_MAILBOX_X"}),
            ("/api/mailboxes", "/api/mailboxes", 200),
            ("/api/mailboxes/1", "/api/mailboxes/{id}", 200),
            ("/api/mailboxes/999999", "/api/mailboxes/{id}", 404),
            ("/api/mailboxes/1/test", "/api/mailboxes/{id}/test", 200, "post", None),
            ("/api/mailboxes/999999/test", "/api/mailboxes/{id}/test", 404, "post", None),
            ("/api/mailboxes/1", "/api/mailboxes/{id}", 200, "delete", None),
            ("/api/mailboxes/1", "/api/mailboxes/{id}", 404, "delete", None),
            ("/api/conversations/" + cid + "/replies", "/api/conversations/{id}/replies", 201, "post", {"text": "Thanks, on it.", "authorId": 1}),
            ("/api/conversations/" + cid + "/replies", "/api/conversations/{id}/replies", 400, "post", {"text": "  "}),
            ("/api/conversations/999999/replies", "/api/conversations/{id}/replies", 404, "post", {"text": "x"}),
            ("/api/queue", "/api/queue", 200),
            ("/api/queue/retry", "/api/queue/retry", 200, "post", None),
            ("/api/filters/test", "/api/filters/test", 200, "post", {"script": "require \"fileinto\";\nif header :contains \"subject\" \"api\" { fileinto \"Api\"; }", "message": "Subject: for the api\r\n\r\nx\r\n", "trace": True}),
            ("/api/filters/test", "/api/filters/test", 200, "post", {"script": "if true {\n  keep\n}", "message": "Subject: x\r\n\r\nx\r\n"}),
            ("/api/filters/test", "/api/filters/test", 400, "post", {"script": "keep;", "message": ""}),
            ("/api/filters/diff", "/api/filters/diff", 200, "post", {"inbox": "support", "script": "discard;"}),
            ("/api/filters/diff", "/api/filters/diff", 404, "post", {"inbox": "nope", "script": "keep;"}),
            ("/api/suppressions/nobody@nowhere.test", "/api/suppressions/{email}", 404, "delete", None),
            ("/api/messages", "/api/messages", 200),
            ("/api/messages?inbox=support&limit=5", "/api/messages", 200),
            ("/api/messages?inbox=nope", "/api/messages", 404),
            ("/api/messages?limit=0", "/api/messages", 400),
            ("/api/messages?before=x", "/api/messages", 400),
            ("/api/messages/" + mid, "/api/messages/{id}", 200),
            ("/api/messages/" + qid, "/api/messages/{id}", 200),
            ("/api/messages/999999", "/api/messages/{id}", 404),
            ("/api/messages/" + qid + "/raw", "/api/messages/{id}/raw", 200),
            ("/api/messages/nope/raw", "/api/messages/{id}/raw", 404),
            ("/api/messages/" + mid + "/reprocess", "/api/messages/{id}/reprocess", 200, "post", None),
            ("/api/messages/999999/reprocess", "/api/messages/{id}/reprocess", 404, "post", None),
            ("/api/messages/" + mid + "/parts/2", "/api/messages/{id}/parts/{part}", 200),
            ("/api/messages/" + mid + "/parts/9", "/api/messages/{id}/parts/{part}", 404),
            ("/api/config", "/api/config", 200),
            ("/api/config/reload", "/api/config/reload", 200, "post", None),
            ("/api/relay/test", "/api/relay/test", 409, "post", None),
            # Last: the users above act in the calls before.
            ("/api/users/1/deactivate", "/api/users/{id}/deactivate", 200, "post", None),
            ("/api/users/999999/deactivate", "/api/users/{id}/deactivate", 404, "post", None),
        ]
        seen = set()
        for call in calls:
            path, template, expected = call[:3]
            method = call[3] if len(call) > 3 else "get"
            body = call[4] if len(call) > 4 else None
            status, _, data = self.call(path, template, method=method, body=body)
            self.assertEqual(status, expected, (method, path, data))
            seen.add((template, method))
        documented = {(path, method) for path, ops in self.spec["paths"].items() for method in ops if method in ("get", "post", "patch", "put", "delete")}
        self.assertEqual(seen, documented)
        detail = self.server.api("/api/conversations/" + cid)
        self.assertEqual([e["kind"] for e in detail["events"]][:6], ["assignment", "comment", "ticket", "status", "status", "status"])
        self.assertEqual(detail["events"][1]["mentions"], [1])
        self.assertEqual(self.server.api("/api/conversations?q=hello")["conversations"][0]["id"], int(cid))
        self.assertEqual(self.server.api("/api/conversations/" + cid)["conversation"]["ticket"]["priority"], "high")
        self.assertEqual(self.server.api("/api/conversations/" + tid)["conversation"]["mergedInto"], int(cid))

    def test_auth(self):
        for token in [None, "wrong", TOKEN + "x", ""]:
            for path, template in [("/api/inboxes", "/api/inboxes"), ("/api/messages/1/raw", "/api/messages/{id}/raw")]:
                status, headers, body = self.call(path, template, token=token)
                self.assertEqual(status, 401, (token, path))
                self.assertTrue(json.loads(body)["reason"])
                self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))

    def test_message_detail_content(self):
        detail = self.server.api("/api/messages/%d" % self.message["id"])
        self.assertEqual(detail["message"]["subject"], "for the api")
        self.assertEqual(detail["message"]["recipients"][0]["tag"], "api")
        self.assertIn({"name": "From", "value": "A <a@b.test>"}, detail["headers"])
        status, headers, raw = self.server.http("/api/messages/%d/raw" % self.message["id"])
        self.assertEqual(raw, self.MESSAGE)
        self.assertEqual(headers["X-Postroom-Queue-Id"], self.message["queueId"])
        status, headers, part = self.server.http("/api/messages/%d/parts/2" % self.message["id"])
        self.assertEqual(part, b"\x00\x01\x02\x03")
        self.assertIn("filename*=UTF-8''r%C3%A9sum%C3%A9.bin", headers["Content-Disposition"])

    def test_metrics(self):
        _, _, body = self.server.http("/metrics", token=None)
        text = body.decode()
        self.assertIn("postroom_smtp_messages_accepted_total", text)
        self.assertIn("postroom_smtp_sessions_total", text)
        self.assertIn("postroom_spool_commit_seconds", text)

    def test_cli_matches_api(self):
        p = self.server.cli("messages", "list", "--json")
        cli = json.loads(p.stdout)["messages"]
        api = self.server.messages()
        self.assertEqual([m["queueId"] for m in cli], [m["queueId"] for m in api])
        raw = self.server.cli("messages", "show", self.message["queueId"], "--raw").stdout
        self.assertEqual(raw, self.server.raw(self.message["id"]))
        shown = self.server.cli("messages", "show", str(self.message["id"]), "--raw", "--with-received").stdout
        self.assertTrue(shown.startswith(b"Received: from "))
        self.assertTrue(shown.endswith(raw))


if __name__ == "__main__":
    unittest.main()
