import Conversations
import Foundation
import IMAPClient
import IMAPProtocol
import Logging
import ServiceLifecycle
import Settings

/// How connections to providers are made: trust roots and the silence timeout (config).
struct MailboxConnection: Sendable {
    var caFile: String? = nil
    var timeout: Double = 300

    init() {}

    init(_ config: PostroomConfig) {
        caFile = config.mailboxCAFile
        timeout = config.mailboxTimeout
    }
}

/// Pulls every connected mailbox on an interval. Each batch of messages is stored with
/// its checkpoint in one transaction (ConnectedMailboxes.record), so a crash between
/// batches resumes after the last committed UID. A failure becomes the mailbox's status.
struct MailboxPoller: Service {
    let mailboxes: ConnectedMailboxes
    let interval: Double
    var connection = MailboxConnection()
    var idleRenew: Double = 25 * 60
    let logger: Logger
    /// Filters run on pulled mail as on SMTP mail (nil: no filters, e.g. `mailbox sync`).
    var gate: FilterGate? = nil

    /// Ends at once on graceful shutdown (services stop in reverse order, and this one
    /// stopping late would hold up the SMTP listener's own shutdown).
    func run() async throws {
        _ = try? await cancelWhenGracefulShutdown { try await self.supervise() }
    }

    func supervise() async throws {
        var watchers: [Int64: Task<Void, Never>] = [:]
        while !Task.isCancelledOrShuttingDown {
            let current = (try? await mailboxes.list()) ?? []
            let ids = Set(current.map(\.id))
            for (id, task) in watchers where !ids.contains(id) {
                task.cancel()
                watchers[id] = nil
            }
            for m in current where watchers[m.id] == nil {
                let mailboxes = self.mailboxes, interval = self.interval, logger = self.logger, gate = self.gate, connection = self.connection
                let renew = self.idleRenew
                watchers[m.id] = Task {
                    await Self.watch(m.id, mailboxes, interval: interval, idleRenew: renew, connection: connection, gate: gate, logger: logger)
                }
            }
            // New and removed mailboxes are noticed within a few seconds.
            try? await Task.sleep(for: .milliseconds(Int(min(interval, 5) * 1000)))
        }
        for task in watchers.values { task.cancel() }
        for task in watchers.values { await task.value }
    }

    /// One mailbox, for as long as it is connected: pull, then IDLE (renewed every 25
    /// minutes, under the 29 RFC 2177 allows) or, where IDLE is missing, NOOP every
    /// `interval`; on failure the error becomes its status and it reconnects with backoff.
    static func watch(
        _ id: Int64, _ mailboxes: ConnectedMailboxes, interval: Double, idleRenew: Double, connection: MailboxConnection, gate: FilterGate?, logger: Logger
    ) async {
        var backoff = 1.0
        while !Task.isCancelled {
            guard let first = try? await mailboxes.get(id) else { return }
            do {
                let account = try account(first, connection: connection)
                try await IMAPClient().withSession(account) { session, examined in
                    var mailbox = first
                    var folder = examined
                    while !Task.isCancelled {
                        let added = try await pull(mailbox, session, folder, mailboxes, gate: gate)
                        folder.highestModSeq = nil  // EXAMINE's value is stale once the connection lives on
                        if added > 0 { logger.info("mailbox \(id) (\(mailbox.username)@\(mailbox.host)): \(added) new") }
                        backoff = 1
                        if session.supportsIdle {
                            let announced = try await session.idle(maxWait: .milliseconds(Int64(idleRenew * 1000)))
                            if !announced { logger.info("mailbox \(id): IDLE renewed after \(idleRenew) s") }
                        } else {
                            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                            try await session.run([.raw("NOOP")])
                        }
                        guard let fresh = try await mailboxes.get(id) else { return }
                        mailbox = fresh
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("mailbox \(id) (\(first.username)@\(first.host)): \(error); retrying in \(Int(backoff)) s")
                _ = try? await mailboxes.failed(id, error: "\(error)", retryIn: backoff)
                try? await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
                backoff = min(backoff * 2, max(interval, 300))
            }
        }
    }

    static func account(_ m: ConnectedMailbox, connection: MailboxConnection) throws -> IMAPAccount {
        guard IMAPHost.isValidPasswordEnv(m.passwordEnv) else {
            throw IMAPClientError.configuration("the password variable must start with \(IMAPHost.passwordEnvPrefix); \(m.passwordEnv) is not read")
        }
        guard let password = ProcessInfo.processInfo.environment[m.passwordEnv] else {
            throw IMAPClientError.configuration("the password variable \(m.passwordEnv) is not set in the server's environment")
        }
        return IMAPAccount(
            host: m.host, port: m.port, security: IMAPAccount.Security(rawValue: m.security) ?? .implicit, user: m.username, password: password,
            folder: m.folder, caFile: connection.caFile, timeout: connection.timeout)
    }

    /// One pass on a new connection (`postroom mailbox sync`).
    static func sync(_ mailbox: ConnectedMailbox, _ mailboxes: ConnectedMailboxes, connection: MailboxConnection) async throws -> Int {
        try await IMAPClient().withSession(try account(mailbox, connection: connection)) { session, folder in try await pull(mailbox, session, folder, mailboxes) }
    }

    /// New UIDs since the checkpoint, in batches. Returns how many were new.
    static func pull(
        _ mailbox: ConnectedMailbox, _ session: IMAPSession, _ folder: IMAPFolderState, _ mailboxes: ConnectedMailboxes, gate: FilterGate? = nil
    ) async throws -> Int {
        do {
            var after = UInt32(clamping: mailbox.lastUid)
            if let known = mailbox.uidValidity, known != Int64(folder.uidValidity) {
                // Every UID changed meaning: read the folder again, skipping what is here.
                try await mailboxes.resetForNewValidity(mailbox.id, uidValidity: folder.uidValidity)
                after = 0
            } else if mailbox.uidValidity == nil && !mailbox.importHistory {
                let last = try await session.uids().last ?? 0
                try await mailboxes.startFromNow(mailbox.id, uidValidity: folder.uidValidity, lastUID: max(last, (folder.uidNext ?? 1).subtractingReportingOverflow(1).overflow ? 0 : (folder.uidNext ?? 1) - 1))
                try await mailboxes.connected(mailbox.id)
                return 0
            } else if let now = folder.highestModSeq, let seen = mailbox.highestModSeq, UInt64(clamping: seen) == now {
                // CONDSTORE: nothing in the folder changed since it was last read through.
                try await mailboxes.connected(mailbox.id)
                return 0
            }
            let uids = try await session.uids(after: after)
            let added = try await session.fetchBatches(uids) { pulled, through in
                try await mailboxes.record(mailbox.id, uidValidity: folder.uidValidity, messages: pulled, through: through) { raw, from in
                    guard let gate, gate.isActive else { return nil }
                    return gate.evaluatePulled(raw, inbox: mailbox.inbox, from: from, to: mailbox.username)
                }
            }
            if uids.isEmpty { _ = try await mailboxes.record(mailbox.id, uidValidity: folder.uidValidity, messages: []) }
            // Read through as of EXAMINE: anything added since has a higher mod-sequence.
            if let now = folder.highestModSeq, mailbox.highestModSeq.map({ UInt64(clamping: $0) }) != now {
                try await mailboxes.readThrough(mailbox.id, uidValidity: folder.uidValidity, highestModSeq: folder.highestModSeq)
            }
            return added
        }
    }
}
