import Foundation
import XCTest

@testable import MailMessage

/// Runs the parser over every message in the shared corpus (POSTROOM_CORPUS_DIR):
/// none may crash, and the parts a person sees must come out as a mail program shows
/// them for the messages listed in `expectations`.
final class CorpusTests: XCTestCase {
    static var corpusDir: String? {
        if let dir = ProcessInfo.processInfo.environment["POSTROOM_CORPUS_DIR"], FileManager.default.fileExists(atPath: dir) {
            return dir
        }
        return nil
    }

    static func files(_ dir: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: dir)
        var result: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".eml") || !path.contains(".") && !path.hasSuffix("LICENSE") {
                var isDir: ObjCBool = false
                FileManager.default.fileExists(atPath: dir + "/" + path, isDirectory: &isDir)
                if !isDir.boolValue { result.append(path) }
            }
        }
        return result.sorted()
    }

    func load(_ relative: String) throws -> [UInt8] {
        guard let dir = Self.corpusDir else { throw XCTSkip("POSTROOM_CORPUS_DIR not set: corpus tests not run") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + relative)))
    }

    func testEveryCorpusFileParses() throws {
        guard let dir = Self.corpusDir else { throw XCTSkip("POSTROOM_CORPUS_DIR not set: corpus tests not run") }
        let files = Self.files(dir)
        XCTAssertGreaterThan(files.count, 90)
        var dump = ""
        for file in files {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file)))
            let m = MailParser.parse(bytes)
            dump += "== \(file)\nsubject: \(m.subject ?? "-")\nfrom: \(m.from.map(\.description))\nto: \(m.to.map(\.description))\n"
            dump += "date: \(m.date.map(String.init) ?? "-") id: \(m.messageID ?? "-") irt: \(m.inReplyTo) refs: \(m.references.count)\n"
            dump += "attachments: \(m.attachments.map { "\($0.filename ?? "?")|\($0.contentType)|\($0.size)|\($0.inline)" })\n"
            dump += "warnings: \(m.warnings)\ntext: \(m.text.prefix(160).debugDescription)\nquoted: \((m.quotedText ?? "").prefix(60).debugDescription)\n"
        }
        if let out = ProcessInfo.processInfo.environment["POSTROOM_CORPUS_DUMP"] {
            try dump.write(toFile: out, atomically: true, encoding: .utf8)
        }
    }
}

/// What a mail program shows for 40 corpus messages: subject, sender, the start of the
/// visible text (or nil for none), and attachment names.
struct Expectation {
    var file: String
    var subject: String?
    var from: String?
    var text: String?
    var attachments: [String] = []
    var quoted: String? = nil
}

