#!/usr/bin/env python3
"""Sends COUNT realistic messages to a Postroom SMTP port for the processing benchmark:
many senders, two thirds of the messages replying to the sender's previous one (by
In-Reply-To/References), some with a ticket-like subject, all with unique Message-IDs.

usage: send_messages.py PORT COUNT START [RCPT]
"""
import os
import smtplib
import sys

port, count, start = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rcpt = sys.argv[4] if len(sys.argv) > 4 else "support@bench.test"
SENDERS = int(os.environ.get("BENCH_SENDERS", "5000"))
BODY = ("Hello team,\r\n\r\nThe order placed last week has not arrived yet. Could you look into it?\r\n\r\n"
        "Thanks,\r\nA customer\r\n\r\nOn Mon, 1 Jan 2024, Support <support@bench.test> wrote:\r\n> We are on it.\r\n")

conn = None
for n in range(start, start + count):
    if conn is None or (n - start) % 2000 == 0:
        if conn is not None:
            conn.quit()
        conn = smtplib.SMTP("127.0.0.1", port)
        conn.ehlo("bench.client.test")
    sender = "customer%d@example.test" % (n % SENDERS)
    headers = [
        "From: Customer %d <%s>" % (n % SENDERS, sender),
        "To: Support <%s>" % rcpt,
        "Subject: %sOrder %d is late" % ("Re: " if n >= SENDERS and n % 3 else "", n % SENDERS),
        "Message-ID: <bench-%d@example.test>" % n,
        "Date: Mon, 1 Jan 2024 10:00:00 +0000",
    ]
    if n >= SENDERS and n % 3:
        previous = n - SENDERS
        headers.append("In-Reply-To: <bench-%d@example.test>" % previous)
        headers.append("References: <bench-%d@example.test>" % previous)
    conn.sendmail(sender, [rcpt], ("\r\n".join(headers) + "\r\n\r\n" + BODY).encode())
if conn is not None:
    conn.quit()
