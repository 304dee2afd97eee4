import Hummingbird
import MailboxPull
import Store

/// `/api/mailboxes`: IMAP mailboxes the server pulls into inboxes.
struct MailboxesController {
    let mailboxes: ConnectedMailboxes
    /// Logs in from the running server (its environment holds the passwords).
    let tester: @Sendable (ConnectedMailbox) async throws -> MailboxTestResult

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ -> MailboxList in MailboxList(mailboxes: try await mailboxes.list()) }
        group.post { request, context -> ConnectedMailbox in
            let body = try await request.decodeInput(as: NewMailbox.self, context: context)
            let security = body.security ?? "implicit"
            return try await mailboxes.add(
                inbox: body.inbox, host: body.host, port: body.port ?? (security == "implicit" ? 993 : 143), security: security,
                username: body.user, passwordEnv: body.passwordEnv, folder: body.folder ?? "INBOX", importHistory: body.importHistory ?? false)
        }
        group.get(":id") { _, context -> ConnectedMailbox in
            try await mailbox(try context.id())
        }
        group.delete(":id") { _, context -> Removed in
            let id = try context.id()
            guard try await mailboxes.remove(id) else { throw RequestError.notFound("no connected mailbox \(id)") }
            return Removed(removed: String(id))
        }
        group.post(":id/test") { _, context -> MailboxTestResult in
            let m = try await mailbox(try context.id())
            do {
                return try await tester(m)
            } catch {
                return MailboxTestResult(error: "\(m.username)@\(m.host):\(m.port) \(m.folder): \(error)")
            }
        }
    }

    func mailbox(_ id: Int64) async throws -> ConnectedMailbox {
        guard let m = try await mailboxes.get(id) else { throw RequestError.notFound("no connected mailbox \(id)") }
        return m
    }
}

extension ConnectedMailbox: ResponseEncodable {}

struct MailboxList: ResponseEncodable {
    var mailboxes: [ConnectedMailbox]
}

struct NewMailbox: Decodable {
    var inbox: String
    var host: String
    var port: Int?
    var security: String?
    var user: String
    var passwordEnv: String
    var folder: String?
    var importHistory: Bool?
}

/// What logging in to a connected mailbox found: the folder's counts, or why it could
/// not log in (a finding of the test, so a 200 either way; the mailbox's own status
/// is not changed by a test).
public struct MailboxTestResult: ResponseEncodable, Sendable {
    public var ok: Bool
    public var messages: Int?
    public var uidValidity: UInt32?
    public var uidNext: UInt32?
    public var error: String?

    public init(messages: Int, uidValidity: UInt32, uidNext: UInt32?) {
        ok = true
        self.messages = messages
        self.uidValidity = uidValidity
        self.uidNext = uidNext
    }

    public init(error: String) {
        ok = false
        self.error = error
    }
}
