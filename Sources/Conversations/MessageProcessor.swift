import Foundation
import GRDB
import Logging
import MailAuth
import Metrics
import MailMessage
import Outbound
import Sieve
import Store
import Synchronization

/// Which rule filed a message into its conversation; the API shows it.
public enum ThreadRule: String, Sendable, Codable {
    /// In-Reply-To or References named a message of a conversation in this inbox.
    case references
    /// The recipient address carried a valid signed reply token.
    case token
    /// The subject carried the conversation's ticket tag `[#n]`.
    case ticketTag = "ticket-tag"
    /// Nothing matched: a new conversation.
    case new
    /// A reference or tag matched, but the sender is not a participant of that
    /// conversation (and the inbox does not trust references): a new conversation,
    /// linked to the one it referenced.
    case linked
    /// Processing failed; filed alone for a person to look at.
    case unparsed
    /// An agent split the message out of its conversation.
    case split
    /// A delivery status notification about a message of the conversation.
    case bounce
    /// A reply an agent sent from Postroom.
    case outbound
}

/// Turns spooled messages into conversation entries: parse, detect duplicates and
/// automatic mail, thread per inbox (by the envelope recipient), file contacts and
/// tickets. Each message is filed in the same transaction that marks it processed,
/// so processing is idempotent and a crash leaves it spooled, to be filed exactly
/// once at the next start.
public final class MessageProcessor: Sendable {
    let store: Store
    let token: ReplyToken
    let logger: Logger
    /// Acknowledgements, notifications, vacation replies and redirects; nil where
    /// nothing may be sent (CLI tools).
    public let autoMail: AutoMail?

    /// Longest one message's parsing may take before it is quarantined (and the rest
    /// of the spool flows on without it).
    public let budget: Duration
    /// auth.dmarc-reject: what DMARC fail under p=reject does in an inbox that does not say.
    public var dmarcRejectDefault: String {
        get { dmarcDefault.withLock { $0 } }
        set { dmarcDefault.withLock { $0 = newValue } }
    }
    let dmarcDefault = Mutex("spam")
    /// import.status: imported history arrives closed (it was answered back then) or open.
    public var historyStatus: String {
        get { historyDefault.withLock { $0 } }
        set { historyDefault.withLock { $0 = newValue } }
    }
    let historyDefault = Mutex("closed")
    /// processing.defer-under-intake: while intake is under a burst, filing waits (the
    /// cores go to the SMTP sessions and the spool), but never lets a message wait longer
    /// than this; zero: never defers.
    public var deferUnderIntake: Duration {
        get { deferral.withLock { $0 } }
        set { deferral.withLock { $0 = newValue } }
    }
    let deferral = Mutex(Duration.seconds(10))
    let processedCounter = Counter(label: "postroom_messages_processed_total")
    let latency = Metrics.Timer(label: "postroom_processing_latency_seconds")

    public init(
        store: Store, token: ReplyToken, autoMail: AutoMail? = nil, budget: Duration = .seconds(30), logger: Logger = Logger(label: "postroom.processor")
    ) {
        self.store = store
        self.token = token
        self.autoMail = autoMail
        self.budget = budget
        self.logger = logger
    }

    struct Pending: Sendable {
        var id: Int64
        var raw: [UInt8]
        var reversePath: String
        var receivedAt: Int64
        var recipients: [(inboxID: Int64, tag: String?)]
        /// Every inbox's settings, read by the filing transaction once (filing looked each
        /// up again per message, four statements), so a setting changed by an operator
        /// applies to everything filed after the change.
        var inboxes: [Int64: InboxSettings] = [:]
        var filterResults: String?
        /// "smtp", "import", ...: imported history is the operator's own, so the team's
        /// replies in it thread like the team's replies do.
        var channel: String = "smtp"
        /// Processing runs begun for it and not finished (recorded before each start).
        var attempts: Int = 0
        /// What processing acts on of the sender checks made before the 250; nil when
        /// the message was not checked (IMAP, import, our own, auth.enabled false): it
        /// is then trusted as before. Read from its columns, not from the report.
        var authFacts: AuthFacts? = nil
        /// The whole report, decoded (in `prepare`, in parallel) only where DMARC failed,
        /// whose domain and reason are quoted, or for rows stored without the facts.
        var authentication: AuthenticationReport? = nil
        /// The report as stored.
        var authenticationJSON: String? = nil
        /// auth.dmarc-reject, for inboxes that do not say.
        var dmarcRejectDefault = "spam"
        /// import.status, for history.
        var historyStatus = "closed"

        /// Imported history: the team's own past. It keeps its dates and status, is
        /// assigned to no one, and nothing is sent because of it (no acknowledgement,
        /// notification, vacation reply or redirect for mail answered years ago).
        var isHistory: Bool { channel == "import" }

        mutating func decodeAuthentication() {
            guard authentication == nil, let json = authenticationJSON else { return }
            if let facts = authFacts, !facts.fromFailed { return }
            authentication = try? JSONDecoder().decode(AuthenticationReport.self, from: Data(json.utf8))
            if let report = authentication { authFacts = AuthFacts(report) }
        }

        /// Automation (acknowledgements, vacation, "customer replied", bounce
        /// suppression) acts only on a sender that passed.
        var trusted: Bool { authFacts?.trusted ?? true }
        /// The From domain failed DMARC: References do not thread it into a conversation.
        var dmarcFailed: Bool { authFacts?.fromFailed ?? false }
    }

