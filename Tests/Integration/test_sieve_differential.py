"""Differential test: the same script x message pairs through `postroom filters test`
and Pigeonhole's `sieve-test`; the actions must agree (after normalising the
differences in how the two print them, listed in NORMALISATION below)."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("POSTROOM_CORPUS_DIR")

# Scripts written for this test; each line of the list is one script.
SCRIPTS = [
    'keep;',
    'discard;',
    'require "fileinto"; fileinto "Lists";',
    'require "fileinto"; if header :contains "subject" ["present", "order"] { fileinto "Sales"; }',
    'require "fileinto"; if address :domain :is "from" "example.org" { fileinto "Org"; } else { fileinto "Other"; }',
    'require "fileinto"; if address :localpart :matches "from" "*coyote*" { fileinto "Coyote"; stop; } fileinto "Never";',
    'if exists ["x-caffeine", "list-id"] { discard; }',
    'if anyof (exists "list-id", header :is "precedence" "bulk") { discard; }',
    'if allof (size :under 1K, not exists "cc") { discard; }',
    'if size :over 2K { discard; }',
    'redirect "archive@example.net";',
    'require "copy"; redirect :copy "archive@example.net";',
    'require ["fileinto", "copy"]; fileinto :copy "Copies"; redirect :copy "b@example.net";',
    'require "reject"; if header :contains "subject" "spam" { reject "no spam here"; }',
    'require "reject"; reject "We do not accept mail";',
    'require "envelope"; if envelope :domain :is "from" "example.org" { discard; }',
    'require ["envelope", "fileinto"]; if envelope :all :is "to" "support@example.com" { fileinto "Support"; }',
    'require ["envelope", "subaddress", "fileinto", "variables"]; if envelope :detail :matches "to" "*" { fileinto "tag-${1}"; }',
    'require ["subaddress", "fileinto"]; if address :user :is "to" "support" { fileinto "User"; }',
    'require "imap4flags"; addflag "\\\\Seen";',
    'require "imap4flags"; setflag ["\\\\Flagged", "$Important"]; keep;',
    'require ["imap4flags", "fileinto"]; addflag "\\\\Answered"; removeflag "\\\\Answered"; addflag "\\\\Seen"; fileinto "Read";',
    'require ["imap4flags", "fileinto"]; fileinto :flags "\\\\Deleted" "Trash";',
    'require ["imap4flags"]; if hasflag "\\\\Seen" { discard; } addflag "\\\\Seen"; if hasflag :contains "seen" { keep; }',
    'require ["variables", "fileinto"]; if header :matches "subject" "*" { set "s" "${1}"; } if string :contains "${s}" "a" { fileinto "HasA"; }',
    'require ["variables", "fileinto"]; set :lower "box" "MiXeD"; fileinto "${box}";',
    'require ["variables", "fileinto"]; set :upperfirst "box" "inbox-two"; fileinto "${box}";',
    'require ["variables", "fileinto"]; if address :matches "from" "*@*" { fileinto "from-${2}"; }',
    'require ["body", "fileinto"]; if body :contains "birdseed" { fileinto "Birds"; }',
    'require ["body", "fileinto"]; if body :raw :contains "Content-Type" { fileinto "Mime"; }',
    'require ["body", "fileinto"]; if body :content "text" :contains "the" { fileinto "HasThe"; }',
    'require ["relational", "comparator-i;ascii-numeric"]; if header :count "ge" :comparator "i;ascii-numeric" "received" "2" { discard; }',
    'require ["relational", "fileinto"]; if header :value "gt" "subject" "M" { fileinto "AfterM"; }',
    'require ["relational", "comparator-i;ascii-numeric", "fileinto"]; if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "2" { fileinto "Many"; }',
    'require ["regex", "fileinto"]; if header :regex "subject" "^(Re|Fwd?):" { fileinto "Replies"; }',
    'require ["regex", "variables", "fileinto"]; if header :regex "from" "([a-z]+)@" { fileinto "rx-${1}"; }',
    'require ["date", "relational", "fileinto"]; if date :value "lt" :originalzone "date" "year" "2005" { fileinto "Old"; }',
    'require ["date", "fileinto"]; if date :is :originalzone "date" "weekday" ["0", "6"] { fileinto "Weekend"; }',
    'require ["index", "fileinto"]; if header :index 1 :contains "received" "localhost" { fileinto "Local"; }',
    'require ["vacation"]; vacation :days 7 :subject "Out of office" "I am away until Monday.";',
    'require ["vacation", "fileinto"]; if header :contains "subject" "order" { vacation "We got your order."; } fileinto "Orders";',
    'require ["mailbox", "fileinto"]; fileinto :create "New/Folder";',
    'require ["encoded-character", "fileinto"]; if header :contains "subject" "${hex:65}" { fileinto "${unicode:41}"; }',
    'require ["fileinto"]; if header :comparator "i;octet" :is "subject" "testing" { fileinto "Exact"; } elsif header :is "subject" "testing" { fileinto "Folded"; }',
    'require ["fileinto"]; if not header :matches "subject" "?*" { fileinto "NoSubject"; }',
    'require "fileinto"; if address :all :is ["to", "cc"] "support@example.com" { fileinto "Direct"; }',
    'require ["editheader", "fileinto"]; addheader "X-Filtered" "yes"; if header :is "x-filtered" "yes" { fileinto "Edited"; }',
    'require ["editheader"]; deleteheader "subject"; if not exists "subject" { discard; }',
]

MESSAGES = {
    "coyote.eml": (
        "Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\nFrom: coyote@desert.example.org\r\n"
        "To: roadrunner@acme.example.com\r\nCc: \"Support\" <support@example.com>\r\nSubject: I have a present for you\r\n"
        "X-Caffeine: C8H10N4O2\r\n\r\nLook, I'm sorry about the whole anvil thing, and I have great birdseed for you.\r\n"),
    "list.eml": (
        "Received: from localhost by mx.example.com; Sat, 4 Jan 2025 10:00:00 +0000\r\n"
        "Received: from list.example.net by localhost; Sat, 4 Jan 2025 09:59:59 +0000\r\n"
        "Date: Sat, 4 Jan 2025 10:00:00 +0000\r\nFrom: News <news@lists.example.net>\r\nTo: support@example.com\r\n"
        "Subject: Weekly digest: orders and spam\r\nList-Id: <weekly.lists.example.net>\r\nPrecedence: bulk\r\n\r\nThe weekly digest.\r\n"),
    "reply.eml": (
        "Date: Wed, 10 Mar 2004 12:00:00 +0100\r\nFrom: Ann <ann@example.org>\r\nTo: support@example.com, sales@example.com\r\n"
        "Subject: Re: order 1234\r\nIn-Reply-To: <1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWhere is the parcel?\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Where is the parcel?</p>\r\n--b--\r\n"),
    "nosubject.eml": "From: <bob@example.com>\r\nTo: support@example.com\r\n\r\nno subject at all\r\n",
}

NORMALISATION = """
How the outputs are compared: both are reduced to the list of actions and the implicit
keep. sieve-test prints redirect addresses in <>, vacation parameters on extra lines,
and keep as "store message in folder: INBOX"; fileinto "INBOX" and keep are the same;
duplicate actions are merged; flags are compared as sets, lower-cased; editheader
changes are not shown by sieve-test (only the tests that read them).
"""


def normalise_sieve_test(text):
    actions, keep, section, current = [], None, None, None
    for line in text.splitlines():
        if line.startswith("Performed actions:"):
            section = "actions"
            continue
        if line.startswith("Implicit keep:"):
            section = "keep"
            keep = []
            continue
        if line.startswith(" * "):
            item = line[3:].strip()
            if item.startswith("redirect message to:"):
                item = "redirect message to: " + item.split(":", 1)[1].strip().strip("<>")
            if item.startswith("send vacation message"):
                item = "send vacation message"
            current = [item, set()]
            (actions if section == "actions" else keep).append(current)
        elif line.startswith("        + add IMAP flags:") and current is not None:
            current[1] |= set(f.lower() for f in line.split(":", 1)[1].split())
        elif line.startswith("        + ") and current is not None:
            current[1].add(line.strip()[2:])
    norm = lambda items: [(i, tuple(sorted(f))) for i, f in items]
    return norm(actions), norm(keep or [])


class SieveDifferentialTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("sieve-test"):
            raise unittest.SkipTest("sieve-test not installed (scripts/bootstrap installs dovecot-sieve)")
        cls.tmp = tempfile.mkdtemp(prefix="postroom-sieve-")
        os.chmod(cls.tmp, 0o777)
        cls.empty_conf = os.path.join(cls.tmp, "empty.conf")
        open(cls.empty_conf, "w").close()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def messages(self):
        paths = []
        for name, text in MESSAGES.items():
            path = os.path.join(self.tmp, name)
            with open(path, "w", newline="") as f:
                f.write(text)
            paths.append(path)
        if CORPUS:
            for rel in ["mikel-mail/plain_emails/basic_email.eml", "mikel-mail/rfc2822/example06.eml",
                        "mikel-mail/multi_charset/japanese.eml", "mikel-mail/attachment_emails/attachment_pdf.eml",
                        "mikel-mail/multipart_report_emails/report_530.eml", "mikel-mail/plain_emails/raw_email_reply.eml"]:
                source = os.path.join(CORPUS, rel)
                if os.path.exists(source):
                    target = os.path.join(self.tmp, os.path.basename(rel))
                    shutil.copy(source, target)
                    paths.append(target)
        for p in paths:
            os.chmod(p, 0o644)
        return paths

    def run_sieve_test(self, script_text, message, index):
        work = os.path.join(self.tmp, "st%d" % index)
        os.makedirs(work, exist_ok=True)
        os.chmod(work, 0o777)
        script = os.path.join(work, "s.sieve")
        with open(script, "w") as f:
            f.write(script_text)
        os.chmod(script, 0o644)
        cmd = ["sieve-test", "-C", "-c", self.empty_conf, "-x", "+editheader", "-o", "mail_location=maildir:%s/mail" % work,
               "-o", "mail_uid=%d" % os.stat("/").st_uid if os.getuid() != 0 else "mail_uid=nobody",
               "-o", "mail_gid=nogroup" if os.getuid() == 0 else "mail_gid=%d" % os.getgid(),
               "-f", "coyote@desert.example.org", "-a", "support+orders@example.com", "-r", "support+orders@example.com",
               script, message]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def run_postroom(self, script_text, message, index):
        script = os.path.join(self.tmp, "pr%d.sieve" % index)
        with open(script, "w") as f:
            f.write(script_text)
        p = subprocess.run([BIN, "filters", "test", "--script", script, "--message", message, "--from", "coyote@desert.example.org",
                            "--to", "support+orders@example.com"], capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def test_pairs_agree(self):
        messages = self.messages()
        pairs = [(s, m) for s in SCRIPTS for m in messages]
        self.assertGreaterEqual(len(pairs), 150)
        mismatches = []
        for index, (script, message) in enumerate(pairs):
            pr_code, pr_out, pr_err = self.run_postroom(script, message, index)
            st_code, st_out, st_err = self.run_sieve_test(script, message, index)
            if st_code == 89 or pr_code == 1:
                if not (st_code == 89 and pr_code == 1):
                    mismatches.append((script, os.path.basename(message), "compile: postroom %d, sieve-test %d: %s %s" % (pr_code, st_code, pr_out.strip(), st_err.strip()[-300:])))
                continue
            ours = normalise_sieve_test(pr_out)
            theirs = normalise_sieve_test(st_out)
            if ours != theirs:
                mismatches.append((script, os.path.basename(message), "postroom %s\n   sieve-test %s" % (ours, theirs)))
        report = "\n".join("%s | %s\n   %s" % m for m in mismatches)
        print("\nsieve differential: %d pairs, %d disagree%s" % (len(pairs), len(mismatches), ("\n" + report) if report else ""))
        self.assertEqual(mismatches, [], report)

    def test_one_run_over_many_messages_agrees(self):
        """`filters test` over many messages in one process (what `filters diff` and
        stored-mail trials run) decides each as sieve-test does, one process each."""
        messages = self.messages()
        mismatches = []
        for index, script in enumerate(SCRIPTS):
            path = os.path.join(self.tmp, "batch%d.sieve" % index)
            with open(path, "w") as f:
                f.write(script)
            args = [BIN, "filters", "test", "--script", path, "--from", "coyote@desert.example.org", "--to", "support+orders@example.com", "--json"]
            for m in messages:
                args += ["--message", m]
            p = subprocess.run(args, capture_output=True, text=True, timeout=60)
            if p.returncode == 1:
                continue  # does not compile: test_pairs_agree compares that
            lines = [json.loads(l) for l in p.stdout.splitlines()]
            self.assertEqual(lines[-1]["summary"]["messages"], len(messages), p.stdout[-500:])
            for line, message in zip(lines[:-1], messages):
                st_code, st_out, _ = self.run_sieve_test(script, message, 1000 + index)
                if st_code == 89:
                    continue
                theirs = places(*normalise_sieve_test(st_out))
                o = line["outcome"]
                ours = (frozenset(o["folders"] + (["INBOX"] if o["kept"] else [])), "rejected" in o, frozenset(o["redirects"]), o["vacation"])
                if ours != theirs:
                    mismatches.append("%s | %s\n   postroom %s\n   sieve-test %s" % (script, os.path.basename(message), ours, theirs))
        self.assertEqual(mismatches, [], "\n".join(mismatches))


def places(actions, keep):
    """Where sieve-test's normalised result puts the message, and what else happens."""
    folders, redirects, rejected, vacation = set(), set(), False, False
    for item, _ in actions + keep:
        if item.startswith("store message in folder:"):
            folders.add(item.split(":", 1)[1].strip())
        elif item.startswith("redirect message to:"):
            redirects.add(item.split(":", 1)[1].strip())
        elif item.startswith("reject"):
            rejected = True
        elif item == "send vacation message":
            vacation = True
    return (frozenset(folders), rejected, frozenset(redirects), vacation)


if __name__ == "__main__":
    unittest.main()
