import Conversations
import Foundation
import IMAPClient
import IMAPProtocol
import Logging
import ServiceLifecycle

/// How connections to providers are made: trust roots and the silence timeout (config).
public struct MailboxConnection: Sendable {
    public var caFile: String? = nil
    public var timeout: Double = 300

    public init(caFile: String? = nil, timeout: Double = 300) {
        self.caFile = caFile
        self.timeout = timeout
    }
}

/// Watches every connected mailbox: pulls what is new (`MailboxPull`, each batch stored
/// with its checkpoint in one transaction, so a crash between batches resumes after the
/// last committed UID), then waits in IDLE. A failure becomes the mailbox's status.
public struct MailboxWatcher: Service {
    let mailboxes: ConnectedMailboxes
    let interval: Double
    var connection = MailboxConnection()
    var idleRenew: Double = 25 * 60
    let logger: Logger
    /// Filters run on pulled mail as on SMTP mail (nil: no filters).
    var gate: FilterGate? = nil

    public init(
        mailboxes: ConnectedMailboxes, interval: Double, connection: MailboxConnection = MailboxConnection(), idleRenew: Double = 25 * 60, logger: Logger,
        gate: FilterGate? = nil
    ) {
        self.mailboxes = mailboxes
        self.interval = interval
        self.connection = connection
        self.idleRenew = idleRenew
        self.logger = logger
        self.gate = gate
    }

    /// Ends at once on graceful shutdown (services stop in reverse order, and this one
    /// stopping late would hold up the SMTP listener's own shutdown).
    public func run() async throws {
        _ = try? await cancelWhenGracefulShutdown { try await self.supervise() }
    }

    func supervise() async throws {
        var watchers: [Int64: Task<Void, Never>] = [:]
        while !(Task.isCancelled || Task.isShuttingDownGracefully) {
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
                        let added = try await pull(mailbox, session, folder, mailboxes, gate: gate).added
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

    public static func account(_ m: ConnectedMailbox, connection: MailboxConnection) throws -> IMAPAccount {
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
    public static func sync(_ mailbox: ConnectedMailbox, _ mailboxes: ConnectedMailboxes, connection: MailboxConnection) async throws -> Int {
        try await IMAPClient().withSession(try account(mailbox, connection: connection)) { session, folder in
            try await pull(mailbox, session, folder, mailboxes).added
        }
    }

    /// New UIDs since the checkpoint, through the filters when there are any.
    static func pull(
        _ mailbox: ConnectedMailbox, _ session: IMAPSession, _ folder: IMAPFolderState, _ mailboxes: ConnectedMailboxes, gate: FilterGate? = nil
    ) async throws -> MailboxPull.Progress {
        let destination = mailboxes.destination(mailbox.id) { raw, from in
            guard let gate, gate.isActive else { return nil }
            return gate.evaluatePulled(raw, inbox: mailbox.inbox, from: from, to: mailbox.username)
        }
        return try await MailboxPull.pull(session, folder, into: destination, startFromNow: !mailbox.importHistory)
    }
}
