"""Fake network peers for the hostile-input tests (test_hostile.py): threads on loopback.

- SMTPPeer: a recording SMTP relay or mail host (EHLO with PIPELINING and 8BITMIME,
  optional STARTTLS). Every command line is recorded verbatim (bytes), every message
  with its envelope. It can be told to stall (never answer) at a step, and to answer
  STARTTLS with extra bytes in the same send (response injection).
- Tarpit: accepts TCP connections and never sends a byte.
- HostileIMAP: just enough IMAP4rev1 (greeting, CAPABILITY, LOGIN, EXAMINE, UID SEARCH,
  UID FETCH, NOOP, LOGOUT, optional STARTTLS) with scripted nasty answers.

Everything is stopped with stop() (tests call it in tearDown / tearDownClass).
"""
import base64
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

_CERT_LOCK = threading.Lock()
_CERT = None


def self_signed():
    """(cert, key) paths of one self-signed pair for localhost, made once per run."""
    global _CERT
    with _CERT_LOCK:
        if _CERT is None:
            directory = tempfile.mkdtemp(prefix="postroom-peer-tls-")
            cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                            "-keyout", key, "-out", cert], check=True, capture_output=True)
            _CERT = (cert, key)
        return _CERT


def server_context():
    cert, key = self_signed()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def listener(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(64)
    return s


def free_port_on(*hosts):
    """A port free on every one of `hosts` (for peers on 127.0.0.1 and 127.0.0.2)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        try:
            for h in hosts:
                with socket.socket() as t:
                    t.bind((h, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no common free port")


def wait_until(predicate, timeout, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class _Conn:
    """A socket with a read buffer; `tls()` switches it to TLS (server side)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.secure = False

    def recv_more(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def line(self, limit=1 << 20):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise ConnectionError("line too long")
            self.recv_more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            self.recv_more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, data):
        self.sock.sendall(data)

    def tls(self):
        # Anything the client sent before the handshake would be a protocol error; the
        # client waits for our answer, so the buffer is empty here.
        self.buf = b""
        self.sock = server_context().wrap_socket(self.sock, server_side=True)
        self.secure = True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class _Peer:
    def __init__(self, host, port):
        self.host = host
        self.sock = listener(host, port)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.released = threading.Event()  # set on stop: stalled handlers end
        self.conns = []
        self.lock = threading.Lock()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def _accept(self):
        while self.running:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            conn = _Conn(sock)
            with self.lock:
                self.conns.append(conn)
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._run, args=(conn, number), daemon=True).start()

    def _run(self, conn, number):
        try:
            self.handle(conn, number)
        except (OSError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            conn.close()

    def stall(self):
        """Never answers (until the peer is stopped)."""
        self.released.wait()
        raise ConnectionError("released")

    def stop(self):
        self.running = False
        self.released.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()


class Tarpit(_Peer):
    """Accepts TCP and never sends anything."""

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(host, port)

    def handle(self, conn, number):
        self.stall()


class SMTPPeer(_Peer):
    """A recording SMTP server.

    lines: [(connection number, secure, command line bytes)] in arrival order.
    messages: [{"conn", "mail", "rcpts", "data"}] for each message it answered 250 to.
    stall_at: None, "greeting", or ("dot", n): no answer to the final dot of the n-th
      message (1-based, counted over all connections); stalled handlers end on stop().
    greeting_code: e.g. 421 to refuse every session (temporary failure).
    starttls: offer STARTTLS; starttls_reply: the bytes sent in answer to it (one send).
    ehlo_flood: that many extra "250-" lines in the answer to EHLO.
    """

    def __init__(self, host="127.0.0.1", port=0, starttls=False, starttls_reply=b"220 2.0.0 go ahead\r\n", stall_at=None,
                 greeting_code=220, name="relay.test", ehlo_flood=0, auth=None):
        self.auth = auth  # (user, password): offer AUTH PLAIN and check it
        self.lines = []
        self.messages = []
        self.dots = 0
        self.stall_at = stall_at
        self.starttls = starttls
        self.starttls_reply = starttls_reply
        self.greeting_code = greeting_code
        self.name = name
        self.ehlo_flood = ehlo_flood  # extra "250-" lines in the EHLO answer
        self.stalled = threading.Event()
        super().__init__(host, port)

    def commands(self, secure=None):
        with self.lock:
            return [l for (_, s, l) in self.lines if secure is None or s == secure]

    def message_ids(self):
        out = []
        with self.lock:
            messages = list(self.messages)
        for m in messages:
            found = re.search(rb"(?im)^Message-ID:\s*<([^>]+)>", m["data"])
            out.append(found.group(1).decode() if found else None)
        return out

    def wait_messages(self, count, timeout=15):
        return wait_until(lambda: len(self.messages) >= count, timeout)

    def handle(self, conn, number):
        if self.stall_at == "greeting":
            self.stall()
        if self.greeting_code != 220:
            conn.send(b"%d 4.3.2 %s busy, try later\r\n" % (self.greeting_code, self.name.encode()))
            return
        conn.send(b"220 %s ESMTP fake\r\n" % self.name.encode())
        mail, rcpts = None, []
        while True:
            line = conn.line()
            with self.lock:
                self.lines.append((number, conn.secure, line))
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                features = [b"PIPELINING", b"8BITMIME", b"SIZE 52428800"]
                if self.starttls and not conn.secure:
                    features.append(b"STARTTLS")
                if self.auth:
                    features.append(b"AUTH PLAIN")
                reply = b"250-" + self.name.encode() + b"\r\n" + b"250-X-PADDING\r\n" * self.ehlo_flood
                for i, f in enumerate(features):
                    reply += (b"250 " if i == len(features) - 1 else b"250-") + f + b"\r\n"
                conn.send(reply)
                mail, rcpts = None, []
            elif verb == b"STARTTLS" and self.starttls and not conn.secure:
                conn.send(self.starttls_reply)
                conn.tls()
            elif verb == b"AUTH" and self.auth:
                parts = line.split(b" ")
                try:
                    given = base64.b64decode(parts[2]).split(b"\0")[1:] if len(parts) == 3 and parts[1].upper() == b"PLAIN" else None
                except ValueError:
                    given = None
                if given == [self.auth[0].encode(), self.auth[1].encode()]:
                    conn.send(b"235 2.7.0 authenticated\r\n")
                else:
                    conn.send(b"535 5.7.8 authentication credentials invalid\r\n")
            elif verb == b"MAIL":
                mail, rcpts = line, []
                conn.send(b"250 2.1.0 ok\r\n")
            elif verb == b"RCPT":
                if mail is None:
                    conn.send(b"503 5.5.1 MAIL first\r\n")
                else:
                    rcpts.append(line)
                    conn.send(b"250 2.1.5 ok\r\n")
            elif verb == b"DATA":
                if not rcpts:
                    conn.send(b"554 5.5.1 no valid recipients\r\n")
                    continue
                conn.send(b"354 go on\r\n")
                body = []
                while True:
                    l = conn.line(limit=64 << 20)
                    if l == b".":
                        break
                    body.append(l[1:] if l.startswith(b".") else l)
                with self.lock:
                    self.dots += 1
                    n = self.dots
                if self.stall_at == ("dot", n):
                    self.stalled.set()
                    self.stall()
                with self.lock:
                    self.messages.append({"conn": number, "mail": mail, "rcpts": list(rcpts), "data": b"\r\n".join(body) + b"\r\n"})
                conn.send(b"250 2.0.0 queued as F%d\r\n" % n)
                mail, rcpts = None, []
            elif verb == b"RSET":
                mail, rcpts = None, []
                conn.send(b"250 2.0.0 ok\r\n")
            elif verb == b"NOOP":
                conn.send(b"250 2.0.0 ok\r\n")
            elif verb == b"QUIT":
                conn.send(b"221 2.0.0 bye\r\n")
                return
            else:
                conn.send(b"502 5.5.2 not implemented\r\n")


class HostileIMAP(_Peer):
    """Just enough IMAP4rev1, with hooks for nasty answers.

    messages: {uid: raw bytes}. Hooks (each optional) return lists of lines (bytes,
    without CRLF) sent before the tagged OK, or None for the normal answer:
      examine(tag) -> untagged lines (replace the normal EXISTS/UIDVALIDITY/UIDNEXT)
      search(tag, uids) -> untagged lines (replace "* SEARCH ...")
      sizes(tag, uids) -> untagged lines (replace the RFC822.SIZE FETCH answers)
    flood: (verb, count, line): `count` copies of `line` before the answer to `verb`.
    starttls_extra: bytes sent right after the STARTTLS OK, in the same send.
    """

    def __init__(self, host="127.0.0.1", port=0, messages=None, capabilities=("IMAP4rev1",), uidvalidity=1, uidnext=None,
                 starttls=False, starttls_extra=b"", examine=None, search=None, sizes=None, flood=None):
        self.messages = dict(messages or {})
        self.capabilities = list(capabilities)
        self.uidvalidity = uidvalidity
        self.uidnext = uidnext
        self.starttls = starttls
        self.starttls_extra = starttls_extra
        self.hooks = {"examine": examine, "search": search, "sizes": sizes}
        self.flood = flood
        self.log = []  # (connection, secure, command line without the password)
        self.logins = []  # (connection, secure)
        super().__init__(host, port)

    def commands(self):
        with self.lock:
            return list(self.log)

    def verbs(self):
        return [l.split(b" ")[1].upper() if b" " in l else b"" for (_, _, l) in self.commands()]

    def caps(self, secure):
        caps = list(self.capabilities)
        if self.starttls and not secure:
            caps.append("STARTTLS")
        return " ".join(caps).encode()

    def read_command(self, conn):
        """A command line with its literals ({n} answered with "+"), as one bytes value."""
        whole = b""
        while True:
            line = conn.line()
            whole += line
            m = re.search(rb"\{(\d+)(\+?)\}$", line)
            if not m:
                return whole
            if not m.group(2):
                conn.send(b"+ go ahead\r\n")
            whole += b"\r\n" + conn.exactly(int(m.group(1)))

    def send_lines(self, conn, lines):
        if lines:
            conn.send(b"".join(l + b"\r\n" for l in lines))

    def uids_in(self, spec):
        """Messages' UIDs within a sequence set (uids only; '*' is the highest)."""
        have = sorted(self.messages)
        top = have[-1] if have else 0
        out = set()
        for part in spec.split(b","):
            if b":" in part:
                a, b = part.split(b":", 1)
                lo = top if a == b"*" else int(a)
                hi = top if b == b"*" else int(b)
                lo, hi = min(lo, hi), max(lo, hi)
                out.update(u for u in have if lo <= u <= hi)
            else:
                u = top if part == b"*" else int(part)
                if u in self.messages:
                    out.add(u)
        return sorted(out)

    def handle(self, conn, number):
        conn.send(b"* OK [CAPABILITY " + self.caps(False) + b"] hostile IMAP ready\r\n")
        while True:
            line = self.read_command(conn)
            parts = line.split(b" ")
            tag = parts[0]
            verb = parts[1].upper() if len(parts) > 1 else b""
            logged = line if verb != b"LOGIN" else b" ".join(parts[:3]) + b" ***"
            with self.lock:
                self.log.append((number, conn.secure, logged))
            if self.flood and self.flood[0] == verb:
                chunk = (self.flood[2] + b"\r\n") * 1000
                try:
                    for _ in range(self.flood[1] // 1000):
                        conn.send(chunk)
                except OSError:
                    return
            if verb == b"CAPABILITY":
                conn.send(b"* CAPABILITY " + self.caps(conn.secure) + b"\r\n" + tag + b" OK done\r\n")
            elif verb == b"STARTTLS" and self.starttls and not conn.secure:
                conn.send(tag + b" OK begin TLS now\r\n" + self.starttls_extra)
                conn.tls()
            elif verb == b"LOGIN":
                with self.lock:
                    self.logins.append((number, conn.secure))
                conn.send(tag + b" OK [CAPABILITY " + self.caps(conn.secure) + b"] logged in\r\n")
            elif verb in (b"EXAMINE", b"SELECT"):
                lines = self.hooks["examine"](tag) if self.hooks["examine"] else None
                if lines is None:
                    uids = sorted(self.messages)
                    nxt = self.uidnext if self.uidnext is not None else (uids[-1] + 1 if uids else 1)
                    lines = [b"* %d EXISTS" % len(uids), b"* 0 RECENT", b"* OK [UIDVALIDITY %d] ok" % self.uidvalidity,
                             b"* OK [UIDNEXT %d] ok" % nxt, b"* FLAGS (\\Seen)"]
                self.send_lines(conn, lines)
                conn.send(tag + b" OK [READ-ONLY] done\r\n")
            elif verb == b"UID" and len(parts) > 2 and parts[2].upper() == b"SEARCH":
                spec = parts[-1]
                uids = self.uids_in(spec)
                lines = self.hooks["search"](tag, uids) if self.hooks["search"] else None
                if lines is None:
                    if b"RETURN" in line.upper():
                        lines = [b"* ESEARCH (TAG \"" + tag + b"\") UID" + ((b" ALL " + b",".join(b"%d" % u for u in uids)) if uids else b"")]
                    else:
                        lines = [b"* SEARCH" + b"".join(b" %d" % u for u in uids)]
                self.send_lines(conn, lines)
                conn.send(tag + b" OK search done\r\n")
            elif verb == b"UID" and len(parts) > 3 and parts[2].upper() == b"FETCH":
                uids = self.uids_in(parts[3])
                items = b" ".join(parts[4:]).upper()
                out = b""
                if b"RFC822.SIZE" in items:
                    lines = self.hooks["sizes"](tag, uids) if self.hooks["sizes"] else None
                    if lines is None:
                        lines = [b"* %d FETCH (UID %d RFC822.SIZE %d)" % (i + 1, u, len(self.messages[u])) for i, u in enumerate(uids)]
                    out = b"".join(l + b"\r\n" for l in lines)
                else:
                    for i, u in enumerate(uids):
                        raw = self.messages[u]
                        out += b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (i + 1, u, len(raw)) + raw + b")\r\n"
                conn.send(out + tag + b" OK fetch done\r\n")
            elif verb == b"NOOP":
                conn.send(tag + b" OK noop\r\n")
            elif verb == b"LOGOUT":
                conn.send(b"* BYE bye\r\n" + tag + b" OK logged out\r\n")
                return
            else:
                conn.send(tag + b" BAD unknown command\r\n")


def cleanup_dir(path):
    shutil.rmtree(path, ignore_errors=True)
