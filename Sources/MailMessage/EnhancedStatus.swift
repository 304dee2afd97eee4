/// RFC 3463 enhanced status codes (`class.subject.detail`).
public enum EnhancedStatus {
    /// The one rule for a hard bounce, the kind that suppresses an address: a
    /// permanent failure about the recipient's address itself (5.1.x: bad mailbox, bad
    /// domain, ...; 5.2.1: mailbox disabled). 5.1.7 and 5.1.8 are about the sender's
    /// address, policy refusals (5.7.x), full mailboxes (5.2.2) and anything temporary
    /// suppress nothing. Used for delivery reports and for what our
    /// own SMTP client is told.
    public static func isHardBounce(_ status: String) -> Bool {
        let parts = status.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "5", parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else {
            return false
        }
        return (parts[1] == "1" && parts[2] != "7" && parts[2] != "8") || (parts[1] == "2" && parts[2] == "1")
    }
}
