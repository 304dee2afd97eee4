import Foundation
import GRDB

/// A stored message's envelope and metadata, without its bytes.
public struct MessageSummary: Sendable, Codable, Equatable {
    public struct Recipient: Sendable, Codable, Equatable {
        public var address: String
        public var inbox: String
        public var inboxAddress: String
        public var tag: String?
    }

    public var id: Int64
    public var queueId: String
    public var receivedAt: String
    public var channel: String
    public var from: String
    public var recipients: [Recipient]
    public var clientIp: String
    public var helo: String
    public var `protocol`: String
    public var tls: Bool
    public var smtputf8: Bool
    public var bodyType: String?
    public var size: Int
    public var state: String
    public var subject: String?
    /// Sender authentication's verdict: verified, forwarded or unverified; nil when the
    /// message was not checked (IMAP, import, our own mail, auth.enabled false).
    public var verified: String?
}

/// A message with its headers and trace header, as `messages show` and the API give it.
public struct MessageDetail: Sendable, Codable, Equatable {
    public struct Header: Sendable, Codable, Equatable {
        public var name: String
        public var value: String
    }

    public var message: MessageSummary
    public var receivedHeader: String
    public var headers: [Header]
    /// SPF, DKIM (each signature with its domain and selector), DMARC, ARC and the
    /// verdict, as checked before the 250.
    public var authentication: JSONValue?
}

/// Where a message stands in processing, for filtering lists (`?state=`, `--state`).
public enum ProcessingState: String, CaseIterable, Sendable, Codable {
    /// Accepted (durable, answered 250) and not yet processed: the backlog.
    case spooled
    /// Filed into conversations.
    case processed
    /// Not filed: the same message was already filed in each of its inboxes.
    case duplicate
    /// Processed, but set aside for a person to look at (its state says processed).
    case quarantined

