import SMTPProtocol
import XCTest

@testable import SMTPClient

/// The client session reply by reply, without a socket: what is sent next, what each
/// reply means for each recipient, STARTTLS and AUTH.
final class SMTPClientStateMachineTests: XCTestCase {
    typealias Machine = SMTPClientStateMachine

    static let ok = SMTPReply(250, "2.0.0", "ok")

    static func ehlo(_ keywords: String...) -> SMTPReply { SMTPReply(250, nil, ["mx.test"] + keywords) }

    func machine(
        _ envelopes: [Machine.Envelope], security: SMTPRelay.Security = .none, credentials: (user: String, password: String)? = nil
    ) -> Machine {
        Machine(envelopes: envelopes, heloName: "postroom.test", security: security, credentials: credentials, host: "mx.test")
    }

    static func envelope(_ recipients: [String], from: String = "inbox@ours.test", size: Int = 100, eightBit: Bool = false) -> Machine.Envelope {
        .init(from: from, recipients: recipients, size: size, eightBit: eightBit)
    }

    func testOneMessageWithoutExtensionsStepByStep() throws {
        var m = machine([Self.envelope(["a@x.test", "b@x.test"])])
        XCTAssertEqual(m.waiting, .greeting)
        XCTAssertEqual(try m.received(SMTPReply(220, nil, "mx.test ESMTP")), [.send("EHLO postroom.test\r\n")])
        XCTAssertEqual(try m.received(Self.ehlo()), [.send("MAIL FROM:<inbox@ours.test>\r\n")])
        XCTAssertEqual(m.waiting, .command("MAIL"))
        XCTAssertEqual(try m.received(Self.ok), [.send("RCPT TO:<a@x.test>\r\n")])
        XCTAssertEqual(try m.received(Self.ok), [.send("RCPT TO:<b@x.test>\r\n")])
        let refused = SMTPReply(550, "5.1.1", "no such user")
        XCTAssertEqual(try m.received(refused), [.send("DATA\r\n")])
        XCTAssertEqual(m.waiting, .dataInitiation)
        XCTAssertEqual(try m.received(SMTPReply(354, nil, "go ahead")), [.sendMessage(index: 0)])
        XCTAssertEqual(m.waiting, .dataTermination)
        let queued = SMTPReply(250, "2.0.0", "queued as X")
        XCTAssertEqual(
            try m.received(queued),
            [.outcome(index: 0, ["a@x.test": .delivered(queued), "b@x.test": .permanentFailure(refused)]), .quit])
        XCTAssertTrue(m.isFinished)
        XCTAssertThrowsError(try m.received(Self.ok))
    }

    func testPipeliningSendsMailAndEveryRcptAtOnce() throws {
        var m = machine([Self.envelope(["a@x.test", "b@x.test"], size: 4096)])
        _ = try m.received(SMTPReply(220, nil, "hi"))
        XCTAssertEqual(
            try m.received(Self.ehlo("PIPELINING", "SIZE 10000000")),
            [.send("MAIL FROM:<inbox@ours.test> SIZE=4096\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n")])
        XCTAssertEqual(try m.received(Self.ok), [])
        XCTAssertEqual(try m.received(SMTPReply(451, "4.3.0", "try later")), [])
        XCTAssertEqual(try m.received(Self.ok), [.send("DATA\r\n")])
    }

    func testARefusedMailFromFailsEveryRecipientAndTheNextMessageStartsWithRset() throws {
        var m = machine([Self.envelope(["a@x.test", "b@x.test"]), Self.envelope(["c@x.test"])])
        _ = try m.received(SMTPReply(220, nil, "hi"))
        _ = try m.received(Self.ehlo("PIPELINING"))
        let refused = SMTPReply(553, "5.7.1", "sender refused")
        XCTAssertEqual(try m.received(refused), [])
        XCTAssertEqual(try m.received(Self.ok), [])
        XCTAssertEqual(
            try m.received(Self.ok),
            [.outcome(index: 0, ["a@x.test": .permanentFailure(refused), "b@x.test": .permanentFailure(refused)]), .send("RSET\r\n")])
        XCTAssertEqual(try m.received(Self.ok), [.send("MAIL FROM:<inbox@ours.test>\r\nRCPT TO:<c@x.test>\r\n")])
    }

    func testWithoutPipeliningARefusedMailFromSendsNoRcpt() throws {
        var m = machine([Self.envelope(["a@x.test"])])
        _ = try m.received(SMTPReply(220, nil, "hi"))
        _ = try m.received(Self.ehlo())
        let deferred = SMTPReply(421, "4.7.0", "busy")
        XCTAssertEqual(try m.received(deferred), [.outcome(index: 0, ["a@x.test": .temporaryFailure(deferred)]), .quit])
    }

    func testA354RefusalFailsTheAcceptedRecipients() throws {
        var m = machine([Self.envelope(["a@x.test"])])
        _ = try m.received(SMTPReply(220, nil, "hi"))
        _ = try m.received(Self.ehlo())
        _ = try m.received(Self.ok)
        _ = try m.received(Self.ok)
        let refused = SMTPReply(554, "5.5.1", "no valid recipients")
        XCTAssertEqual(try m.received(refused), [.outcome(index: 0, ["a@x.test": .permanentFailure(refused)]), .quit])
    }