extension CorpusTests {
    static let expectations: [Expectation] = [
        .init(file: "attachment_emails/attachment_content_disposition.eml", subject: "testing", from: "foo@example.com", text: "This is the first part.", attachments: ["api.rb"]),
        .init(file: "attachment_emails/attachment_message_rfc822.eml", subject: "testing", from: "foo@example.com", text: "This is the first part.", attachments: ["ForwardedMessage.eml"]),
        .init(file: "attachment_emails/attachment_nonascii_filename.eml", subject: "testing", from: "foo@example.com", text: "This is the first part.", attachments: ["ciële.txt"]),
        .init(file: "attachment_emails/attachment_only_email.eml", subject: "this message JUST contains an attachment", from: "rfinnie@domain.dom", text: nil, attachments: ["blah.gz"]),
        .init(file: "attachment_emails/attachment_pdf.eml", subject: "Another PDF with 🎉 Unicode chars in it 🍿", from: "xxxx@xxxx.com", text: "Just attaching another PDF", attachments: ["broken.pdf"]),
        .init(file: "attachment_emails/attachment_pdf_lf.eml", subject: "Another PDF with 🎉 Unicode chars in it 🍿", from: "xxxx@xxxx.com", text: "Just attaching another PDF", attachments: ["broken.pdf"]),
        .init(file: "attachment_emails/attachment_with_base64_encoded_name.eml", subject: "Fwd: Signed email causes file attachments", from: "xxxxxxxxx.xxxxxxx@gmail.com", text: "We should not include these files", attachments: ["This is a test.pdf"]),
        .init(file: "attachment_emails/attachment_with_quoted_filename.eml", subject: "Eelanalüüsi päring", from: "jeff@37signals.com", text: nil, attachments: ["Eelanalüüsi päring.jpg"]),
        .init(file: "attachment_emails/attachment_with_unquoted_name.eml", subject: "testing", from: "foo@example.com", text: "This is the first part.", attachments: ["This is a test.txt"]),
        .init(file: "error_emails/bad_subject.eml", subject: "MySurvey.com:  You have a survey waiting!  91123105", from: "carol@mysurvey.com", text: "You have a survey waiting!"),
        .init(file: "error_emails/cant_parse_from.eml", subject: "Meet the new MacBook Pro family. Now includes 13-inch.", from: "News@InsideApple.Apple.com", text: "From one solid piece of aluminum"),
        .init(file: "error_emails/content_transfer_encoding_qp_with_space.eml", subject: "Low or High Blood Pressure? We can help.", from: "fyouizjnp@swissonline.ch", text: "If you're in need of a good RX site"),
        .init(file: "error_emails/content_transfer_encoding_x_uuencode.eml", subject: "PGP Comments on RTO West Release of Dec. 14", from: "lpeters@PACIFIER.COM", text: "Attached are the comments of the Public Generating Pool.", attachments: ["PGP_Cmts_on_12-14-01_Pkg.doc"]),
        .init(file: "error_emails/encoding_madness.eml", subject: "eBay Bid - 2008 Ford Super Duty F-350 DRW King Ranch Crew Cab 4x4 (156) - Stock# XXXX", from: "no-reply@crm.el-example.org", text: "Body Text"),
        .init(file: "error_emails/header_fields_with_empty_values.eml", subject: "Testmail", from: "jorn@prikkprikkprikk.no", text: "--\nJørn Støylen"),
        .init(file: "error_emails/invalid_subject_characters.eml", subject: "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro", from: "info@formacaofrenetik.info", text: "TEST"),
        .init(file: "error_emails/multiple_content_types.eml", subject: "Redacted", from: "redacted@flashmail.net", text: "foo"),
        .init(file: "mime_emails/email_with_similar_boundaries.eml", subject: "Xxxxxx", from: "xxxxxx@xxxxxxxx.xxx", text: "Test", attachments: ["LOGO.png"]),
        .init(file: "mime_emails/raw_email7.eml", subject: "testing", from: "foo@example.com", text: "This is the first part.", attachments: ["test.rb", "test.pdf", "smime.p7s"]),
        .init(file: "mime_emails/raw_email_encoded_stack_level_too_deep.eml", subject: "Nicolas Fouché has accepted your invitation to Gmail", from: "gmail-noreply@google.com", text: "Nicolas Fouché has accepted your invitation"),
        .init(file: "mime_emails/raw_email_with_illegal_boundary.eml", subject: "Testing outlook", from: "email_test@me.nowhere", text: "Hello\nThis is an outlook test"),
        .init(file: "mime_emails/raw_email_with_multipart_mixed_quoted_boundary.eml", subject: "Testing outlook", from: "email_test@me.nowhere", text: "Just attaching another PDF", attachments: ["broken.pdf"]),
        .init(file: "mime_emails/raw_email_with_nested_attachment.eml", subject: "Testing attachments", from: "jamis@37signals.com", text: "Here is a test of an attachment via email.", attachments: ["truncated.png", "smime.p7s"]),
        .init(file: "mime_emails/sig_only_email.eml", subject: "Re: Testing multipart/signed", from: "test@test.lindsaar.net", text: "This is random text", attachments: ["signature.asc"]),
        .init(file: "multi_charset/japanese.eml", subject: "まみむめも", from: "raasdnil@gmail.com", text: "かきくえこ"),
        .init(file: "multi_charset/japanese_attachment.eml", subject: "testing", from: "raasdnil@gmail.com", text: "testing", attachments: ["てすと.txt"]),
        .init(file: "multi_charset/japanese_attachment_long_name.eml", subject: "まみむめもまみむめもまみむめもまみむめもまみむめもまみむめもまみむめもまみむめもまみむめもまみむめも", from: "mikel@test.lindsaar.net", text: nil, attachments: ["かきくけこかきくけこかきくけこかきくけこかきくけこ.txt"]),
        .init(file: "multi_charset/japanese_iso_2022.eml", subject: "まみむめも", from: "raasdnil@gmail.com", text: "すみません。"),
        .init(file: "multi_charset/japanese_shift_jis.eml", subject: "test", from: "xxxxxxx@docomo.ne.jp", text: "あいうえお\n\nこのメールはテスト用のメールです。"),
        .init(file: "multi_charset/ks_c_5601-1987.eml", subject: "test", from: "from@example.com", text: "스티해"),
        .init(file: "multipart_report_emails/multi_address_bounce1.eml", subject: "Undelivered Mail Returned to Sender", from: "MAILER-DAEMON@lvmail01.LL.com", text: "This is the mail system at host lvmail01.LL.com.", attachments: ["Test of bounce email.eml"]),
        .init(file: "multipart_report_emails/report_530.eml", subject: "Returned mail: see transcript for details", from: "MAILER-DAEMON@tttttt.com.au", text: "The original message was received at Mon, 24 Dec 2007 10:03:47 +1100"),
        .init(file: "plain_emails/basic_email.eml", subject: "Testing 123", from: "test@lindsaar.net", text: "Plain email.\n\nHope it works well!\n\nMikel"),
        .init(file: "plain_emails/basic_email_lf.eml", subject: "Testing 123", from: "test@lindsaar.net", text: "Plain email.\n\nHope it works well!\n\nMikel"),
        .init(file: "plain_emails/mix_caps_content_type.eml", subject: "undef method parameter bug", from: "bb@bug.com", text: "foo bar"),
        .init(file: "plain_emails/raw_email.eml", subject: "NOTE: 한국말로 하는 것", from: "jamis@37signals.com", text: "대부분의 마찬가지로, 우리는 하나님을 믿습니다."),
        .init(file: "plain_emails/raw_email5.eml", subject: nil, from: "xxx@xxxx.xxx", text: "Test test. Hi. Waving. m"),
        .init(file: "plain_emails/raw_email_reply.eml", subject: "Re: Test reply email", from: "xxxxxxxx@xxx.org", text: "Message body"),
        .init(file: "plain_emails/raw_email_with_partially_quoted_subject.eml", subject: "Re: Test: \"漢字\" mid \"漢字\" tail", from: "jamis@37signals.com", text: "대부분의"),
        .init(file: "rfc2822/example01.eml", subject: "Saying Hello", from: "jdoe@machine.example", text: "This is a message just to say hello.\nSo, \"Hello\"."),
        .init(file: "rfc2822/example06.eml", subject: "Re: Saying Hello", from: "mary@example.net", text: "This is a reply to your hello."),
        .init(file: "rfc2822/example10.eml", subject: nil, from: "pete@silly.test", text: "Testing."),
        .init(file: "rfc2822/example14.eml", subject: "Re: TEST \tテストテスト", from: "atsushi@example.com", text: "Hello"),
        .init(file: "rfc6532/utf8_headers.eml", subject: "Säying Hello", from: "jdöe@mächine.example", text: "body"),
    ]

