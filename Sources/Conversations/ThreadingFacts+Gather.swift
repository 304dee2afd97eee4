import GRDB
import Outbound
import Store

extension ThreadingFacts {
    /// The queries: everything `Threading.decide` needs about one message in one inbox.
    /// A duplicate ends the gathering (nothing else matters for it).
    static func gather(
        _ m: MessageProcessor.Prepared, inbox: Int64, tags: [String], ours: Set<String>, token: ReplyToken, _ db: Database
    ) throws -> ThreadingFacts {
        var facts = ThreadingFacts()
        if let duplicate = try duplicate(of: m, inbox: inbox, db) {
            facts.duplicate = duplicate
            return facts
        }
        if let report = m.deliveryReport, let original = report.originalMessageID, try MessageProcessor.ourBouncedMessage(m, token: token, db) != nil,
            let conversation = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT conversation_id FROM message_id_index WHERE inbox_id = ? AND header_message_id = ?"), arguments: [inbox, original])
        {
            facts.bounce = Bounce(originalMessageID: original, conversation: conversation)
            return facts
        }
        facts.trustReferences = m.pending.inboxes[inbox]?.trustReferences ?? false
        facts.sender = m.fromAddress
        facts.inReplyTo = m.inReplyTo
        facts.references = m.references
        if m.pending.dmarcFailed { facts.dmarcFailure = m.pending.authentication?.dmarc.reason ?? "" }
        let ids = m.inReplyTo + m.references
        if !ids.isEmpty {
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
            for row in try Row.fetchAll(
                db,
                sql: "SELECT header_message_id, conversation_id FROM message_id_index WHERE inbox_id = ? AND header_message_id IN (\(placeholders))",
                arguments: StatementArguments([inbox] as [Int64]) + StatementArguments(ids))
            {
                facts.knownReferences[row["header_message_id"]] = row["conversation_id"]
            }
        }
        for tag in tags {
            if let conversation = token.conversationID(fromTag: tag) {
                let owner = try Int64.fetchOne(db.cachedStatement(sql: "SELECT inbox_id FROM conversation WHERE id = ?"), arguments: [conversation])
                facts.tokens.append(.conversation(tag: tag, id: conversation, sameInbox: owner == inbox))
            } else if ReplyToken.looksLikeToken(tag) {
                facts.tokens.append(.badSignature(tag: tag))
            }
        }
        if let number = SubjectTag.ticketNumber(in: m.subject) {
            let conversation = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT t.conversation_id FROM ticket t JOIN conversation c ON c.id = t.conversation_id WHERE t.number = ? AND c.inbox_id = ?"),
                arguments: [number, inbox])
            facts.ticket = Ticket(number: number, conversation: conversation)
        }
        // Whether the sender takes part, for every conversation the message names (an
        // inbox that trusts references never asks).
        if !facts.trustReferences, let from = m.fromAddress {
            var named = Set(facts.knownReferences.values)
            if let conversation = facts.ticket?.conversation { named.insert(conversation) }
            // A team reply found in imported history (sent from one of our addresses).
            let teamReply = m.pending.channel == "import" && Store.isOwn(from, ours)
            for conversation in named {
                if try teamReply
                    || Bool.fetchOne(
                        db.cachedStatement(sql: "SELECT 1 FROM conversation_participant WHERE conversation_id = ? AND email = ?"),
                        arguments: [try MessageProcessor.resolveMerged(conversation, db), from]) ?? false
                {
                    facts.senderTakesPartIn.insert(conversation)
                }
            }
        }
        return facts
    }

    /// The one duplicate rule: the same Message-ID already filed in this inbox, or
    /// (without a Message-ID) the same body from the same sender within a day.
    static func duplicate(of m: MessageProcessor.Prepared, inbox: Int64, _ db: Database) throws -> Duplicate? {
        if let hmid = m.headerMessageID {
            if let id = try Int64.fetchOne(
                db.cachedStatement(
                    sql: "SELECT message_id FROM message_id_index WHERE inbox_id = ? AND header_message_id = ? AND message_id IS NOT NULL AND message_id != ?"),
                arguments: [inbox, hmid, m.pending.id])
            {
                return Duplicate(original: id, reason: "same Message-ID <\(hmid)>")
            }
            return nil
        }
        guard let from = m.fromAddress else { return nil }
        if let id = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT m.id FROM message m JOIN entry e ON e.message_id = m.id AND e.inbox_id = ?
                    WHERE m.from_address = ? AND m.body_hash = ? AND m.id != ? AND m.received_at >= ? LIMIT 1
                    """),
            arguments: [inbox, from, m.bodyHash, m.pending.id, m.pending.receivedAt - 86_400_000])
        {
            return Duplicate(original: id, reason: "no Message-ID; same body from \(from) within a day")
        }
        return nil
    }
}
