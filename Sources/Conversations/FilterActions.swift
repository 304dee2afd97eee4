import Foundation
import GRDB
import MailMessage
import Outbound
import Sieve
import Store

/// What Sieve actions mean in Postroom, carried out when a message is filed:
/// keep files as usual; fileinto "Spam"/"Junk" marks the conversation spam, "Trash"
/// closes it with the Trash label, other mailboxes become labels; \Seen and \Flagged
/// mark it read and starred, other flags become labels; discard files the message
/// hidden (visible through the API as discarded); redirect and vacation are recorded
/// for outbound; editheader edits are kept with the entry; vnd.postroom assigns, sets
/// priority or comments.
enum FilterActions {
    static func apply(
        _ decision: FilterDecision, message: Int64, entry: Int64, conversation: Int64, isNew: Bool, inbox: Int64, sender: String,
        automatic: String?, toAndCc: [String]? = nil, autoMail: AutoMail? = nil, senderTrusted: Bool = true, _ db: Database
    ) throws {
        let now = Store.nowMillis()
        var labels: [String] = []
        var flags: [String] = decision.implicitKeep ? decision.implicitKeepFlags : []
        for action in decision.actions {
            switch action {
            case .keep(let f):
                flags += f
            case .fileinto(let mailbox, let f, _, _):
                flags += f
                switch mailbox.lowercased() {
                case "spam", "junk":
                    try db.run("UPDATE conversation SET status = 'spam' WHERE id = ?", [conversation])
                    try Store.recordEvent(conversation, kind: "status", author: nil, body: "spam (filter: fileinto \"\(mailbox)\")", db)
                case "trash":
                    labels.append("Trash")
                    try db.run("UPDATE conversation SET status = 'closed' WHERE id = ?", [conversation])
                    try Store.recordEvent(conversation, kind: "status", author: nil, body: "trashed (filter: fileinto \"\(mailbox)\")", db)
                default:
                    labels.append(mailbox)
                }
            case .discard:
                break
            case .redirect(let address, _):
                try db.run("INSERT INTO redirect_request (message_id, inbox_id, address, created_at) VALUES (?, ?, ?, ?)", [message, inbox, address, now])
                if let autoMail, let raw = try Data.fetchOne(db.cachedStatement(sql: "SELECT raw FROM message_raw WHERE message_id = ?"), arguments: [message]) {
                    try autoMail.redirect(raw: Array(raw), to: address, envelopeFrom: try autoMail.inboxSender(inbox, db).address, db)
                    try db.run("UPDATE redirect_request SET state = 'queued' WHERE message_id = ? AND address = ?", [message, address])
                }
            case .vacation(let v):
                // RFC 5230 4.5: only when the inbox (or one of :addresses) is in To/Cc.
                if let toAndCc, try !AutoMail.addressedTo(inbox: inbox, toAndCc: toAndCc, extra: v.addresses + (v.from.map { [$0] } ?? []), db) {
                    break
                }
                // Never to a sender that did not pass authentication (backscatter).
                guard senderTrusted else { break }
                if try recordVacation(v, message: message, inbox: inbox, sender: sender, automatic: automatic, now: now, db), let autoMail {
                    let original = try Row.fetchOne(db.cachedStatement(sql: "SELECT subject, header_message_id FROM message WHERE id = ?"), arguments: [message])
                    let messageID: String? = original?["header_message_id"]
                    var from = try autoMail.inboxSender(inbox, db)
                    if let custom = v.from { from = MailAddress(name: nil, address: custom) }
                    try autoMail.send(
                        kind: .vacation, from: from, to: sender, subject: v.subject ?? "Auto: \(original?["subject"] as String? ?? "")", text: v.reason,
                        inReplyTo: messageID, references: messageID.map { [$0] } ?? [], conversation: conversation, inbox: inbox, db)
                    try db.run("UPDATE vacation_request SET state = 'queued' WHERE message_id = ? AND inbox_id = ?", [message, inbox])
                }
            case .reject:
                break  // answered in the SMTP dialogue; never stored
            case .postroom(let p):
                try applyPostroom(p, conversation: conversation, db)
            }
        }
        if decision.isDiscarded {
            try db.run("UPDATE entry SET discarded = 1 WHERE id = ?", [entry])
            if isNew { try db.run("UPDATE conversation SET hidden = 1, status = 'closed' WHERE id = ?", [conversation]) }
        }
        for flag in flags {
            switch flag.lowercased() {
            case "\\seen": try db.run("UPDATE conversation SET read = 1 WHERE id = ?", [conversation])
            case "\\flagged": try db.run("UPDATE conversation SET starred = 1 WHERE id = ?", [conversation])
            default: labels.append(flag)
            }
        }
        for label in Set(labels) {
            try db.run("INSERT OR IGNORE INTO conversation_label (conversation_id, label) VALUES (?, ?)", [conversation, label])
        }
        if !decision.headerEdits.isEmpty {
            let json = String(decoding: try JSONEncoder().encode(decision.headerEdits), as: UTF8.self)
            try db.run("UPDATE entry SET header_edits = ? WHERE id = ?", [json, entry])
        }
    }

