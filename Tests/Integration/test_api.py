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
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        with open(os.path.join(ROOT, "openapi.yaml")) as f:
            cls.spec = yaml.safe_load(f)
        with smtplib.SMTP("127.0.0.1", cls.server.smtp_port) as s:
            s.sendmail("a@b.test", ["support+api@mx.test"], b"Subject: for the api\r\nFrom: A <a@b.test>\r\n\r\nhello\r\n")
        cls.message = cls.server.messages()[0]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def validate(self, path_template, status, body, content_type):
        operation = self.spec["paths"][path_template]["get"]
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

    def call(self, path, template, token=TOKEN):
        status, headers, body = self.server.http(path, token=token)
        self.validate(template, status, body, headers.get("Content-Type", ""))
        return status, headers, body

    def test_every_documented_route(self):
        qid = self.message["queueId"]
        mid = str(self.message["id"])
        calls = [
            ("/healthz", "/healthz", 200),
            ("/metrics", "/metrics", 200),
            ("/api/inboxes", "/api/inboxes", 200),
            ("/api/inboxes/support", "/api/inboxes/{slug}", 200),
            ("/api/inboxes/nope", "/api/inboxes/{slug}", 404),
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
        ]
        for path, template, expected in calls:
            status, _, body = self.call(path, template)
            self.assertEqual(status, expected, (path, body))
        self.assertEqual(len(calls) >= len(self.spec["paths"]), True)
        templates = {t for _, t, _ in calls}
        self.assertEqual(templates, set(self.spec["paths"].keys()))

    def test_auth(self):
        for token in [None, "wrong", TOKEN + "x", ""]:
            for path, template in [("/api/inboxes", "/api/inboxes"), ("/api/messages/1/raw", "/api/messages/{id}/raw")]:
                status, headers, body = self.call(path, template, token=token)
                self.assertEqual(status, 401, (token, path))
                self.assertIn("message", json.loads(body)["error"])
                self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))

    def test_message_detail_content(self):
        detail = self.server.api("/api/messages/%d" % self.message["id"])
        self.assertEqual(detail["message"]["subject"], "for the api")
        self.assertEqual(detail["message"]["recipients"][0]["tag"], "api")
        self.assertIn({"name": "From", "value": "A <a@b.test>"}, detail["headers"])
        status, headers, raw = self.server.http("/api/messages/%d/raw" % self.message["id"])
        self.assertEqual(raw, b"Subject: for the api\r\nFrom: A <a@b.test>\r\n\r\nhello\r\n")
        self.assertEqual(headers["X-Postroom-Queue-Id"], self.message["queueId"])

    def test_metrics(self):
        _, _, body = self.server.http("/metrics", token=None)
        text = body.decode()
        self.assertIn("postroom_smtp_messages_accepted_total", text)
        self.assertIn("postroom_smtp_sessions_total", text)
        self.assertIn("postroom_spool_commit_seconds", text)

    def test_cli_matches_api(self):
        p = self.server.cli("messages", "list", "--json")
        cli = json.loads(p.stdout)
        api = self.server.messages()
        self.assertEqual([m["queueId"] for m in cli], [m["queueId"] for m in api])
        raw = self.server.cli("messages", "show", self.message["queueId"], "--raw").stdout
        self.assertEqual(raw, self.server.raw(self.message["id"]))
        shown = self.server.cli("messages", "show", str(self.message["id"]), "--raw", "--with-received").stdout
        self.assertTrue(shown.startswith(b"Received: from "))
        self.assertTrue(shown.endswith(raw))


if __name__ == "__main__":
    unittest.main()
