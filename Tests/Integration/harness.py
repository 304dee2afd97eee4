"""Starts a real `postroom serve` on free loopback ports for protocol tests.

Everything here talks to the running server the way users' tools do: sockets,
smtplib, swaks, urllib. The binary comes from $POSTROOM_BIN (scripts/test sets it).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("POSTROOM_BIN") or os.path.join(ROOT, ".build", "debug", "postroom")
TOKEN = "integration-test-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, config_text=None, env=None, data_dir=None, args=()):
        self.tmp = tempfile.mkdtemp(prefix="postroom-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.env = dict(os.environ)
        self.env["POSTROOM_ADMIN_TOKEN"] = TOKEN
        self.env["POSTROOM_HOSTNAME"] = "mx.test"
        # Sender authentication needs a DNS server: tests of other things run without it
        # (test_auth.py starts a local one and turns it on).
        self.env["POSTROOM_AUTH_ENABLED"] = "false"
        self.env.update(env or {})
        self.config = None
        if config_text is not None:
            self.config = os.path.join(self.tmp, "postroom.yaml")
            with open(self.config, "w") as f:
                f.write(config_text)
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")

    def base_args(self):
        a = ["--data-dir", self.data_dir]
        if self.config:
            a += ["--config", self.config]
        return a

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        cmd = [BIN, "serve"] + self.base_args() + [
            "--smtp-port", str(self.smtp_port), "--http-port", str(self.http_port)] + self.args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1) as s:
                    # The greeting, not just a connection: ready means the SMTP server answers.
                    if not s.recv(100).startswith(b"220"):
                        raise OSError("no greeting yet")
                with socket.create_connection(("127.0.0.1", self.http_port), timeout=1):
                    pass
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start:\n" + self.read_log())

    def wait_accepts(self, address, timeout=10):
        """Waits until RCPT TO:<address> is accepted (the server reloads inboxes live)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            c = RawSMTP(self.smtp_port)
            try:
                c.reply()
                c.cmd("EHLO probe.test")
                c.cmd("MAIL FROM:<probe@probe.test>")
                code, _ = c.cmd("RCPT TO:<%s>" % address)
                c.cmd("QUIT")
            finally:
                c.close()
            if code == 250:
                return time.time()
            time.sleep(0.05)
        raise AssertionError("%s not accepted within %ss" % (address, timeout))

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args, check=True):
        """Runs a subcommand on this server's data dir (also while it runs)."""
        cmd = [BIN] + list(args[:2]) + self.base_args() + list(args[2:]) if len(args) >= 2 else [BIN] + list(args) + self.base_args()
        p = subprocess.run(cmd, capture_output=True, env=self.env)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (cmd, p.returncode, p.stderr.decode()))
        return p

    def http(self, path, token=TOKEN, method="GET", body=None):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path), method=method, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token is not None:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def api(self, path, method="GET", body=None):
        status, _, data = self.http(path, method=method, body=body)
        assert status == 200, (status, data)
        return json.loads(data)

    def wait_processed(self, timeout=15):
        """Waits until nothing is left spooled (the processor has filed everything)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not [m for m in self.messages() if m["state"] == "spooled"]:
                return
            time.sleep(0.05)
        raise AssertionError("messages still spooled after %ss" % timeout)

    def messages(self, inbox=None):
        return self.api("/api/messages?limit=1000" + ("&inbox=" + inbox if inbox else ""))["messages"]

    def count(self, channel_prefix=""):
        """Stored messages (distinct Message-IDs too), read straight from the SQLite file."""
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data_dir, "postroom.sqlite"), uri=True, timeout=30)
        try:
            return db.execute(
                "SELECT COUNT(*), COUNT(DISTINCT header_message_id) FROM message WHERE channel LIKE ?", (channel_prefix + "%",)).fetchone()
        finally:
            db.close()

    def raw(self, ident):
        status, _, body = self.http("/api/messages/%s/raw" % ident)
        assert status == 200, status
        return body


class RawSMTP:
    """A plain socket client for what smtplib will not send (bare LF, pipelining)."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """Reads one (possibly multi-line) reply; returns (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed; got %r" % self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(lines[-1][:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()