    /// What filing needs of an inbox.
    struct InboxSettings: Sendable {
        var slug: String
        var trustReferences: Bool
        var createTickets: Bool
        /// nil: auth.dmarc-reject.
        var dmarcReject: String?

        static func all(_ db: Database) throws -> [Int64: InboxSettings] {
            var settings: [Int64: InboxSettings] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, slug, trust_references, create_tickets, dmarc_reject FROM inbox")) {
                settings[row["id"]] = InboxSettings(
                    slug: row["slug"], trustReferences: row["trust_references"], createTickets: row["create_tickets"], dmarcReject: row["dmarc_reject"])
            }
            return settings
        }
    }

    /// A pending message with what parsing learned, ready to be filed.
    struct Prepared: Sendable {
        var pending: Pending
        var headerMessageID: String?
        var subject: String?
        var fromAddress: String?
        var fromName: String?
        var sentAt: Int64?
        var text: String
        var quotedText: String?
        var attachmentsJSON: String
        var warningsJSON: String
        var automatic: String?
        var bodyHash: String
        var inReplyTo: [String]
        var references: [String]
        var correspondents: [String]
        /// To and Cc addresses: automatic answers need the inbox among them.
        var toAndCc: [String] = []
        var quarantineReason: String?
        var deliveryReport: DeliveryReport?
        /// The filters' decisions by inbox slug, made before the 250.
        var decisions: [String: FilterDecision]

        /// When the conversation's activity happened: arrival, or for history the
        /// message's Date (milliseconds; a Date too far out to count in them is ignored).
        var activityAt: Int64 {
            guard pending.isHistory, let sentAt else { return pending.receivedAt }
            let (millis, overflow) = sentAt.multipliedReportingOverflow(by: 1000)
            return overflow || millis < 0 ? pending.receivedAt : millis
        }
    }

    /// Files every spooled message, oldest first, in batches; returns how many.
    ///
    /// A pipeline of two stages: while one batch is filed (SQLite's single writer, one
    /// core), the next is parsed on the others. Filing commits every `slice` of time,
    /// so a burst of intake (the spool shares the writer) never waits behind a long
    /// processing transaction.
    @discardableResult
    public func processPending(batchSize: Int = 128) async throws -> Int {
        var total = 0
        var after: Int64 = 0
        var inFlight: Started?
        let backlog = try await store.database.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM message WHERE state = 'spooled'")) ?? 0
        }
        store.backlog.set(backlog)
        // The next batch is read (on a reader connection) while this one is filed.
        let store = self.store
        let dmarcDefault = dmarcRejectDefault
        let history = historyStatus
        func load(after: Int64) -> Task<[Pending], any Error> {
            Task {
                try await store.database.read { db in
                    try Self.loadPending(db, after: after, limit: batchSize, dmarcRejectDefault: dmarcDefault, historyStatus: history)
                }
            }
        }
        var prefetch = load(after: after)
        while true {
            let batch: [Pending]
            do {
                batch = try await prefetch.value
            } catch {
                if let inFlight { try await finish(inFlight) }
                throw error
            }
            after = batch.last?.id ?? after
            prefetch = load(after: after)
            // A poison message cannot stop the gateway: an attempt is recorded before
            // each run, so a message whose run never finished (it killed the process)
            // is run again alone, and after a second such run it is quarantined.
            let poisoned = batch.filter { $0.attempts >= 2 }
            let suspects = batch.filter { $0.attempts == 1 }
            let fresh = batch.filter { $0.attempts == 0 }
            if !poisoned.isEmpty || !suspects.isEmpty, let started = inFlight {
                inFlight = nil
                try await finish(started)
            }
            if !poisoned.isEmpty {
                try await quarantine(
                    poisoned, reason: "processing stopped the server before it finished, twice; kept unprocessed for review (reprocess to try again)")
            }
            for suspect in suspects { try await finish(try await begin([suspect])) }
            let next: Started?
            do {
                next = fresh.isEmpty ? nil : try await begin(fresh)
            } catch {
                // Not a crash: the batch in flight gives its attempt back too.
                if let inFlight { await release(inFlight) }
                throw error
            }
            if let started = inFlight {
                do {
                    try await finish(started)
                } catch {
                    if let next { await release(next) }
                    throw error
                }
            }
            inFlight = next
            total += batch.count
            if batch.isEmpty && inFlight == nil {
                prefetch.cancel()
                return total
            }
        }
    }

    /// A group whose attempt is recorded and whose parsing is under way.
    struct Started {
        var group: [Pending]
        var parsing: Task<[Prepared?], Never>
    }

    /// Records the attempt (before any parsing: a parse that kills the process counts),
    /// then starts parsing in parallel, each message within the budget.
    func begin(_ group: [Pending]) async throws -> Started {
        let list = group.map { String($0.id) }.joined(separator: ",")
        // What is guarded against is a parse that kills the process, not the machine:
        // a WAL commit without its own fsync survives a process crash, so the attempt
        // costs no fsync (one per batch, on the writer intake shares).
        try await store.writeRedoable { db in
            try db.execute(sql: "UPDATE message SET process_attempts = process_attempts + 1 WHERE id IN (\(list))")
        }
        let budget = self.budget
        // Parsing yields the cores to intake (nice 10), except for mail that has waited
        // its deferral already.
        let waited = group.first.map { Self.age(since: $0.receivedAt) >= deferUnderIntake } ?? false
        let workers: BackgroundWorkers = waited ? .ordinary : .shared
        return Started(group: group, parsing: Task { await Self.prepareWithinBudget(group, budget: budget, on: workers) })
    }

    /// Files a started group.
    func finish(_ started: Started) async throws {
        do {
            try await file(started.group, prepared: await started.parsing.value)
        } catch {
            await release(started)
            throw error
        }
    }

    /// Not a crash (a database error, cancellation at shutdown): the attempt does not
    /// count against these messages.
    func release(_ started: Started) async {
        let store = self.store
        let list = started.group.map { String($0.id) }.joined(separator: ",")
        _ = try? await Task.detached {
            try await store.database.write { db in
                try db.execute(sql: "UPDATE message SET process_attempts = max(process_attempts - 1, 0) WHERE id IN (\(list)) AND state = 'spooled'")
            }
        }.value
    }

    /// Parses (in parallel, each within the budget) and files one group of messages.
    func run(_ group: [Pending]) async throws {
        try await finish(try await begin(group))
    }

    /// Longest one filing transaction holds SQLite's writer before it commits and lets
    /// the spool (and the API) write. Longer transactions file faster (fewer commits,
    /// fewer FTS segments to merge: 20 ms against 5 ms is 399 against 699 µs a message
    /// at 100,000 stored), shorter ones keep intake waiting less, so a transaction
    /// ends at `sliceUnderIntake` when a spool commit is waiting for the writer.
    static let slice = Duration.milliseconds(20)
    static let sliceUnderIntake = Duration.milliseconds(1)

    func file(_ group: [Pending], prepared: [Prepared?]) async throws {
        let store = self.store
        var next = 0
        while next < group.count {
            let start = next
            await deferToIntake(oldest: group[start].receivedAt)
            do {
                next = try await store.writeRedoable { db in try self.fileSlice(group, prepared: prepared, from: start, careful: false, db) }
            } catch is FilingSliceFailed {
                // Rolled back whole; filed again with a savepoint per message, so the
                // message that failed is filed for review and the others as usual.
                next = try await store.writeRedoable { db in try self.fileSlice(group, prepared: prepared, from: start, careful: true, db) }
            }
            recordProcessed(group[start..<next])
        }
    }

    /// A message failed in a transaction filed without a savepoint per message.
    struct FilingSliceFailed: Error {}

    /// Files messages from `start` in one transaction until the slice of time is up;
    /// returns where the next transaction starts.
    ///
    /// Optimistically (`careful` false) the messages are filed without a savepoint
    /// each, and the first that fails throws FilingSliceFailed, which rolls the whole
    /// transaction back for a careful rerun. A savepoint copies the original of every
    /// page it changes to the statement journal, and filing changes a dozen pages a
    /// message: a savepoint per message cost about 15% of filing, and a message
    /// that fails is rare. Carefully, each message has its own savepoint and one that
    /// fails is filed for review (fileUnparsed) while the others go on.
    func fileSlice(_ group: [Pending], prepared: [Prepared?], from start: Int, careful: Bool, _ db: Database) throws -> Int {
        let ours = try Store.ownAddresses(db)
        let inboxes = try InboxSettings.all(db)
        let started = ContinuousClock.now
        let deadline = started.advanced(by: Self.slice)
        let yieldAt = started.advanced(by: Self.sliceUnderIntake)
        var index = start
        while index < group.count {
            let pending = group[index]
            index += 1
            guard var message = prepared[index - 1] else {
                logger.error("message \(pending.id): processing ran past its budget of \(budget); quarantined, the rest flows on")
                try Self.fileUnparsed(
                    Self.placeholder(pending), error: "processing ran past its budget of \(budget)", reason: "processing ran past its budget of \(budget)", db)
                continue
            }
            message.pending.inboxes = inboxes
            if !careful {
                do {
                    try Self.file(message, ours: ours, token: token, autoMail: autoMail, db)
                } catch {
                    // The careful rerun files it for review and logs the error.
                    logger.debug("message \(message.pending.id): filing failed, the transaction is filed again carefully: \(error)")
                    throw FilingSliceFailed()
                }
            } else {
                do {
                    try db.inSavepoint {
                        try Self.file(message, ours: ours, token: token, autoMail: autoMail, db)
                        return .commit
                    }
                } catch {
                    logger.error("message \(message.pending.id): processing failed, filed for review: \(error)")
                    try Self.fileUnparsed(message, error: "\(error)", db)
                }
            }
            let now = ContinuousClock.now
            if now >= deadline || (now >= yieldAt && store.intakeWaiting.load(ordering: .relaxed) > 0) { break }
        }
        return index
    }

    /// Waits while intake is under a burst, until the oldest message to file has
    /// waited `deferUnderIntake` since it arrived. During a burst the 250s come first:
    /// on two cores, filing beside a full-speed burst took half of intake's rate, and
    /// the mail is durable in the spool already. A steady trickle never defers (the
    /// spool commits one message at a time), and under an endless burst filing resumes
    /// at the cap, so nothing waits longer than it.
    func deferToIntake(oldest receivedAt: Int64) async {
        let cap = deferUnderIntake
        guard cap > .zero, store.intakeIsBusy else { return }
        // The age is wall-clock (arrival times are); the wait is bounded on the
        // monotonic clock, so a clock stepped back cannot stretch it past the cap.
        let age = Self.age(since: receivedAt)
        guard age < cap else { return }
        let until = ContinuousClock.now.advanced(by: cap - age)
        while store.intakeIsBusy, ContinuousClock.now < until, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Metrics for messages whose filing is committed.
    func recordProcessed(_ filed: ArraySlice<Pending>) {
        processedCounter.increment(by: filed.count)
        store.backlog.remove(filed.count)
        let now = Store.nowMillis()
        for pending in filed where pending.attempts == 0 {
            latency.recordNanoseconds(max(0, now - pending.receivedAt) * 1_000_000)
        }
    }

    /// Files messages without parsing them, with the reason, for a person to look at.
    func quarantine(_ group: [Pending], reason: String) async throws {
        let logger = self.logger
        try await store.database.write { db in
            for pending in group {
                logger.error("message \(pending.id): \(reason)")
                try Self.fileUnparsed(Self.placeholder(pending), error: reason, reason: reason, db)
            }
        }
        recordProcessed(group[...])
    }

    /// Messages parsed at once: one per core, so each parse has a core of its own and
    /// its budget measures its own work.
    static let parallelParses = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// How long ago a message arrived (its wall-clock arrival time); zero for a time
    /// in the future or one too far off to subtract.
    static func age(since receivedAt: Int64) -> Duration {
        let (millis, overflow) = Store.nowMillis().subtractingReportingOverflow(receivedAt)
        return .milliseconds(overflow ? 0 : max(0, millis))
    }

    /// Each message parsed on its own task, a core's worth at a time, each within
    /// `budget` counted from its own start. One that is not done by then is given up
    /// (nil) and the others are filed without it; its task runs to its end in the
    /// background (Swift cannot stop it), but nothing waits for it.
    static func prepareWithinBudget(_ group: [Pending], budget: Duration, on workers: BackgroundWorkers = .shared) async -> [Prepared?] {
        var results: [Prepared?] = []
        var start = 0
        while start < group.count {
            let chunk = Array(group[start..<min(start + parallelParses, group.count)])
            results += await ParseRound.run(chunk, budget: budget, Self.prepare, on: workers)
            start += chunk.count
        }
        return results
    }

    /// What is known of a message without parsing it.
    static func placeholder(_ pending: Pending) -> Prepared {
        Prepared(
            pending: pending, headerMessageID: nil, subject: nil, fromAddress: pending.reversePath.isEmpty ? nil : pending.reversePath.lowercased(),
            fromName: nil, sentAt: nil, text: "", quotedText: nil, attachmentsJSON: "[]", warningsJSON: "[]", automatic: nil, bodyHash: "",
            inReplyTo: [], references: [], correspondents: [], quarantineReason: nil, deliveryReport: nil, decisions: [:])
    }

    /// Runs one message again (`postroom messages reprocess`): its entries and
    /// duplicate records are removed, then it is filed as if it had just arrived.
    public func reprocess(messageID: Int64) async throws {
        try await store.database.write { db in
            guard try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM message WHERE id = ?"), arguments: [messageID]) != nil else {
                throw StoreError.messageNotFound(String(messageID))
            }
            let filed = try Row.fetchAll(db.cachedStatement(sql: "SELECT conversation_id, inbox_id FROM entry WHERE message_id = ?"), arguments: [messageID])
            try db.run("DELETE FROM entry WHERE message_id = ?", [messageID])
            try db.run("DELETE FROM duplicate_delivery WHERE message_id = ?", [messageID])
            try db.run("DELETE FROM bounce WHERE message_id = ?", [messageID])
            try db.run("DELETE FROM message_id_index WHERE message_id = ?", [messageID])
            for row in filed {
                let conversation: Int64 = row["conversation_id"]
                // If threading again finds nothing better, the message returns to this conversation.
                try db.run("INSERT OR REPLACE INTO reprocess_hint (message_id, inbox_id, conversation_id) VALUES (?, ?, ?)", [messageID, row["inbox_id"] as Int64, conversation])
            }
            try db.run("UPDATE message SET state = 'spooled', processed_at = NULL, duplicate_of = NULL, quarantine_reason = NULL, process_attempts = 0 WHERE id = ?", [messageID])
        }
        try await processPending()
        // Hinted conversations that did not get the message back are removed if nothing else is in them.
        try await store.database.write { db in
            for conversation in try Int64.fetchAll(db.cachedStatement(sql: "SELECT conversation_id FROM reprocess_hint WHERE message_id = ?"), arguments: [messageID]) {
                let entries = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM entry WHERE conversation_id = ?"), arguments: [conversation]) ?? 0
                let events = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM event WHERE conversation_id = ?"), arguments: [conversation]) ?? 0
                if entries == 0 && events == 0 { try Self.deleteConversation(conversation, db) }
            }
            try db.run("DELETE FROM reprocess_hint WHERE message_id = ?", [messageID])
        }
    }

    /// A conversation merged into another stands for that other one.
    static func resolveMerged(_ id: Int64, _ db: Database) throws -> Int64 {
        var current = id
        for _ in 0..<16 {
            guard let next = try Int64.fetchOne(db.cachedStatement(sql: "SELECT merged_into FROM conversation WHERE id = ?"), arguments: [current]) else { break }
            current = next
        }
        return current
    }

    static func deleteConversation(_ id: Int64, _ db: Database) throws {
        try db.run("UPDATE conversation SET linked_conversation_id = NULL WHERE linked_conversation_id = ?", [id])
        try db.run("DELETE FROM message_id_index WHERE conversation_id = ?", [id])
        try db.run("DELETE FROM conversation_participant WHERE conversation_id = ?", [id])
        try db.run("DELETE FROM ticket WHERE conversation_id = ?", [id])
        try db.run("UPDATE bounce SET conversation_id = NULL WHERE conversation_id = ?", [id])
        try db.run("DELETE FROM mention WHERE event_id IN (SELECT id FROM event WHERE conversation_id = ?)", [id])
        try db.run("DELETE FROM event WHERE conversation_id = ?", [id])
        try db.run("DELETE FROM conversation WHERE id = ?", [id])
    }

    // MARK: - Loading and parsing

    static func loadPending(
        _ db: Database, after: Int64 = 0, limit: Int, dmarcRejectDefault: String = "spam", historyStatus: String = "closed"
    ) throws -> [Pending] {
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT m.id, r.raw, m.reverse_path, m.received_at, m.filter_results, m.channel, m.process_attempts, m.auth_results,
                    m.auth_verdict, m.auth_trusted, m.auth_verified_by, m.auth_from_failed, m.auth_dmarc_rejects
                FROM message m JOIN message_raw r ON r.message_id = m.id WHERE m.state = 'spooled' AND m.id > ? ORDER BY m.id LIMIT ?
                """),
            arguments: [after, limit])
        return try rows.map { row in
            let id: Int64 = row["id"]
            let recipients = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT inbox_id, tag FROM message_recipient WHERE message_id = ? ORDER BY position"), arguments: [id]
            ).map { (inboxID: $0["inbox_id"] as Int64, tag: $0["tag"] as String?) }
            let raw: Data = row["raw"]
            var facts: AuthFacts?
            if let verdict: String = row["auth_verdict"], let verifiedBy: String = row["auth_verified_by"] {
                facts = AuthFacts(
                    verdict: verdict, verifiedBy: verifiedBy, trusted: row["auth_trusted"] ?? false, fromFailed: row["auth_from_failed"] ?? false,
                    dmarcRejects: row["auth_dmarc_rejects"] ?? false)
            }
            return Pending(
                id: id, raw: Array(raw), reversePath: row["reverse_path"], receivedAt: row["received_at"], recipients: recipients,
                filterResults: row["filter_results"], channel: row["channel"] ?? "smtp", attempts: row["process_attempts"],
                authFacts: facts, authenticationJSON: row["auth_results"], dmarcRejectDefault: dmarcRejectDefault,
                historyStatus: historyStatus)
        }
    }

    static func prepare(_ pending: Pending) -> Prepared {
        var pending = pending
        pending.decodeAuthentication()
        let parsed = MailParser.parse(pending.raw)
        let from = parsed.from.first
        let fromAddress = (from.flatMap { $0.address.contains("@" as Character) ? $0.address : nil } ?? (pending.reversePath.isEmpty ? nil : pending.reversePath))?.lowercased()
        var quarantine: String?
        if parsed.headers.fields.isEmpty {
            quarantine = "no header section"
        } else if parsed.from.isEmpty {
            quarantine = "no From address"
        } else if parsed.warnings.contains(where: { $0.contains("header section ends") }) {
            quarantine = "header section is malformed"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Most mail has neither: no encoder for an empty list.
        let attachments = parsed.attachments.isEmpty ? "[]" : (try? encoder.encode(parsed.attachments)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let warnings = parsed.warnings.isEmpty ? "[]" : (try? encoder.encode(parsed.warnings)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let body = pending.raw[parsed.root.bodyRange]
        let hash = ContentHash.of(body)
        var correspondents: [String] = []
        for address in (parsed.from + parsed.to + parsed.cc + parsed.replyTo).map({ $0.address.lowercased() }) where address.contains("@" as Character) {
            if !correspondents.contains(address) { correspondents.append(address) }
        }
        return Prepared(
            pending: pending, headerMessageID: parsed.messageID, subject: parsed.subject, fromAddress: fromAddress,
            fromName: from?.name, sentAt: parsed.date, text: parsed.text, quotedText: parsed.quotedText,
            attachmentsJSON: attachments, warningsJSON: warnings,
            automatic: MachineSentMail.reason(headers: parsed.headers, reversePath: pending.reversePath, from: fromAddress),
            bodyHash: hash, inReplyTo: parsed.inReplyTo, references: parsed.references,
            correspondents: parsed.deliveryReport == nil ? correspondents : [],
            toAndCc: (parsed.to + parsed.cc).map { $0.address.lowercased() }, quarantineReason: quarantine,
            deliveryReport: parsed.deliveryReport,
            decisions: pending.filterResults.flatMap { try? JSONDecoder().decode([String: FilterDecision].self, from: Data($0.utf8)) } ?? [:])
    }

    /// Addresses Postroom owns (so they never become participants or contacts).
    // MARK: - Filing

    static func file(_ m: Prepared, ours: Set<String>, token: ReplyToken, autoMail: AutoMail?, _ db: Database) throws {
        // One UPDATE of the message row, state included: the row holds the text (a few
        // KiB, in overflow pages), and every UPDATE rewrites all of it; a second one
        // for the state alone was a third of the filing time (102 µs a message,
        // SQLite's statement profile). Only a duplicate is updated again below. The
        // savepoint around filing takes the state back with the rest on failure.
        try db.run("""
                UPDATE message SET header_message_id = ?, subject = ?, from_address = ?, from_name = ?, sent_at = ?,
                    body_text = ?, quoted_text = ?, attachments = ?, warnings = ?, automatic = ?, body_hash = ?,
                    quarantine_reason = ?, state = 'processed', processed_at = ?
                WHERE id = ? AND state = 'spooled'
                """, [
                m.headerMessageID, m.subject, m.fromAddress, m.fromName, m.sentAt, m.text, m.quotedText, m.attachmentsJSON,
                m.warningsJSON, m.automatic, m.bodyHash, m.quarantineReason, Store.nowMillis(), m.pending.id,
            ])
        // Not spooled any more: filed already (another processor, or a reprocess race).
        guard db.changesCount > 0 else { return }
        var inboxes: [Int64] = []
        for recipient in m.pending.recipients where !inboxes.contains(recipient.inboxID) { inboxes.append(recipient.inboxID) }
        var filed = false
        var duplicateOf: Int64?
        for inbox in inboxes {
            let tags = m.pending.recipients.filter { $0.inboxID == inbox }.compactMap(\.tag)
            let facts = try ThreadingFacts.gather(m, inbox: inbox, tags: tags, ours: ours, token: token, db)
            switch Threading.decide(facts) {
            case .duplicate(let original, let reason):
                try db.run(
                    "INSERT OR IGNORE INTO duplicate_delivery (message_id, inbox_id, original_message_id, reason, created_at) VALUES (?, ?, ?, ?, ?)",
                    [m.pending.id, inbox, original, reason, Store.nowMillis()])
                duplicateOf = original
            case .file(let decision):
                let slug = m.pending.inboxes[inbox]?.slug ?? ""
                try fileEntry(m, inbox: inbox, decision: decision, filters: m.decisions[slug], ours: ours, autoMail: autoMail, token: token, db)
                filed = true
            }
        }
        if !filed {
            try db.run("UPDATE message SET state = 'duplicate', duplicate_of = ? WHERE id = ?", [duplicateOf, m.pending.id])
        }
    }

    /// Files one message into one inbox by a threading decision, in its steps: the
    /// contact, the conversation (joined and re-opened, kept on reprocessing, or
    /// created with its ticket and assignee), the entry and its indexes, what reports
    /// and filters do, and who is told.
    static func fileEntry(
        _ m: Prepared, inbox: Int64, decision: Threading.Decision, filters: FilterDecision?, ours: Set<String>, autoMail: AutoMail?, token: ReplyToken,
        _ db: Database
    ) throws {
        let autoMail = m.pending.isHistory ? nil : autoMail
        let contact = try contactID(for: m, ours: ours, db)
        if let contact, let facts = m.pending.authFacts {
            try db.run(
                "UPDATE contact SET verified_via = ?, verified_at = ? WHERE id = ?",
                [facts.verdict == AuthenticationReport.Verdict.unverified.rawValue ? "unverified: \(facts.verifiedBy)" : facts.verifiedBy, m.pending.receivedAt, contact])
        }
        var detail = decision.detail
        let conversation: Int64
        if let existing = decision.conversationID {
            conversation = try join(existing, m, db)
        } else if let hinted = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT conversation_id FROM reprocess_hint WHERE message_id = ? AND inbox_id = ?"), arguments: [m.pending.id, inbox])
        {
            // Reprocessing: nothing better matched, so the message stays where it was.
            conversation = hinted
            detail += "; reprocessed, kept in conversation \(hinted)"
            try db.run(
                "UPDATE conversation SET contact_id = COALESCE(contact_id, ?), linked_conversation_id = COALESCE(linked_conversation_id, ?) WHERE id = ?",
                [contact, decision.linkedTo, conversation])
        } else {
            conversation = try create(m, inbox: inbox, contact: contact, linkedTo: decision.linkedTo, filters: filters, db)
        }
        let entry = try index(m, inbox: inbox, conversation: conversation, rule: decision.rule, detail: detail, ours: ours, db)
        if let report = m.deliveryReport {
            // A report suppresses only when its sender passed (and it is about mail we sent).
            try recordBounces(
                report, message: m.pending.id, conversation: decision.rule == .bounce ? conversation : nil,
                ours: m.pending.trusted ? try ourBouncedMessage(m, token: token, db) : nil, db)
        }
        try applyDMARCPolicy(m, inbox: inbox, conversation: conversation, db)
        if let filters {
            try FilterActions.apply(
                filters, message: m.pending.id, entry: entry, conversation: conversation, isNew: decision.conversationID == nil,
                inbox: inbox, sender: m.pending.reversePath, automatic: m.automatic, toAndCc: m.toAndCc, autoMail: autoMail,
                senderTrusted: m.pending.trusted, db)
        }
        // Mail of our own: never in answer to automatic mail, never for discarded mail.
        if let autoMail, m.automatic == nil, !(filters?.isDiscarded ?? false) {
            try notify(m, inbox: inbox, conversation: conversation, isNew: decision.conversationID == nil, autoMail: autoMail, db)
        }
    }

    /// Joins an existing conversation (or the one it was merged into): a customer's
    /// reply re-opens a closed or snoozed conversation and puts its ticket back on
    /// us; automatic mail does neither.
    static func join(_ existing: Int64, _ m: Prepared, _ db: Database) throws -> Int64 {
        let conversation = try resolveMerged(existing, db)
        let status = try String.fetchOne(db.cachedStatement(sql: "SELECT status FROM conversation WHERE id = ?"), arguments: [conversation])
        // History re-opens nothing: it was answered back then.
        let reopen = m.automatic == nil && !m.pending.isHistory && (status == "closed" || status == "snoozed")
        try db.run(
            """
            UPDATE conversation SET last_message_at = MAX(last_message_at, ?),
                status = CASE WHEN ? THEN 'open' ELSE status END,
                snoozed_until = CASE WHEN ? THEN NULL ELSE snoozed_until END
            WHERE id = ?
            """, [m.activityAt, reopen, reopen, conversation])
        if m.automatic == nil && !m.pending.isHistory {
            try db.run("UPDATE ticket SET stage = 'waiting-on-us' WHERE conversation_id = ? AND stage IN ('waiting-on-contact', 'closed')", [conversation])
        }
        if reopen {
            try Store.recordEvent(
                conversation, kind: "status", author: nil, body: "re-opened (was \(status ?? "")) by a reply from \(m.fromAddress ?? "the sender")", db)
        }
        return conversation
    }

    /// A new conversation, with a ticket where the inbox makes them (and no filter
    /// said otherwise), routed to a person or team.
    static func create(_ m: Prepared, inbox: Int64, contact: Int64?, linkedTo: Int64?, filters: FilterDecision?, _ db: Database) throws -> Int64 {
        let now = m.activityAt
        let history = m.pending.isHistory
        let status = history ? m.pending.historyStatus : "open"
        try db.run(
            "INSERT INTO conversation (inbox_id, subject, status, contact_id, linked_conversation_id, created_at, last_message_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [inbox, m.subject, status, contact, linkedTo, now, now])
        let conversation = db.lastInsertedRowID
        let skipTicket = filters?.actions.contains(.postroom(.noTicket)) ?? false
        if !skipTicket, m.pending.inboxes[inbox]?.createTickets ?? false {
            try db.run("INSERT INTO ticket (conversation_id, stage, created_at) VALUES (?, ?, ?)", [conversation, status == "closed" ? "closed" : "new", now])
        }
        // History is assigned to no one: round robin over years of closed mail would
        // only skew who gets the next live conversation.
        if !history, let assignment = try Routing.route(inbox: inbox, db) {
            try db.run("UPDATE conversation SET assignee_user_id = ?, assignee_team_id = ? WHERE id = ?", [assignment.user, assignment.team, conversation])
            try Store.recordEvent(
                conversation, kind: "assignment", author: nil,
                body: "assigned to \(assignment.user.map { "user \($0)" } ?? "team \(assignment.team ?? 0)"): \(assignment.why)", db)
        }
        return conversation
    }

    /// The entry, its participants and its Message-ID (which later replies thread by);
    /// returns the entry's id. The search row has the subject and body just stored in
    /// the message row, which is what the index's view shows (Store.indexForSearch).
    static func index(
        _ m: Prepared, inbox: Int64, conversation: Int64, rule: ThreadRule, detail: String, ours: Set<String>, _ db: Database
    ) throws -> Int64 {
        for address in m.correspondents where !Store.isOwn(address, ours) {
            try db.run("INSERT OR IGNORE INTO conversation_participant (conversation_id, email) VALUES (?, ?)", [conversation, address])
        }
        try db.run(
            "INSERT INTO entry (conversation_id, message_id, inbox_id, thread_rule, thread_detail, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [conversation, m.pending.id, inbox, rule.rawValue, detail, Store.nowMillis()])
        let entry = db.lastInsertedRowID
        try db.run("INSERT INTO message_search (rowid, subject, body) VALUES (?, ?, ?)", [entry, m.subject, m.text])
        if let hmid = m.headerMessageID {
            try db.run(
                "INSERT OR IGNORE INTO message_id_index (inbox_id, header_message_id, conversation_id, message_id) VALUES (?, ?, ?, ?)",
                [inbox, hmid, conversation, m.pending.id])
        }
        return entry
    }

    /// Who is told: for a new conversation the sender's acknowledgement (when the
    /// sender passed authentication), the inbox's members and the assignee; for a
    /// reply, the assignee.
    static func notify(_ m: Prepared, inbox: Int64, conversation: Int64, isNew: Bool, autoMail: AutoMail, _ db: Database) throws {
        let who = m.fromName.map { "\($0) <\(m.fromAddress ?? "")>" } ?? (m.fromAddress ?? "someone")
        let assignee = try Int64.fetchOne(db.cachedStatement(sql: "SELECT assignee_user_id FROM conversation WHERE id = ?"), arguments: [conversation])
        if isNew {
            let ticket = try Int64.fetchOne(db.cachedStatement(sql: "SELECT number FROM ticket WHERE conversation_id = ?"), arguments: [conversation])
            if m.pending.trusted {
                try autoMail.acknowledge(
                    conversation: conversation, inbox: inbox, sender: m.pending.reversePath, automatic: m.automatic, subject: m.subject,
                    messageID: m.headerMessageID, ticket: ticket, toAndCc: m.toAndCc, db)
            }
            let members = try Int64.fetchAll(db.cachedStatement(sql: "SELECT user_id FROM inbox_member WHERE inbox_id = ?"), arguments: [inbox])
            try autoMail.notify(
                .newConversation, conversation: conversation, inbox: inbox, users: members, summary: "\(who) wrote: \(m.subject ?? "")\n\n\(m.text.prefix(500))", db)
            if let assignee {
                try autoMail.notify(.assigned, conversation: conversation, inbox: inbox, users: [assignee], summary: "Routed to you: \(m.subject ?? "")", db)
            }
        } else if let assignee, m.pending.trusted {
            try autoMail.notify(.customerReply, conversation: conversation, inbox: inbox, users: [assignee], summary: "\(who) replied:\n\n\(m.text.prefix(500))", db)
        }
    }

    /// DMARC fail under p=reject, kept because the inbox does not refuse such mail: with
    /// the action spam the conversation goes to spam (with an event saying why); with
    /// mark it only carries the unverified badge.
    static func applyDMARCPolicy(_ m: Prepared, inbox: Int64, conversation: Int64, _ db: Database) throws {
        guard m.pending.authFacts?.dmarcRejects == true, let report = m.pending.authentication else { return }
        let action = m.pending.inboxes[inbox]?.dmarcReject ?? m.pending.dmarcRejectDefault
        guard action == "spam" else { return }
        try db.run("UPDATE conversation SET status = 'spam' WHERE id = ?", [conversation])
        try Store.recordEvent(
            conversation, kind: "status", author: nil, body: "spam (DMARC: \(report.dmarc.fromDomain) publishes p=reject and this message failed: \(report.dmarc.reason))", db)
    }

    /// What a delivery report is provably about: sent to the signed return path of
    /// one delivery, it names that outbound message and that recipient (the only one
    /// it may suppress); naming the Message-ID of a reply, it is about that message
    /// (threaded and recorded, but anyone who got the reply knows that id, so it
    /// suppresses nothing). nil for anything else (a forged or stray report).
    static func ourBouncedMessage(_ m: Prepared, token: ReplyToken, _ db: Database) throws -> (message: Int64, recipient: String?)? {
        guard let report = m.deliveryReport else { return nil }
        for tag in m.pending.recipients.compactMap(\.tag) {
            if let id = token.deliveryID(fromBounceTag: tag),
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT o.message_id, o.recipient FROM outbound o JOIN message m ON m.id = o.message_id WHERE o.id = ? AND m.channel = 'outbound'"),
                    arguments: [id])
            {
                return (row["message_id"], row["recipient"])
            }
        }
        if let original = report.originalMessageID,
            let id = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM message WHERE header_message_id = ? AND channel = 'outbound' ORDER BY id DESC LIMIT 1"), arguments: [original])
        {
            return (id, nil)
        }
        return nil
    }

    /// Records each reported recipient of a message we sent (`ours`); a hard bounce
    /// (failed, 5.x.x) suppresses only the recipient the signed return path names.
    /// Reports about anything else change nothing.
    static func recordBounces(
        _ report: DeliveryReport, message: Int64, conversation: Int64?, ours: (message: Int64, recipient: String?)?, _ db: Database
    ) throws {
        guard let ours else { return }
        let now = Store.nowMillis()
        for recipient in report.recipients {
            guard try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM outbound WHERE message_id = ? AND recipient = ?"), arguments: [ours.message, recipient.address.lowercased()]) != nil
            else { continue }
            try db.run("""
                    INSERT INTO bounce (message_id, conversation_id, recipient, action, status, diagnostic, original_message_id, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [
                    message, conversation, recipient.address, recipient.action, recipient.status, recipient.diagnostic,
                    report.originalMessageID, now,
                ])
            // Only through the signed return path, and only for the recipient it names.
            if recipient.isHardBounce, let named = ours.recipient, named == recipient.address.lowercased() {
                try db.run("""
                        INSERT INTO suppression (email, reason, status, bounce_message_id, created_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (email) DO UPDATE SET reason = excluded.reason, status = excluded.status,
                            bounce_message_id = excluded.bounce_message_id
                        """, [recipient.address.lowercased(), "hard bounce: \(recipient.diagnostic ?? recipient.status)", recipient.status, message, now])
            }
        }
    }

    /// Finds the sender's contact (case-insensitive) or creates it; bounces and
    /// mail from our own addresses make no contact.
    static func contactID(for m: Prepared, ours: Set<String>, _ db: Database) throws -> Int64? {
        guard let address = m.fromAddress, address.contains("@" as Character), !Store.isOwn(address, ours) else { return nil }
        let local = address.split(separator: "@").first.map(String.init) ?? ""
        if m.pending.reversePath.isEmpty || local == "mailer-daemon" || local == "postmaster" { return nil }
        let now = Store.nowMillis()
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT c.id, c.name FROM contact_email e JOIN contact c ON c.id = e.contact_id WHERE e.email = ?"), arguments: [address])
        {
            let id: Int64 = row["id"]
            if (row["name"] as String?) == nil, let name = m.fromName, !name.isEmpty {
                try db.run("UPDATE contact SET name = ?, updated_at = ? WHERE id = ?", [name, now, id])
            }
            return id
        }
        try db.run("INSERT INTO contact (email, name, created_at, updated_at) VALUES (?, ?, ?, ?)", [address, m.fromName, now, now])
        let id = db.lastInsertedRowID
        try db.run("INSERT INTO contact_email (email, contact_id) VALUES (?, ?)", [address, id])
        return id
    }

    /// When filing failed: the message still becomes an entry, alone in a new
    /// conversation of each of its inboxes, marked for review with the error.
    static func fileUnparsed(_ m: Prepared, error: String, reason: String? = nil, _ db: Database) throws {
        guard try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM message WHERE id = ?"), arguments: [m.pending.id]) == "spooled" else { return }
        var inboxes: [Int64] = []
        for recipient in m.pending.recipients where !inboxes.contains(recipient.inboxID) { inboxes.append(recipient.inboxID) }
        for inbox in inboxes {
            try db.run("INSERT INTO conversation (inbox_id, subject, status, created_at, last_message_at) VALUES (?, ?, 'open', ?, ?)", [inbox, m.subject, m.pending.receivedAt, m.pending.receivedAt])
            let conversation = db.lastInsertedRowID
            try db.run("INSERT OR IGNORE INTO entry (conversation_id, message_id, inbox_id, thread_rule, thread_detail, created_at) VALUES (?, ?, ?, 'unparsed', ?, ?)", [conversation, m.pending.id, inbox, error, Store.nowMillis()])
            if db.changesCount > 0 { try Store.indexForSearch(entry: db.lastInsertedRowID, message: m.pending.id, db) }
        }
        try db.run("UPDATE message SET state = 'processed', processed_at = ?, quarantine_reason = ? WHERE id = ?", [Store.nowMillis(), reason ?? "processing failed: \(error)", m.pending.id])
    }
}
