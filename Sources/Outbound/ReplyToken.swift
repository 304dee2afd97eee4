import Crypto
import Store
import Foundation

/// The signed reply token Postroom's outbound mail carries in its Reply-To address
/// (`support+c42x1f2e3d4c5b6a@example.com`): a reply to that address threads into
/// conversation 42 even when the customer's mail program dropped In-Reply-To and
/// References. The HMAC makes a guessed or altered token worthless.
public struct ReplyToken: Sendable {
    let secret: [UInt8]

    public init(secret: [UInt8]) {
        self.secret = secret
    }

    /// Lower-case only: some mail systems lower-case local parts.
    public func tag(conversationID: Int64) -> String {
        "c\(conversationID)x\(mac(conversationID))"
    }

    /// The conversation a `+tag` names, if its signature is right.
    public func conversationID(fromTag tag: String) -> Int64? {
        let lower = tag.lowercased()
        guard lower.hasPrefix("c"), let x = lower.firstIndex(of: "x") else { return nil }
        guard let id = Int64(lower[lower.index(after: lower.startIndex)..<x]), id > 0 else { return nil }
        let given = Array(lower[lower.index(after: x)...].utf8)
        let expected = Array(mac(id).utf8)
        guard given.count == expected.count else { return nil }
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        return difference == 0 ? id : nil
    }

    /// Whether a tag looks like a reply token (signed or not): a forged one is noted.
    public static func looksLikeToken(_ tag: String) -> Bool {
        let lower = tag.lowercased()
        guard lower.hasPrefix("c"), let x = lower.firstIndex(of: "x") else { return false }
        return Int64(lower[lower.index(after: lower.startIndex)..<x]) != nil
    }

    func mac(_ id: Int64, purpose: String = "conversation") -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("\(purpose):\(id)".utf8), using: SymmetricKey(data: secret))
        return ContentHash.hex(code.prefix(8))
    }

    /// The tag of the signed return path (VERP) of one delivery (an outbound row: one
    /// message to one recipient): `support+b17x0a1b2c3d4e5f6a7b@example.com`. A
    /// delivery report sent to it is provably about that recipient of mail we sent;
    /// only such reports change the suppression list, and only for that recipient
    /// (another recipient of the same message cannot forge one about the first).
    public func bounceTag(deliveryID id: Int64) -> String {
        "b\(id)x\(mac(id, purpose: "bounce"))"
    }

    /// The delivery a bounce tag names, if its signature is right.
    public func deliveryID(fromBounceTag tag: String) -> Int64? {
        let lower = tag.lowercased()
        guard lower.hasPrefix("b"), let x = lower.firstIndex(of: "x"), lower.utf8.count <= 40 else { return nil }
        guard let id = Int64(lower[lower.index(after: lower.startIndex)..<x]), id > 0 else { return nil }
        let given = Array(lower[lower.index(after: x)...].utf8)
        let expected = Array(mac(id, purpose: "bounce").utf8)
        guard given.count == expected.count else { return nil }
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        return difference == 0 ? id : nil
    }

    /// `local+tag@domain`, the signed return path of delivery `id` of mail sent as
    /// `from`; `from` itself when the tag would push the local part past 64 octets
    /// (RFC 5321 4.5.3.1.1) or there is no address.
    public func returnPath(from: String, deliveryID id: Int64) -> String {
        guard let at = from.lastIndex(of: "@") else { return from }
        let local = from[..<at].split(separator: "+", maxSplits: 1).first.map(String.init) ?? String(from[..<at])
        let tagged = "\(local)+\(bounceTag(deliveryID: id))"
        guard tagged.utf8.count <= 64 else { return from }
        return tagged + from[at...]
    }

    /// Loads the secret from the data dir, creating it (0600) on first use.
    public static func loadOrCreateSecret(dataDir: String) throws -> [UInt8] {
        let path = (dataDir as NSString).appendingPathComponent("reply-token.key")
        if let data = FileManager.default.contents(atPath: path), data.count >= 32 {
            return Array(data)
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        return bytes
    }
}

/// `[#1234]` in a subject: the ticket number tag Postroom puts in its replies.
public enum SubjectTag {
    public static func ticketNumber(in subject: String?) -> Int64? {
        guard let subject else { return nil }
        // One pass over the bytes: `[#` repeated made a search per occurrence quadratic.
        let bytes = Array(subject.utf8)
        var i = 0
        while i + 1 < bytes.count {
            guard bytes[i] == UInt8(ascii: "["), bytes[i + 1] == UInt8(ascii: "#") else {
                i += 1
                continue
            }
            var j = i + 2
            var n: Int64 = 0
            while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39, j - i < 20 {
                n = n * 10 + Int64(bytes[j] - 0x30)
                j += 1
            }
            if j > i + 2, j < bytes.count, bytes[j] == UInt8(ascii: "]") { return n }
            i += 2
        }
        return nil
    }

    public static func tag(_ number: Int64) -> String { "[#\(number)]" }
}
