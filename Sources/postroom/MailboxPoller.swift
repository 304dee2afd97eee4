import Conversations
import Foundation
import IMAPClient
import Logging
import ServiceLifecycle

/// Pulls every connected mailbox on an interval. Each batch of messages is stored with
/// its checkpoint in one transaction (ConnectedMailboxes.record), so a crash between
/// batches resumes after the last committed UID. A failure becomes the mailbox's status.
struct MailboxPoller: Service {
    let mailboxes: ConnectedMailboxes
    let interval: Double
    let logger: Logger

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            for mailbox in (try? await mailboxes.list()) ?? [] {
                if Task.isCancelledOrShuttingDown { break }
                do {
                    let added = try await Self.sync(mailbox, mailboxes)
                    if added > 0 { logger.info("mailbox \(mailbox.id) (\(mailbox.username)@\(mailbox.host)): \(added) new") }
                } catch {
                    logger.warning("mailbox \(mailbox.id) (\(mailbox.username)@\(mailbox.host)): \(error)")
                    try? await mailboxes.setStatus(mailbox.id, status: "error", error: "\(error)")
                }
            }
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    static func account(_ m: ConnectedMailbox) throws -> IMAPAccount {
        guard let password = ProcessInfo.processInfo.environment[m.passwordEnv] else {
            throw IMAPClientError.configuration("the password variable \(m.passwordEnv) is not set in the server's environment")
        }
        let loopback = m.host == "localhost" || m.host.hasPrefix("127.") || m.host == "::1"
        return IMAPAccount(
            host: m.host, port: m.port, security: IMAPAccount.Security(rawValue: m.security) ?? .implicit, user: m.username, password: password,
            folder: m.folder, verifyCertificate: !loopback)
    }

    /// One pass: new UIDs since the checkpoint, in batches. Returns how many were new.
    static func sync(_ mailbox: ConnectedMailbox, _ mailboxes: ConnectedMailboxes, batch: Int = 50) async throws -> Int {
        let account = try account(mailbox)
        return try await IMAPClient().withSession(account) { session, folder in
            var after = UInt32(clamping: mailbox.lastUid)
            if let known = mailbox.uidValidity, known != Int64(folder.uidValidity) {
                // Every UID changed meaning: read the folder again, skipping what is here.
                try await mailboxes.resetForNewValidity(mailbox.id, uidValidity: folder.uidValidity)
                after = 0
            } else if mailbox.uidValidity == nil && !mailbox.importHistory {
                let last = try await session.uids().last ?? 0
                try await mailboxes.startFromNow(mailbox.id, uidValidity: folder.uidValidity, lastUID: max(last, (folder.uidNext ?? 1) - 1))
                try await mailboxes.setStatus(mailbox.id, status: "connected", error: nil)
                return 0
            }
            let uids = try await session.uids(after: after)
            var added = 0
            var start = 0
            repeat {
                let slice = Array(uids[start..<min(uids.count, start + batch)])
                start += slice.count
                var pulled: [(uid: UInt32, raw: [UInt8])] = []
                try await session.fetch(slice, batch: batch) { uid, raw in pulled.append((uid, raw)) }
                added += try await mailboxes.record(mailbox.id, uidValidity: folder.uidValidity, messages: pulled)
            } while start < uids.count
            return added
        }
    }
}
