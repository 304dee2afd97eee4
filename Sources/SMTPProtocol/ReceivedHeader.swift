/// Builds the trace header (RFC 5321 4.4) the spool stores beside each message.
public enum ReceivedHeader {
    public static func make(
        heloName: String, clientIP: String, hostname: String, protocolName: String,
        queueID: String, recipients: [SMTPRecipient], unixTime: Int64
    ) -> String {
        let helo = heloName.isEmpty ? "unknown" : sanitize(heloName)
        var header = "Received: from \(helo) ([\(clientIP)])\r\n\tby \(hostname) (Postroom) with \(protocolName) id \(queueID)"
        if recipients.count == 1 {
            header += "\r\n\tfor <\(sanitize(recipients[0].address.description))>"
        }
        header += "; \(rfc5322Date(unixTime))\r\n"
        return header
    }

    /// Keeps client-supplied text from breaking the header (no CR, LF, or controls).
    static func sanitize(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
    }

    static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Wed, 25 Nov 2026 07:49:16 +0000` for a Unix time, in UTC.
    public static func rfc5322Date(_ unixTime: Int64) -> String {
        let secondsOfDay = Int((unixTime % 86400 + 86400) % 86400)
        let dayNumber = Int((unixTime - Int64(secondsOfDay)) / 86400)
        // Civil-from-days (Howard Hinnant's algorithm).
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = days[((dayNumber % 7) + 7) % 7]
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekday), \(day) \(months[month - 1]) \(year) \(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60)) +0000"
    }
}
