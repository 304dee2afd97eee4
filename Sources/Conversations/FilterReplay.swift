import Foundation
import GRDB
import Sieve
import Store

/// `postroom filters apply`: runs the current rules over mail already stored in an
/// inbox and shows, or makes, the changes. Only what changes the stored view is
/// applied (fileinto, flags, discard, vnd.postroom); reject, redirect and vacation
/// belong to delivery time and are reported but not acted on.
public struct FilterReplay: Sendable {
    public struct Change: Sendable, Codable {
        public var messageId: Int64
        public var conversationId: Int64
        public var subject: String?
        public var actions: [String]
        public var skipped: [String]
    }

    let store: Store
    let filters: FilterSet

    public init(store: Store, filters: FilterSet) {
        self.store = store
        self.filters = filters
    }

    public func run(inbox slug: String, since: Int64?, dryRun: Bool) async throws -> [Change] {
        let rows = try await store.database.read { db -> [Row] in
            guard let inbox = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw RequestError.notFound("no inbox with slug '\(slug)'")
            }
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT e.id AS entry_id, e.conversation_id, e.inbox_id, m.id, (SELECT raw FROM message_raw r WHERE r.message_id = m.id) AS raw, m.reverse_path, m.subject, m.automatic,
                           (SELECT address FROM message_recipient r WHERE r.message_id = m.id AND r.inbox_id = e.inbox_id ORDER BY position LIMIT 1) AS rcpt
                    FROM entry e JOIN message m ON m.id = e.message_id
                    WHERE e.inbox_id = ? AND m.received_at >= ? ORDER BY m.id
                    """, arguments: [inbox, since ?? 0])
        }
        var changes: [Change] = []
        for row in rows {
            let raw: Data = row["raw"]
            let message = SieveMessage(raw: Array(raw), envelopeFrom: row["reverse_path"], envelopeTo: row["rcpt"] ?? "")
            guard let result = filters.evaluate(inbox: slug, message: message) else { continue }
            var decision = FilterDecision(result)
            var described: [String] = []
            var skipped: [String] = []
            decision.actions = decision.actions.filter { action in
                switch action {
                case .reject, .redirect, .vacation:
                    skipped.append(Self.describe(action))
                    return false
                default:
                    described.append(Self.describe(action))
                    return true
                }
            }
            if decision.implicitKeep && decision.implicitKeepFlags.isEmpty && described.isEmpty { continue }
            if !decision.implicitKeepFlags.isEmpty && decision.implicitKeep { described.append("keep with flags \(decision.implicitKeepFlags.joined(separator: " "))") }
            changes.append(Change(messageId: row["id"], conversationId: row["conversation_id"], subject: row["subject"], actions: described, skipped: skipped))
            if !dryRun {
                let entry: Int64 = row["entry_id"], conversation: Int64 = row["conversation_id"], inbox: Int64 = row["inbox_id"]
                let messageID: Int64 = row["id"], sender: String = row["reverse_path"], automatic: String? = row["automatic"]
                let apply = decision
                try await store.database.write { db in
                    try FilterActions.apply(
                        apply, message: messageID, entry: entry, conversation: conversation, isNew: false, inbox: inbox, sender: sender,
                        automatic: automatic, db)
                }
            }
        }
        return changes
    }

    static func describe(_ action: SieveAction) -> String {
        switch action {
        case .keep(let flags): return flags.isEmpty ? "keep" : "keep with flags \(flags.joined(separator: " "))"
        case .fileinto(let mailbox, let flags, _, _): return "fileinto \"\(mailbox)\"" + (flags.isEmpty ? "" : " with flags \(flags.joined(separator: " "))")
        case .redirect(let address, _): return "redirect to \(address)"
        case .reject(let reason, _): return "reject: \(reason)"
        case .discard: return "discard"
        case .vacation: return "vacation"
        case .postroom(let p): return "postroom: \(p)"
        }
    }
}
