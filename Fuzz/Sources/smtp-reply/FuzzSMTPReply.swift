// Replies from a relay, as SMTPClient reads them: SMTPReplyParser fed in pieces of
// random size (multi-line replies split anywhere, many `250-` lines), and each reply
// used as the client uses it: the code decides success (< 400) or a permanent
// failure (>= 500), the EHLO lines become keywords, the reply is logged.
//
// Input layout (see Fuzz/README.md):
//   byte 0   piece seed: 0 = the whole stream in one read, else pieces of 1...64 octets
//   rest     what the server sends
import FuzzSupport
import SMTPProtocol

func fuzzOne(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    let seed = input.byte()
    var parser = SMTPReplyParser()
    var replies: [SMTPReply] = []
    for piece in Pieces(input.rest(), seed: seed) {
        do {
            replies += try parser.feed(piece)
        } catch {
            // The client gives up on the relay ("sent a malformed reply").
            blackHole("\(error)")
            break
        }
    }
    for reply in replies {
        // A reply code is three digits, 2xx to 5xx (RFC 5321 4.2): the client's
        // `code < 400` test must not see -25 or +99.
        invariant((100...999).contains(reply.code), "reply code \(reply.code) is not three digits")
        let positive = reply.code < 400
        let permanent = reply.code >= 500
        blackHole((positive, permanent, reply.description, reply.wire))
        // EHLO: keywords from every line after the first.
        let keywords = Set(reply.lines.dropFirst().map { $0.uppercased() })
        let auth = keywords.first { $0.hasPrefix("AUTH ") } ?? ""
        blackHole((auth.split(separator: " "), keywords.contains { $0.hasPrefix("SIZE") }, keywords.contains("STARTTLS")))
        if let enhanced = reply.enhanced {
            invariant(enhanced.split(separator: ".").count == 3, "enhanced code '\(enhanced)'")
        }
    }
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