    var condition: String {
        switch self {
        case .spooled: "m.state = 'spooled'"
        case .processed: "m.state = 'processed' AND m.quarantine_reason IS NULL"
        case .duplicate: "m.state = 'duplicate'"
        case .quarantined: "m.state = 'processed' AND m.quarantine_reason IS NOT NULL"
        }
    }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension Store {
    /// Newest first. `inbox` filters by slug, `state` by processing state; `beforeID` pages.
    public func listMessages(inbox: String? = nil, state: ProcessingState? = nil, limit: Int = 100, beforeID: Int64? = nil) async throws
        -> [MessageSummary]
    {
        try await database.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let state { conditions.append(state.condition) }
            if let inbox {
                guard let inboxID = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [inbox]) else {
                    throw StoreError.inboxNotFound(inbox)
                }
                conditions.append("m.id IN (SELECT message_id FROM message_recipient WHERE inbox_id = ?)")
                arguments += [inboxID]
            }
            if let beforeID {
                conditions.append("m.id < ?")
                arguments += [beforeID]
            }
            let whereSQL = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            arguments += [limit]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, m.queue_id, m.received_at, m.channel, m.reverse_path, m.client_ip, m.helo, m.protocol,
                           m.tls, m.smtputf8, m.body_type, m.size, m.state, m.auth_verdict,
                           (SELECT substr(r.raw, 1, 16384) FROM message_raw r WHERE r.message_id = m.id) AS head
                    FROM message m \(whereSQL) ORDER BY m.id DESC LIMIT ?
                    """, arguments: arguments)
            let recipients = try Self.recipients(of: rows.map { $0["id"] as Int64 }, db)
            return rows.map { Self.summary($0, recipients: recipients[$0["id"] as Int64] ?? []) }
        }
    }

    public func messageCount() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message") ?? 0 }
    }

    /// Looks a message up by row id or queue id.
    public func message(_ reference: String) async throws -> MessageDetail {
        try await database.read { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT m.id, m.queue_id, m.received_at, m.channel, m.reverse_path, m.client_ip, m.helo, m.protocol,
                           m.tls, m.smtputf8, m.body_type, m.size, m.state, m.received_header, m.auth_verdict, m.auth_results, r.raw AS head
                    FROM message m JOIN message_raw r ON r.message_id = m.id WHERE m.id = ? OR m.queue_id = ?
                    """, arguments: [Int64(reference) ?? -1, reference])
            else { throw StoreError.messageNotFound(reference) }
            let id: Int64 = row["id"]
            let summary = Self.summary(row, recipients: try Self.recipients(of: [id], db)[id] ?? [])
            let head: Data = row["head"]
            let headers = HeaderReader.headers(in: head).map { MessageDetail.Header(name: $0.name, value: $0.value) }
            return MessageDetail(
                message: summary, receivedHeader: row["received_header"], headers: headers, authentication: JSONValue.parse(row["auth_results"]))
        }
    }

    /// The bytes exactly as received (no Received header added).
    public func rawMessage(_ reference: String) async throws -> (queueID: String, receivedHeader: String, raw: Data) {
        try await database.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT m.queue_id, m.received_header, r.raw FROM message m JOIN message_raw r ON r.message_id = m.id WHERE m.id = ? OR m.queue_id = ?",
                arguments: [Int64(reference) ?? -1, reference])
            else { throw StoreError.messageNotFound(reference) }
            return (row["queue_id"], row["received_header"], row["raw"])
        }
    }

    /// Recipients of many messages in one query.
    static func recipients(of ids: [Int64], _ db: Database) throws -> [Int64: [MessageSummary.Recipient]] {
        var result: [Int64: [MessageSummary.Recipient]] = [:]
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + 500)])
            start += chunk.count
            try recipients(of: chunk, db, into: &result)
        }
        return result
    }

    static func recipients(of ids: [Int64], _ db: Database, into result: inout [Int64: [MessageSummary.Recipient]]) throws {
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT r.message_id, r.address, r.canonical, r.tag, i.slug FROM message_recipient r
                JOIN inbox i ON i.id = r.inbox_id WHERE r.message_id IN (\(placeholders)) ORDER BY r.message_id, r.position
                """, arguments: StatementArguments(ids))
        {
            result[row["message_id"], default: []].append(
                MessageSummary.Recipient(address: row["address"], inbox: row["slug"], inboxAddress: row["canonical"], tag: row["tag"]))
        }
    }

    static func summary(_ row: Row, recipients: [MessageSummary.Recipient]) -> MessageSummary {
        let id: Int64 = row["id"]
        let head: Data = row["head"] ?? Data()
        let subject = HeaderReader.headers(in: head).first { $0.name.lowercased() == "subject" }?.value
        let receivedAt: Int64 = row["received_at"]
        return MessageSummary(
            id: id, queueId: row["queue_id"], receivedAt: iso8601(millis: receivedAt), channel: row["channel"],
            from: row["reverse_path"], recipients: recipients, clientIp: row["client_ip"], helo: row["helo"],
            protocol: row["protocol"], tls: row["tls"], smtputf8: row["smtputf8"], bodyType: row["body_type"],
            size: row["size"], state: row["state"], subject: subject, verified: row["auth_verdict"])
    }

    static func iso8601(millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

/// Reads the header section of a raw message well enough to list and show it.
/// The full RFC 5322/MIME parser is the MailMessage module's job (issue #3); this only
/// unfolds lines and never fails.
enum HeaderReader {
    static func headers(in raw: Data) -> [(name: String, value: String)] {
        // Split on LF bytes: "\r\n" is one Character in Swift, so String splitting would miss it.
        var lines: [Substring] = []
        for lineBytes in raw.prefix(256 * 1024).split(separator: 0x0A, omittingEmptySubsequences: false) {
            let trimmed = lineBytes.last == 0x0D ? lineBytes.dropLast() : lineBytes
            if trimmed.isEmpty { break }
            lines.append(Substring(String(decoding: trimmed, as: UTF8.self)))
        }
        var result: [(String, String)] = []
        var current: (String, String)?
        for line in lines {
            if line.first == " " || line.first == "\t" {
                if current != nil { current!.1 += " " + line.trimmingCharacters(in: .whitespaces) }
                continue
            }
            if let current { result.append(current) }
            if let colon = line.firstIndex(of: ":") {
                current = (
                    String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                )
            } else {
                current = nil
            }
        }
        if let current { result.append(current) }
        return result
    }
}
