"""A throwaway Dovecot 2.3 IMAP server on loopback for tests (see ../shared/notes/peers.md)."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import free_port

USER = "agent@example.test"
PASSWORD = "s3cret pass"


def make_ca(directory, name):
    """A throwaway CA and a certificate for localhost / 127.0.0.1 signed by it (openssl)."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=%s test CA" % name,
        "-keyout", name + "-ca.key", "-out", name + "-ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", name + ".key", "-out", name + ".csr")
    with open(os.path.join(directory, name + ".ext"), "w") as f:
        f.write("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    run("x509", "-req", "-in", name + ".csr", "-CA", name + "-ca.pem", "-CAkey", name + "-ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", name + ".ext", "-out", name + ".pem")
    return tuple(os.path.join(directory, name + suffix) for suffix in ("-ca.pem", ".pem", ".key"))


class Dovecot:
    def __init__(self, tls=False):
        self.dir = tempfile.mkdtemp(prefix="postroom-dovecot-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        # With tls: STARTTLS on `port`, implicit TLS on `tls_port`, certificates from `ca`.
        self.tls_port = free_port() if tls else 0
        if tls:
            self.ca, cert, key = make_ca(self.dir, "imap")
            ssl = "ssl = yes\nssl_cert = <%s\nssl_key = <%s\n" % (cert, key)
        else:
            self.ca = None
            ssl = "ssl = no\n"
        self.maildir = os.path.join(self.dir, "mail", "example.test", "agent", "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir, sub))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")
            self.uid, self.gid = owner.pw_uid, owner.pw_gid
            login_user, internal_user = "dovenull", "dovecot"
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
        self.set_password(PASSWORD)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("""base_dir = {d}/run
state_dir = {d}/state
instance_name = postroom-test-{port}
protocols = imap
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
# Dovecot waits 2 s before answering a failed login; the tests count retries, not wait.
auth_failure_delay = 0
default_login_user = {login}
default_internal_user = {internal}
first_valid_uid = 1
mail_location = maildir:~/Maildir
log_path = {d}/dovecot.log
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%d/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""".format(d=self.dir, port=self.port, tls_port=self.tls_port, ssl=ssl, login=login_user, internal=internal_user, uid=self.uid, gid=self.gid))
        self.counter = 0

    def set_password(self, password):
        """Dovecot's passwd-file driver notices the change at the next login."""
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("%s:{PLAIN}%s::::::\n" % (USER, password))

    def add(self, raw, flags=""):
        """Drops a message into the Maildir (Dovecot gives it the next UID when it sees it)."""
        self.counter += 1
        name = "%d.M%dP%d.test" % (int(time.time()), self.counter, os.getpid())
        folder = "cur" if flags else "new"
        path = os.path.join(self.maildir, folder, name + (":2," + flags if flags else ""))
        with open(path, "wb") as f:
            f.write(raw)
        self.chown()
        return path

    def add_many(self, raws):
        """Many messages at once (one ownership pass, not one per message)."""
        for raw in raws:
            self.counter += 1
            name = "%d.M%dP%d.bulk" % (int(time.time()), self.counter, os.getpid())
            with open(os.path.join(self.maildir, "new", name), "wb") as f:
                f.write(raw)
        self.chown()

    def chown(self):
        for root, dirs, files in os.walk(os.path.join(self.dir, "mail")):
            for n in dirs + files + [""]:
                os.chown(os.path.join(root, n), self.uid, self.gid)

    def start(self):
        self.chown()
        with open(os.devnull, "wb") as null:
            subprocess.run(["dovecot", "-c", self.conf], check=True, stdout=null, stderr=null)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start: " + self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, keep=False):
        """Stops Dovecot (every connection drops); `keep` leaves the mail for a restart."""
        pidfile = os.path.join(self.dir, "run", "master.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
        except (OSError, ValueError):
            pass
        # imap, log and stats processes outlive the master: end this instance's too, so
        # its clients see the connection drop (as when a provider restarts).
        subprocess.run(["pkill", "-KILL", "-f", "dovecot-postroom-test-%d/" % self.port], capture_output=True)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