    /// At most one reply per sender per period (:days, default 7, or :seconds), never
    /// to automatic mail, lists or the null reverse path (RFC 5230 4.5, RFC 3834).
    @discardableResult
    static func recordVacation(
        _ v: SieveAction.Vacation, message: Int64, inbox: Int64, sender: String, automatic: String?, now: Int64, _ db: Database
    ) throws -> Bool {
        let recipient = sender.lowercased()
        guard automatic == nil, !recipient.isEmpty else { return false }
        if try SuppressionPolicy.isSuppressed(recipient, db) { return false }
        let period = periodMillis(days: v.days, seconds: v.seconds)
        let handle = v.handle ?? (v.reason + (v.subject ?? "") + (v.from ?? ""))
        if try Int.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM vacation_request WHERE inbox_id = ? AND recipient = ? AND handle = ? AND created_at > ?"),
            arguments: [inbox, recipient, handle, now - period]) != nil
        {
            return false
        }
        try db.run("INSERT INTO vacation_request (message_id, inbox_id, recipient, subject, from_address, reason, handle, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [message, inbox, recipient, v.subject, v.from, v.reason, handle, now])
        return true
    }

    /// RFC 5230 4.1: the period is bounded (here 1 second to 365 days, default 7 days);
    /// a huge `:days` once overflowed this arithmetic.
    static func periodMillis(days: Int?, seconds: Int?) -> Int64 {
        if let seconds { return min(max(Int64(clamping: seconds), 1), 365 * 86400) * 1000 }
        return min(max(Int64(clamping: days ?? 7), 1), 365) * 86400 * 1000
    }

    static func applyPostroom(_ action: SieveAction.PostroomAction, conversation: Int64, _ db: Database) throws {
        switch action {
        case .assignUser(let who):
            let lower = who.lowercased()
            if let user = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM user WHERE email = ? OR lower(name) = ? LIMIT 1"), arguments: [lower, lower]) {
                try db.run("UPDATE conversation SET assignee_user_id = ? WHERE id = ?", [user, conversation])
                try Store.recordEvent(conversation, kind: "assignment", author: nil, body: "assigned to user \(user) (filter)", db)
            }
        case .assignTeam(let name):
            if let team = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM team WHERE lower(name) = ?"), arguments: [name.lowercased()]) {
                try db.run("UPDATE conversation SET assignee_team_id = ? WHERE id = ?", [team, conversation])
                try Store.recordEvent(conversation, kind: "assignment", author: nil, body: "assigned to team \(team) (filter)", db)
            }
        case .priority(let priority):
            try db.run("UPDATE ticket SET priority = ? WHERE conversation_id = ?", [priority, conversation])
        case .noTicket:
            break
        case .comment(let text):
            try Store.recordEvent(conversation, kind: "comment", author: nil, body: text, db)
        }
    }
}