    func testExtensionParameters() throws {
        var m = machine([Self.envelope(["ü@x.test"], from: "inbox@ours.test", size: 10, eightBit: true)])
        _ = try m.received(SMTPReply(220, nil, "hi"))
        XCTAssertEqual(
            try m.received(Self.ehlo("SIZE", "SMTPUTF8", "8BITMIME")), [.send("MAIL FROM:<inbox@ours.test> SIZE=10 SMTPUTF8 BODY=8BITMIME\r\n")])
    }

    func testStartTLSThenEhloAgainWithTheNewKeywords() throws {
        var m = machine([Self.envelope(["a@x.test"])], security: .starttls)
        _ = try m.received(SMTPReply(220, nil, "hi"))
        XCTAssertEqual(try m.received(Self.ehlo("STARTTLS", "PIPELINING")), [.sendStartTLS])
        XCTAssertEqual(m.waiting, .command("STARTTLS"))
        XCTAssertEqual(try m.received(SMTPReply(220, "2.0.0", "ready")), [.handshake])
        XCTAssertEqual(m.waiting, .nothing)
        XCTAssertEqual(m.tlsEstablished(), [.send("EHLO postroom.test\r\n")])
        // Keywords from before TLS do not count: no PIPELINING now.
        XCTAssertEqual(try m.received(Self.ehlo()), [.send("MAIL FROM:<inbox@ours.test>\r\n")])
    }

    func testStartTLSWhereOfferedOnlyGoesOnInPlainText() throws {
        var m = machine([Self.envelope(["a@x.test"])], security: .starttls)
        _ = try m.received(SMTPReply(220, nil, "hi"))
        XCTAssertEqual(try m.received(Self.ehlo()), [.send("MAIL FROM:<inbox@ours.test>\r\n")])
    }

    func testRequiredStartTLSThatIsMissingOrRefusedEndsTheSession() throws {
        var missing = machine([Self.envelope(["a@x.test"])], security: .starttlsRequired)
        _ = try missing.received(SMTPReply(220, nil, "hi"))
        XCTAssertThrowsError(try missing.received(Self.ehlo())) { error in
            XCTAssertEqual((error as? SMTPClientError)?.permanent, false)
            XCTAssertEqual((error as? SMTPClientError)?.message, "mx.test does not offer STARTTLS, which is required")
        }
        var refused = machine([Self.envelope(["a@x.test"])], security: .starttlsRequired)
        _ = try refused.received(SMTPReply(220, nil, "hi"))
        _ = try refused.received(Self.ehlo("STARTTLS"))
        XCTAssertThrowsError(try refused.received(SMTPReply(454, "4.7.0", "TLS not available")))
    }

    func testAuthPlain() throws {
        var m = machine([Self.envelope(["a@x.test"])], credentials: ("user", "secret"))
        _ = try m.received(SMTPReply(220, nil, "hi"))
        XCTAssertEqual(try m.received(Self.ehlo("AUTH LOGIN PLAIN")), [.send("AUTH PLAIN AHVzZXIAc2VjcmV0\r\n")])
        XCTAssertEqual(try m.received(SMTPReply(235, "2.7.0", "ok")), [.send("MAIL FROM:<inbox@ours.test>\r\n")])
    }

    func testAuthLogin() throws {
        var m = machine([Self.envelope(["a@x.test"])], credentials: ("user", "secret"))
        _ = try m.received(SMTPReply(220, nil, "hi"))
        XCTAssertEqual(try m.received(Self.ehlo("AUTH LOGIN")), [.send("AUTH LOGIN\r\n")])
        XCTAssertEqual(try m.received(SMTPReply(334, nil, "VXNlcm5hbWU6")), [.send("dXNlcg==\r\n")])
        XCTAssertEqual(try m.received(SMTPReply(334, nil, "UGFzc3dvcmQ6")), [.send("c2VjcmV0\r\n")])
        XCTAssertThrowsError(try m.received(SMTPReply(535, "5.7.8", "bad credentials"))) { error in
            XCTAssertEqual((error as? SMTPClientError)?.permanent, true)
        }
    }

    func testCredentialsWithoutAUsableAuthMechanism() throws {
        var m = machine([Self.envelope(["a@x.test"])], credentials: ("user", "secret"))
        _ = try m.received(SMTPReply(220, nil, "hi"))
        XCTAssertThrowsError(try m.received(Self.ehlo("AUTH CRAM-MD5")))
    }

    func testARefusingGreetingIsPermanentAndABusyOneTemporary() {
        var refusing = machine([Self.envelope(["a@x.test"])])
        XCTAssertThrowsError(try refusing.received(SMTPReply(554, "5.7.1", "go away"))) {
            XCTAssertEqual(($0 as? SMTPClientError)?.permanent, true)
            // The recipients' outcome keeps the server's code and status, typed.
            XCTAssertEqual(($0 as? SMTPClientError)?.reply, SMTPReply(554, "5.0.0", "greeting: 554 5.7.1 go away"))
        }
        var busy = machine([Self.envelope(["a@x.test"])])
        XCTAssertThrowsError(try busy.received(SMTPReply(421, "4.3.2", "busy"))) { XCTAssertEqual(($0 as? SMTPClientError)?.permanent, false) }
    }
}
