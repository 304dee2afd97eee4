import XCTest

@testable import SMTPProtocol

/// Drives the pure state machine with bytes, as a client would, and checks replies.
final class StateMachineTests: XCTestCase {
    let directory = RecipientDirectory(addresses: ["support@example.com": 1, "sales@example.com": 2, "help-7f3k@fallback.test": 1])

    func makeMachine(_ adjust: (inout SMTPServerStateMachine.Configuration) -> Void = { _ in }) -> SMTPServerStateMachine {
        var configuration = SMTPServerStateMachine.Configuration(hostname: "mx.test", tlsAvailable: true)
        adjust(&configuration)
        return SMTPServerStateMachine(configuration: configuration, directory: directory)
    }

    func send(_ machine: inout SMTPServerStateMachine, _ text: String) -> [SMTPServerStateMachine.Action] {
        machine.receive(Array(text.utf8))
    }

    func replies(_ actions: [SMTPServerStateMachine.Action]) -> [String] {
        actions.compactMap { if case .reply(let r) = $0 { return "\(r.code) \(r.enhanced ?? "-")" } else { return nil } }
    }

    func delivered(_ actions: [SMTPServerStateMachine.Action]) -> SMTPTransaction? {
        for action in actions { if case .deliver(let t) = action { return t } }
        return nil
    }

    func testGreetingAndEHLOAdvertiseEveryExtension() {
        var m = makeMachine()
        XCTAssertEqual(m.start(), [.reply(SMTPReply(220, nil, "mx.test ESMTP Postroom"))])
        let actions = send(&m, "EHLO client.test\r\n")
        guard case .reply(let reply) = actions.first else { return XCTFail() }
        XCTAssertEqual(reply.code, 250)
        for keyword in ["PIPELINING", "SIZE 26214400", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING"] {
            XCTAssertTrue(reply.lines.contains(keyword), keyword)
        }
        XCTAssertEqual(String(decoding: reply.wire, as: UTF8.self).components(separatedBy: "\r\n").last, "")
        XCTAssertTrue(String(decoding: reply.wire, as: UTF8.self).hasSuffix("250 CHUNKING\r\n"))
    }

