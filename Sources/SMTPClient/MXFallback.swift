import SMTPProtocol

/// RFC 5321 5.1 over a domain's mail hosts, as a plain value: which recipients the next
/// host is offered, which answers are final at once (delivered, refused) and which wait
/// for the next host (temporary), and what every recipient's outcome is once the hosts
/// run out. `SMTPClient.deliverDirect` drives it with real hosts; the tests drive it
/// with answers alone.
struct MXFallback {
    let domain: String
    /// Recipients per transaction.
    let recipients: [[String]]
    /// Per transaction, the recipients no host has given a final answer for yet.
    private(set) var open: [Int: [String]]
    /// The last temporary answer each open recipient got.
    private(set) var temporary: [Int: [String: RecipientOutcome]] = [:]
    /// Hosts skipped because they are internal addresses.
    private(set) var refused: [String] = []
    private(set) var tried = false

    init(domain: String, recipients: [[String]]) {
        self.domain = domain
        self.recipients = recipients
        self.open = Dictionary(uniqueKeysWithValues: recipients.indices.map { ($0, recipients[$0]) })
    }

    /// Transactions that still have open recipients, in order.
    var remaining: [Int] { open.keys.sorted() }

    /// A host that may not be reached (an internal address).
    mutating func skip(_ host: String) { refused.append(host) }

    /// What to offer the next host: each remaining transaction with its open recipients;
    /// nil when every recipient has a final answer.
    mutating func nextAttempt() -> [(index: Int, recipients: [String])]? {
        let indices = remaining
        guard !indices.isEmpty else { return nil }
        tried = true
        return indices.map { ($0, open[$0] ?? []) }
    }

    /// Of a host's answers for one transaction, those to record at once.
    static func final(_ outcomes: [String: RecipientOutcome]) -> [String: RecipientOutcome] {
        outcomes.filter { if case .temporaryFailure = $0.value { false } else { true } }
    }

    /// A host's answers for transaction `index`: temporary ones keep the recipient open.
    mutating func record(_ index: Int, _ outcomes: [String: RecipientOutcome]) {
        let answers = outcomes.filter { if case .temporaryFailure = $0.value { true } else { false } }
        temporary[index] = answers
        open[index] = answers.isEmpty ? nil : recipients[index].filter { answers[$0] != nil }
    }

    /// Once the hosts run out: every open recipient's outcome (its last temporary
    /// answer, or "unreachable"); every recipient fails for good when every host was
    /// internal.
    func conclusion() -> [(index: Int, outcomes: [String: RecipientOutcome])] {
        if !refused.isEmpty && !tried {
            let outcome = RecipientOutcome.permanentFailure(
                SMTPReply(550, "5.4.4", "\(domain): mail host \(refused.joined(separator: ", ")) is an internal address (outbound.allow-internal-mx)"))
            return recipients.indices.map { i in (i, Dictionary(recipients[i].map { ($0, outcome) }, uniquingKeysWith: { a, _ in a })) }
        }
        let unreachable = RecipientOutcome.temporaryFailure(SMTPReply(451, "4.4.1", "\(domain): no mail host could be reached"))
        return remaining.map { i in
            let answers = temporary[i] ?? [:]
            return (i, Dictionary((open[i] ?? []).map { ($0, answers[$0] ?? unreachable) }, uniquingKeysWith: { a, _ in a }))
        }
    }
}