    func testCorpusExpectations() throws {
        XCTAssertGreaterThanOrEqual(Self.expectations.count, 30)
        for e in Self.expectations {
            let m = MailParser.parse(try load("mikel-mail/" + e.file))
            XCTAssertEqual(m.subject, e.subject, e.file)
            XCTAssertEqual(m.from.first?.address, e.from, e.file)
            if let text = e.text {
                XCTAssertTrue(m.text.hasPrefix(text), "\(e.file): text \(m.text.prefix(80).debugDescription)")
            } else {
                XCTAssertEqual(m.text, "", e.file)
            }
            XCTAssertEqual(m.attachments.filter { !$0.inline }.compactMap(\.filename), e.attachments, e.file)
        }
    }

    func testCorpusDetails() throws {
        let bounce = MailParser.parse(try load("mikel-mail/multipart_report_emails/multi_address_bounce1.eml"))
        XCTAssertEqual(bounce.root.contentType.value, "multipart/report")
        XCTAssertEqual(bounce.root.contentType["report-type"], "delivery-status")
        let report = try XCTUnwrap(bounce.deliveryReport)
        XCTAssertEqual(report.recipients.first?.action, "failed")
        XCTAssertTrue(report.recipients.first?.status.hasPrefix("5") == true)
        XCTAssertNotNil(report.originalMessageID)
        let multiple = MailParser.parse(try load("mikel-mail/multipart_report_emails/multipart_report_multiple_status.eml"))
        XCTAssertGreaterThanOrEqual(multiple.deliveryReport?.recipients.count ?? 0, 1)
        let headersOnly = MailParser.parse(try load("mikel-mail/multipart_report_emails/report_530.eml"))
        XCTAssertNotNil(headersOnly.deliveryReport?.originalMessageID)
        XCTAssertNotNil(headersOnly.deliveryReport?.recipients.first?.diagnostic)
        let example3 = MailParser.parse(try load("mikel-mail/rfc2822/example03.eml"))
        XCTAssertEqual(example3.to.map(\.address), ["mary@x.test", "jdoe@example.org", "one@y.test"])
        XCTAssertEqual(example3.cc.map(\.address), ["boss@nil.test", "sysservices@example.net"])
        XCTAssertEqual(example3.cc.last?.name, "Giant; \"Big\" Box")
        let example4 = MailParser.parse(try load("mikel-mail/rfc2822/example04.eml"))
        XCTAssertEqual(example4.to.map(\.address), ["c@a.test", "joe@where.test", "jdoe@one.test"])
        XCTAssertEqual(example4.to.first?.group, "A Group")
        let reply = MailParser.parse(try load("mikel-mail/rfc2822/example07.eml"))
        XCTAssertEqual(reply.inReplyTo, ["3456@example.net"])
        XCTAssertEqual(reply.references, ["1234@local.machine.example", "3456@example.net"])
        let utf8 = MailParser.parse(try load("mikel-mail/rfc6532/utf8_headers.eml"))
        XCTAssertEqual(utf8.from.first?.name, "Jöhn Doe")
        let example1 = MailParser.parse(try load("mikel-mail/rfc2822/example01.eml"))
        XCTAssertEqual(example1.date, 880127706)
        let inline = MailParser.parse(try load("mikel-mail/attachment_emails/attachment_content_location.eml"))
        XCTAssertEqual(inline.attachments.first?.inline, true)
        XCTAssertNotNil(inline.attachments.first?.contentID)
    }
}
