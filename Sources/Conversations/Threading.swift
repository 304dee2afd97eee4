/// What the store knows that bears on threading one message into one inbox.
///
/// `ThreadingFacts.gather` (in MessageProcessor+Facts) fills it with queries;
/// `Threading.decide` turns it into a decision without touching the store, so every
/// rule (references, reply token, ticket tag, the stranger rule, DMARC, duplicates)
/// is tested table-style on plain values.
struct ThreadingFacts: Sendable, Equatable {
    /// An earlier message of this inbox that this one repeats (the one duplicate rule:
    /// same Message-ID, or without one the same body from the same sender within a day).
    var duplicate: Duplicate?
    /// A delivery report about mail we sent, and the conversation (in this inbox) of the
    /// message it reports on.
    var bounce: Bounce?
    /// The message's own header fields, as parsed.
    var inReplyTo: [String] = []
    var references: [String] = []
    /// Referenced Message-IDs filed in this inbox, and the conversation of each.
    var knownReferences: [String: Int64] = [:]
    /// The inbox threads on references and ticket tags whoever sends them.
    var trustReferences = false
    /// The From address, if the message has one.
    var sender: String?
    /// Conversations (of those the message names) in which the sender takes part, after
    /// merges; in imported history, every named conversation when the sender is one of
    /// our own addresses (a team reply).
    var senderTakesPartIn: Set<Int64> = []
    /// Why the From domain failed DMARC, when it did: references from such a sender are
    /// not believed.
    var dmarcFailure: String?
    /// What each envelope recipient's +tag says.
    var tokens: [Token] = []
    /// The subject's ticket tag `[#n]`, and the conversation of that ticket in this inbox.
    var ticket: Ticket?

    struct Duplicate: Sendable, Equatable {
        var original: Int64
        var reason: String
    }

    struct Bounce: Sendable, Equatable {
        var originalMessageID: String
        var conversation: Int64
    }

    enum Token: Sendable, Equatable {
        /// A validly signed token naming a conversation; `sameInbox` when that
        /// conversation belongs to this inbox.
        case conversation(tag: String, id: Int64, sameInbox: Bool)
        /// Shaped like a token, but its signature is wrong.
        case badSignature(tag: String)
    }

    struct Ticket: Sendable, Equatable {
        var number: Int64
        /// nil when no ticket of this inbox has that number.
        var conversation: Int64?
    }
}

/// The pure threading decision.
enum Threading {
    /// What becomes of one message in one inbox.
    enum Outcome: Sendable, Equatable {
        /// Recorded as a duplicate delivery of `original`; no entry.
        case duplicate(original: Int64, reason: String)
        /// Filed as an entry by this decision.
        case file(Decision)
    }

    struct Decision: Sendable, Equatable {
        /// The conversation to join; nil for a new one.
        var conversationID: Int64?
        var rule: ThreadRule
        /// Why, in words the API shows.
        var detail: String
        /// For a new conversation started by an untrusted reference: the one it named.
        var linkedTo: Int64?
    }

    /// Duplicate, then our bounce, then In-Reply-To/References (newest first), reply
    /// token, ticket tag, else new. A reference or tag from someone who does not take
    /// part in the conversation (or whose From fails DMARC) starts a new conversation
    /// linked to the one it named.
    static func decide(_ facts: ThreadingFacts) -> Outcome {
        if let duplicate = facts.duplicate { return .duplicate(original: duplicate.original, reason: duplicate.reason) }
        if let bounce = facts.bounce {
            return .file(Decision(conversationID: bounce.conversation, rule: .bounce, detail: "delivery report for <\(bounce.originalMessageID)>"))
        }
        var notes: [String] = []
        var untrusted: Decision?
        let sender = facts.sender ?? "the sender"
        func believed(_ conversation: Int64) -> Bool {
            facts.trustReferences || facts.senderTakesPartIn.contains(conversation)
        }

        // 1. In-Reply-To, then References from the newest.
        let ids = facts.inReplyTo + facts.references.reversed()
        if let id = ids.first(where: { facts.knownReferences[$0] != nil }), let conversation = facts.knownReferences[id] {
            let detail = "\(facts.inReplyTo.contains(id) ? "In-Reply-To" : "References") <\(id)>"
            if let failure = facts.dmarcFailure {
                untrusted = Decision(
                    rule: .linked, detail: "\(detail) names conversation \(conversation), but the From domain fails DMARC (\(failure))", linkedTo: conversation)
            } else if believed(conversation) {
                return .file(Decision(conversationID: conversation, rule: .references, detail: detail))
            } else {
                untrusted = Decision(rule: .linked, detail: "\(detail) names conversation \(conversation), but \(sender) is not a participant", linkedTo: conversation)
            }
        }
        // 2. A signed reply token in an envelope recipient.
        for token in facts.tokens {
            switch token {
            case .conversation(let tag, let id, sameInbox: true):
                return .file(Decision(conversationID: id, rule: .token, detail: "reply token +\(tag)"))
            case .conversation(let tag, _, sameInbox: false):
                notes.append("reply token +\(tag) names a conversation of another inbox")
            case .badSignature(let tag):
                notes.append("reply token +\(tag) has a bad signature and was ignored")
            }
        }
        // 3. The ticket tag in the subject.
        if untrusted == nil, let ticket = facts.ticket, let conversation = ticket.conversation {
            if believed(conversation) {
                return .file(Decision(conversationID: conversation, rule: .ticketTag, detail: "subject tag [#\(ticket.number)]"))
            }
            untrusted = Decision(
                rule: .linked, detail: "subject tag [#\(ticket.number)] names conversation \(conversation), but \(sender) is not a participant",
                linkedTo: conversation)
        }
        if var untrusted {
            if !notes.isEmpty { untrusted.detail += "; " + notes.joined(separator: "; ") }
            return .file(untrusted)
        }
        return .file(Decision(rule: .new, detail: notes.isEmpty ? "no reference, token or ticket tag matched" : notes.joined(separator: "; ")))
    }
}
