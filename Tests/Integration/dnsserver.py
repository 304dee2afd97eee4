"""A small authoritative DNS server for tests (dnslib, Debian's python3-dnslib) on
127.0.0.1 and a free UDP port: serves the zone it is given, NXDOMAIN for every other
name, and no answer at all for names listed as timing out."""
import socket
import threading

from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, TXT, A, DNSRecord


class ZoneServer:
    def __init__(self, zone=None, timeouts=()):
        # zone: {name: [(type, value), ...]}, type one of A, AAAA, MX (value (pref, host)), TXT, PTR
        self.zone = {k.lower().rstrip("."): v for k, v in (zone or {}).items()}
        self.timeouts = {t.lower().rstrip(".") for t in timeouts}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def add(self, name, rtype, value):
        self.zone.setdefault(name.lower().rstrip("."), []).append((rtype, value))

    def serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                request = DNSRecord.parse(data)
            except Exception:
                continue
            qname = str(request.q.qname).lower().rstrip(".")
            qtype = QTYPE[request.q.qtype]
            self.queries.append((qname, qtype))
            if qname in self.timeouts:
                continue
            reply = request.reply()
            records = self.zone.get(qname)
            if records is None:
                reply.header.rcode = RCODE.NXDOMAIN
            else:
                for rtype, value in records:
                    if rtype != qtype:
                        continue
                    if rtype == "A":
                        rdata = A(value)
                    elif rtype == "AAAA":
                        rdata = AAAA(value)
                    elif rtype == "MX":
                        rdata = MX(value[1], value[0])
                    elif rtype == "PTR":
                        rdata = PTR(value)
                    else:
                        text = value.encode() if isinstance(value, str) else value
                        rdata = TXT([text[i:i + 255] for i in range(0, len(text), 255)] or [b""])
                    reply.add_answer(RR(request.q.qname, QTYPE.reverse[rtype], rdata=rdata, ttl=300))
            try:
                self.sock.sendto(reply.pack(), peer)
            except OSError:
                pass

    def stop(self):
        self.running = False
        self.sock.close()


if __name__ == "__main__":
    # python3 dnsserver.py '{"name": [["TXT", "v=spf1 ..."]]}' : prints the port, serves until killed.
    import json
    import sys
    import time
    server = ZoneServer({k: [tuple(r) for r in v] for k, v in json.loads(sys.argv[1]).items()})
    print(server.port, flush=True)
    while True:
        time.sleep(3600)