    func testFullTransactionDeliversExactBytes() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\n")
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test>\r\n")), ["250 2.1.0"])
        XCTAssertEqual(replies(send(&m, "RCPT TO:<Support@Example.COM>\r\n")), ["250 2.1.5"])
        XCTAssertEqual(replies(send(&m, "DATA\r\n")), ["354 -"])
        let actions = send(&m, "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n")
        let t = delivered(actions)
        XCTAssertEqual(t.map { String(decoding: $0.body, as: UTF8.self) }, "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n")
        XCTAssertEqual(t?.recipients.first?.inboxID, 1)
        XCTAssertEqual(t?.protocolName, "ESMTP")
        XCTAssertTrue(m.isAwaitingDelivery)
        XCTAssertEqual(replies(m.deliveryCompleted(.accepted(queueID: "Q1"))), ["250 2.0.0"])
    }

    func testPipelinedCommandsWaitForTheSpool() {
        var m = makeMachine()
        let actions = send(&m, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<sales@example.com>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n")
        XCTAssertEqual(replies(actions), ["250 -", "250 2.1.0", "250 2.1.5", "354 -"])
        XCTAssertNotNil(delivered(actions))
        let after = m.deliveryCompleted(.accepted(queueID: "Q"))
        XCTAssertEqual(replies(after), ["250 2.0.0", "221 2.0.0"])
        XCTAssertEqual(after.last, .close)
    }

    func testByteByByteFeedingGivesTheSameMessage() {
        let script = "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nA: b\r\n\r\n.x\r\n..\r\nend\r\n.\r\n"
        var whole = makeMachine()
        let expected = delivered(whole.receive(Array(script.utf8)))!.body
        var piecewise = makeMachine()
        var got: SMTPTransaction?
        for byte in script.utf8 {
            if let t = delivered(piecewise.receive([byte])) { got = t }
        }
        XCTAssertEqual(got?.body, expected)
        XCTAssertEqual(String(decoding: expected, as: UTF8.self), "A: b\r\n\r\nx\r\n.\r\nend\r\n")
    }

    func testRelayAndUnknownUser() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\n")
        XCTAssertEqual(replies(send(&m, "RCPT TO:<nobody@example.com>\r\n")), ["550 5.1.1"])
        XCTAssertEqual(replies(send(&m, "RCPT TO:<support@elsewhere.test>\r\n")), ["554 5.7.1"])
        XCTAssertEqual(replies(send(&m, "RCPT TO:<support@example.com.evil.test>\r\n")), ["554 5.7.1"])
        XCTAssertEqual(replies(send(&m, "RCPT TO:<@relay.test:support@example.com>\r\n")), ["250 2.1.5"])
        XCTAssertEqual(replies(send(&m, "RCPT TO:<support%elsewhere.test@example.com>\r\n")), ["550 5.1.1"])
    }

    func testSubaddressKeepsTag() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\n")
        XCTAssertEqual(replies(send(&m, "RCPT TO:<support+Billing@EXAMPLE.com>\r\n")), ["250 2.1.5"])
        let t = delivered(send(&m, "DATA\r\nx\r\n.\r\n"))
        XCTAssertEqual(t?.recipients.first?.canonical, "support@example.com")
        XCTAssertEqual(t?.recipients.first?.tag, "Billing")
    }

    func testSequenceErrors() {
        var m = makeMachine()
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test>\r\n")), ["503 5.5.1"])
        _ = send(&m, "HELO c\r\n")
        XCTAssertEqual(replies(send(&m, "RCPT TO:<support@example.com>\r\n")), ["503 5.5.1"])
        XCTAssertEqual(replies(send(&m, "DATA\r\n")), ["503 5.5.1"])
        _ = send(&m, "MAIL FROM:<a@b.test>\r\n")
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test>\r\n")), ["503 5.5.1"])
        XCTAssertEqual(replies(send(&m, "DATA\r\n")), ["554 5.5.1"])
        XCTAssertEqual(replies(send(&m, "RSET\r\nNOOP\r\nVRFY x\r\nHELP\r\nFOO\r\n")), ["250 2.0.0", "250 2.0.0", "252 2.0.0", "214 2.0.0", "500 5.5.2"])
    }

    func testBareLFAndBareCRInCommandsAreRefused() {
        var m = makeMachine()
        XCTAssertEqual(replies(send(&m, "EHLO c\n")), ["550 5.5.2"])
        XCTAssertEqual(replies(send(&m, "EHLO c\rMAIL FROM:<a@b.test>\r\n")), ["550 5.5.2"])
        XCTAssertEqual(m.heloName, nil)
    }

    /// Each smuggling variant: the injected second message never becomes a message;
    /// the whole DATA is refused and the session continues after the real end.
    func testSmugglingVariantsAreRefusedWhole() {
        for ending in ["\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n"] {
            var m = makeMachine()
            _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
            let actions = send(
                &m,
                "Subject: one\r\n\r\nfirst\(ending)MAIL FROM:<evil@x.test>\r\nRCPT TO:<sales@example.com>\r\nDATA\r\nsmuggled\r\n.\r\nNOOP\r\n")
            XCTAssertNil(delivered(actions), "ending \(ending.debugDescription)")
            XCTAssertEqual(replies(actions), ["550 5.5.2", "250 2.0.0"], "ending \(ending.debugDescription)")
        }
    }

    func testCRLFDotCRLFInsideLineIsNotTheEnd() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
        XCTAssertNil(delivered(send(&m, "a .\r\nb.\r\n .\r\n")))
        let t = delivered(send(&m, ".\r\n"))
        XCTAssertEqual(t.map { String(decoding: $0.body, as: UTF8.self) }, "a .\r\nb.\r\n .\r\n")
    }

    func testEmptyMessage() {
        var m = makeMachine()
        let t = delivered(send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n.\r\n"))
        XCTAssertEqual(t?.body, [])
    }

    func testStartTLSDiscardsPipelinedInput() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\n")
        let actions = send(&m, "STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<support@example.com>\r\n")
        XCTAssertEqual(actions, [.reply(.readyForTLS), .startTLS])
        XCTAssertTrue(m.tlsActive)
        XCTAssertNil(m.heloName)
        // After the handshake the client must say EHLO again; the injected MAIL is gone.
        XCTAssertEqual(replies(send(&m, "RCPT TO:<support@example.com>\r\n")), ["503 5.5.1"])
        let ehlo = send(&m, "EHLO c\r\n")
        guard case .reply(let reply) = ehlo.first else { return XCTFail() }
        XCTAssertFalse(reply.lines.contains("STARTTLS"))
        _ = send(&m, "MAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\n")
        XCTAssertEqual(delivered(send(&m, "DATA\r\nx\r\n.\r\n"))?.protocolName, "ESMTPS")
    }

    func testTLSRequired() {
        var m = makeMachine { $0.tlsRequired = true }
        _ = send(&m, "EHLO c\r\n")
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test>\r\n")), ["530 5.7.0"])
    }

    func testBDATChunksAndLast() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\n")
        XCTAssertEqual(replies(send(&m, "BDAT 8\r\nA: b\r\n\r\n")), ["250 2.0.0"])
        let actions = send(&m, "BDAT 7 LAST\r\n.body\r\nNOOP\r\n")
        XCTAssertEqual(delivered(actions).map { String(decoding: $0.body, as: UTF8.self) }, "A: b\r\n\r\n.body\r\n")
        XCTAssertEqual(replies(m.deliveryCompleted(.accepted(queueID: "Q"))), ["250 2.0.0", "250 2.0.0"])
    }

    func testBDATWithoutTransactionConsumesTheChunk() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\n")
        // The chunk's bytes look like commands; they must be swallowed, not run.
        XCTAssertEqual(replies(send(&m, "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n")), ["503 5.5.1", "250 2.0.0"])
        XCTAssertFalse(m.isClosed)
    }

    func testBDATBareLFIsRefused() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\n")
        XCTAssertEqual(replies(send(&m, "BDAT 4 LAST\r\na\nb\n")), ["550 5.5.2"])
    }

    func testMessageSizeLimitWithAndWithoutSIZE() {
        var m = makeMachine { $0.limits.messageSize = 100 }
        _ = send(&m, "EHLO c\r\n")
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test> SIZE=101\r\n")), ["552 5.3.4"])
        _ = send(&m, "MAIL FROM:<a@b.test> SIZE=50\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
        let big = String(repeating: "0123456789abcdefghi\r\n", count: 20)
        let actions = send(&m, big + ".\r\n")
        XCTAssertNil(delivered(actions))
        XCTAssertEqual(replies(actions), ["552 5.3.4"])
        XCTAssertLessThanOrEqual(m.input.capacity, 4096)
    }

    func testBDATSizeLimit() {
        var m = makeMachine { $0.limits.messageSize = 10 }
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\n")
        XCTAssertEqual(replies(send(&m, "BDAT 12 LAST\r\n0123456789\r\n")), ["552 5.3.4"])
    }

    func testTextLineLimit() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
        XCTAssertEqual(replies(send(&m, String(repeating: "x", count: 998) + "\r\n.\r\n")).count, 0)
        XCTAssertNotNil(m.isAwaitingDelivery ? true : nil)
        _ = m.deliveryCompleted(.accepted(queueID: "Q"))
        _ = send(&m, "MAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
        XCTAssertEqual(replies(send(&m, String(repeating: "x", count: 999) + "\r\n.\r\n")), ["550 5.6.0"])
    }

    func testCommandLineLimitAndEndlessLine() {
        var m = makeMachine()
        XCTAssertEqual(replies(send(&m, "NOOP " + String(repeating: "x", count: 600) + "\r\n")), ["500 5.5.6"])
        // An endless line: one reply, and the buffer never grows past the limit.
        var total: [String] = []
        for _ in 0..<1000 {
            total += replies(send(&m, String(repeating: "y", count: 1000)))
            XCTAssertLessThanOrEqual(m.input.count, 2000)
        }
        XCTAssertEqual(total, ["500 5.5.6"])
        XCTAssertEqual(replies(send(&m, "\r\nNOOP\r\n")), ["250 2.0.0"])
    }

    func testRecipientLimit() {
        var m = makeMachine { $0.limits.recipients = 2 }
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\n")
        XCTAssertEqual(
            replies(send(&m, "RCPT TO:<support@example.com>\r\nRCPT TO:<sales@example.com>\r\nRCPT TO:<help-7f3k@fallback.test>\r\n")),
            ["250 2.1.5", "250 2.1.5", "452 4.5.3"])
    }

    func testErrorLimitCloses() {
        var m = makeMachine { $0.limits.errors = 3 }
        let actions = send(&m, "A\r\nB\r\nC\r\nNOOP\r\n")
        XCTAssertEqual(replies(actions), ["500 5.5.2", "500 5.5.2", "500 5.5.2", "421 4.7.0"])
        XCTAssertEqual(actions.last, .close)
        XCTAssertTrue(m.isClosed)
    }

    func testSMTPUTF8() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\n")
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή>\r\n")), ["553 5.6.7"])
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8 BODY=8BITMIME\r\n")), ["250 2.1.0"])
        _ = send(&m, "RCPT TO:<support@example.com>\r\n")
        let t = delivered(send(&m, "DATA\r\nSubject: ünïcode\r\n\r\n.\r\n"))
        XCTAssertEqual(t?.protocolName, "UTF8SMTP")
        XCTAssertEqual(t?.bodyType, "8BITMIME")
    }

    func testUnsupportedParameters() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\n")
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n")), ["555 5.5.4"])
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test> FOO=1\r\n")), ["555 5.5.4"])
        _ = send(&m, "MAIL FROM:<a@b.test>\r\n")
        XCTAssertEqual(replies(send(&m, "RCPT TO:<support@example.com> NOTIFY=NEVER\r\n")), ["555 5.5.4"])
    }

    func testSpoolFailureIsTemporary() {
        var m = makeMachine()
        _ = send(&m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nx\r\n.\r\n")
        XCTAssertEqual(replies(m.deliveryCompleted(.failed(.spoolUnavailable))), ["451 4.3.0"])
        XCTAssertEqual(replies(send(&m, "MAIL FROM:<a@b.test>\r\n")), ["250 2.1.0"])
    }

    func testTerminate() {
        var m = makeMachine()
        XCTAssertEqual(m.terminate(with: .idleTimeout), [.reply(.idleTimeout), .close])
        XCTAssertEqual(send(&m, "NOOP\r\n"), [])
    }
}
