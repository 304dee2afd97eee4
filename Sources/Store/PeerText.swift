/// Text a remote server chose (an IMAP or SMTP greeting, a reply, an error) as it may be
/// shown in a status, the API or a log line: control characters replaced and at most
/// `limit` characters, so a hostile banner cannot fill the status or forge log lines.
public enum PeerText {
    public static func excerpt(_ text: String, limit: Int = 300) -> String {
        var out = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out.append("…")
                break
            }
            out.append(scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) ? " " : scalar)
            count += 1
        }
        return String(out)
    }
}
