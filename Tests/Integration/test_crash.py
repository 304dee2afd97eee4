"""A 250 is a promise: kill -9 the server while many sessions send, restart it, and
every acknowledged message must be there byte for byte, none of them twice."""
import os
import smtplib
import sqlite3
import threading
import time
import unittest

from harness import Server


class CrashTest(unittest.TestCase):
    def test_kill9_under_load_loses_no_acknowledged_message(self):
        server = Server().start()
        try:
            acked = {}  # queue id -> bytes
            lock = threading.Lock()
            stop = threading.Event()
            errors = []

            def sender(n):
                i = 0
                while not stop.is_set():
                    try:
                        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
                            s.ehlo("load.test")
                            while not stop.is_set():
                                i += 1
                                body = ("Subject: crash %d-%d\r\nX-Pad: %s\r\n\r\n%s\r\n" % (
                                    n, i, "p" * (i % 50), ("line %d of sender %d\r\n" % (i, n)) * (1 + i % 40))).encode()
                                s.mail("load%d@client.test" % n)
                                s.rcpt("support@mx.test")
                                code, text = s.data(body)
                                if code == 250:
                                    qid = text.decode().rsplit(" ", 1)[1]
                                    with lock:
                                        acked[qid] = body
                    except (smtplib.SMTPException, OSError):
                        time.sleep(0.01)  # the server died; the acknowledged ones count
                    except Exception as e:  # noqa
                        errors.append(e)
                        return

            threads = [threading.Thread(target=sender, args=(n,)) for n in range(16)]
            for t in threads:
                t.start()
            time.sleep(2.5)
            _, _, metrics = server.http("/metrics", token=None)
            server.kill9()
            stop.set()
            for t in threads:
                t.join()
            self.assertFalse(errors, errors)
            self.assertGreater(len(acked), 100, "too little load to mean anything")

            # Restart on the same data dir: everything acknowledged is there, exactly.
            server.start()
            db = sqlite3.connect(os.path.join(server.data_dir, "postroom.sqlite"))
            rows = db.execute("SELECT m.queue_id, r.raw FROM message m JOIN message_raw r ON r.message_id = m.id").fetchall()
            stored = {q: bytes(r) for q, r in rows}
            self.assertEqual(len(stored), len(rows))
            missing = [q for q in acked if q not in stored]
            self.assertFalse(missing, "%d acknowledged messages lost" % len(missing))
            for q, body in acked.items():
                self.assertEqual(stored[q], body, q)
            bodies = [r for _, r in rows]
            self.assertEqual(len(set(bodies)), len(bodies), "a message was stored twice")
            # And the restarted server still accepts mail.
            with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
                s.sendmail("a@b.test", ["support@mx.test"], b"Subject: after restart\r\n\r\nx\r\n")
            counters = dict(line.split()[:2] for line in metrics.decode().splitlines()
                            if line.startswith("postroom_spool_"))
            transactions = float(counters["postroom_spool_transactions_total"])
            committed = float(counters["postroom_spool_messages_total"])
            # Group commit: 16 concurrent senders share transactions.
            self.assertLess(transactions, committed * 0.8, counters)
            print("\ncrash test: %d acknowledged before kill -9, %d stored, all intact; "
                  "group commit: %d messages in %d transactions" % (len(acked), len(rows), committed, transactions))
        finally:
            server.cleanup()


    def test_kill9_between_spool_and_processing(self):
        """Messages spooled but not processed when the server dies are each threaded
        exactly once after the restart."""
        server = Server(env={"POSTROOM_PROCESSING_PAUSED": "true"}).start()
        try:
            with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
                for i in range(60):
                    # Every third message replies to the one before it: threading must hold.
                    headers = "From: c%d@customer.test\r\nSubject: spooled %d\r\nMessage-ID: <sp-%d@customer.test>\r\n" % (i // 3, i, i)
                    if i % 3:
                        headers += "In-Reply-To: <sp-%d@customer.test>\r\n" % (i - 1)
                    s.sendmail("c%d@customer.test" % (i // 3), ["support@mx.test"], (headers + "\r\nbody %d\r\n" % i).encode())
            db_path = os.path.join(server.data_dir, "postroom.sqlite")
            spooled = sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM message WHERE state = 'spooled'").fetchone()[0]
            self.assertEqual(spooled, 60)
            server.kill9()

            server.env.pop("POSTROOM_PROCESSING_PAUSED")
            server.start()
            server.wait_processed()
            db = sqlite3.connect(db_path)
            per_message = db.execute("SELECT m.id, COUNT(e.id) FROM message m LEFT JOIN entry e ON e.message_id = m.id GROUP BY m.id").fetchall()
            self.assertEqual(len(per_message), 60)
            self.assertTrue(all(n == 1 for _, n in per_message), per_message)
            conversations = db.execute("SELECT COUNT(*) FROM conversation").fetchone()[0]
            self.assertEqual(conversations, 20)

            # Now kill -9 while the processor is busy, and restart again.
            server.env["POSTROOM_PROCESSING_PAUSED"] = "false"
            with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
                for i in range(60, 400):
                    s.sendmail("x@customer.test", ["support@mx.test"],
                               ("From: x@customer.test\r\nSubject: busy %d\r\nMessage-ID: <busy-%d@customer.test>\r\n\r\nb\r\n" % (i, i)).encode())
            server.kill9()
            server.start()
            server.wait_processed()
            per_message = db.execute("SELECT m.id, COUNT(e.id) FROM message m LEFT JOIN entry e ON e.message_id = m.id GROUP BY m.id").fetchall()
            self.assertEqual(len(per_message), 400)
            self.assertTrue(all(n == 1 for _, n in per_message))
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
