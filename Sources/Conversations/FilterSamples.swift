import Foundation
import GRDB
import Sieve
import Store

/// Mail an inbox really got, as filter trials run it: each message's bytes with the
/// envelope it had at delivery (reverse path, the recipient that made it this inbox's),
/// so `envelope` tests behave as they did then. Messages the filters discarded or the
/// sender checks quarantined count too: they are mail the inbox gets.
public struct StoredSample: Sendable, Codable, Equatable {
    public var messageId: Int64
    public var queueId: String
    public var subject: String?
    public var from: String?
    /// ISO 8601.
    public var receivedAt: String
    public var reversePath: String
    public var recipient: String
    /// Not part of the JSON: the message itself.
    public var raw: [UInt8] = []

    enum CodingKeys: String, CodingKey {
        case messageId, queueId, subject, from, receivedAt, reversePath, recipient
    }

    public var sieveMessage: SieveMessage {
        SieveMessage(raw: raw, envelopeFrom: reversePath, envelopeTo: recipient)
    }
}

public enum FilterSamples {
    /// The newest `limit` messages received for the inbox since `since` (ms), oldest
    /// first, without their bytes (`withRaw` reads them one at a time, so 10,000 large
    /// messages never sit in memory together). Throws `RequestError.notFound` for an
    /// unknown inbox.
    public static func stored(_ store: Store, inbox slug: String, since: Int64?, limit: Int) async throws -> [StoredSample] {
        try await store.database.read { db in
            guard let inbox = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw RequestError.notFound("no inbox with slug '\(slug)'")
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, m.queue_id, m.subject, m.from_address, m.received_at, m.reverse_path, r.address AS rcpt
                    FROM message m
                    JOIN message_recipient r ON r.message_id = m.id AND r.inbox_id = ?1
                        AND r.position = (SELECT MIN(position) FROM message_recipient x WHERE x.message_id = m.id AND x.inbox_id = ?1)
                    WHERE m.channel != 'outbound' AND m.received_at >= ?2
                    ORDER BY m.id DESC LIMIT ?3
                    """, arguments: [inbox, since ?? 0, limit])
            let formatter = ISO8601DateFormatter()
            return rows.reversed().map { row in
                let received: Int64 = row["received_at"]
                return StoredSample(
                    messageId: row["id"], queueId: row["queue_id"], subject: row["subject"], from: row["from_address"],
                    receivedAt: formatter.string(from: Date(timeIntervalSince1970: Double(received) / 1000)), reversePath: row["reverse_path"],
                    recipient: row["rcpt"])
            }
        }
    }

    /// The sample with its bytes (empty if the message is gone since it was listed).
    public static func withRaw(_ store: Store, _ sample: StoredSample) async throws -> StoredSample {
        var full = sample
        let raw = try await store.database.read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT raw FROM message_raw WHERE message_id = ?"), arguments: [sample.messageId])
        }
        full.raw = raw.map(Array.init) ?? []
        return full
    }
}
