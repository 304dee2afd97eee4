import Store

/// Message-IDs of the mail we send (replies, acknowledgements, notifications, vacation
/// replies), minted by the sending side from the time and 80 random bits: unique
/// without borrowing the spool's queue ids, and saying what the message is for.
enum MessageIDMint {
    static func new(purpose: String, hostname: String, now: Int64 = Store.nowMillis()) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<10).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "\(String(max(0, now), radix: 36)).\(ContentHash.hex(random)).\(purpose)@\(hostname)"
    }
}
