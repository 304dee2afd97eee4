import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import Sieve
import Conversations
import Store

/// The admin HTTP API (openapi.yaml describes it). Every `/api` route needs the
/// bearer token; `/metrics` and `/healthz` are open so monitoring can reach them
/// without a secret (bind `http.listen` to a private address).
public enum AdminAPI {
    public static func router(
        store: Store, processor: MessageProcessor, replies: Replies, queue: OutboundQueue, adminToken: String, registry: PrometheusCollectorRegistry,
        mailboxTester: @escaping @Sendable (ConnectedMailbox) async throws -> MailboxTestResult = { _ in
            throw ConversationError.invalid("mailbox testing is not wired in")
        }
    ) -> Router<BasicRequestContext> {
        let mailboxes = ConnectedMailboxes(store: store)
        let queries = ConversationQueries(store: store)
        let actions = ConversationActions(store: store, autoMail: processor.autoMail)
        let people = People(store: store)
        let contacts = Contacts(store: store)
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        router.get("healthz") { _, _ in HealthResponse(status: "ok") }
        router.get("metrics") { _, _ -> Response in
            let text = registry.emitToBuffer()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }

        let api = router.group("api").add(middleware: BearerTokenMiddleware(token: adminToken))
        api.get("inboxes") { _, _ -> InboxList in
            InboxList(inboxes: try await store.listInboxes())
        }
        api.get("inboxes/:slug") { _, context -> Inbox in
            let slug = try context.parameters.require("slug")
            guard let inbox = try await store.inbox(slug: slug) else {
                throw HTTPError(.notFound, message: StoreError.inboxNotFound(slug).description)
            }
            return inbox
        }
        api.get("messages") { request, _ -> MessageList in
            let inbox = request.uri.queryParameters.get("inbox")
            let limitText = request.uri.queryParameters.get("limit")
            let beforeText = request.uri.queryParameters.get("before")
            let limit = limitText.flatMap(Int.init) ?? 100
            guard limitText == nil || (1...1000).contains(limit) else {
                throw HTTPError(.badRequest, message: "limit must be an integer from 1 to 1000")
            }
            let before = beforeText.flatMap(Int64.init)
            guard beforeText == nil || before != nil else {
                throw HTTPError(.badRequest, message: "before must be a message id")
            }
            let stateText = request.uri.queryParameters.get("state")
            let state = stateText.flatMap { ProcessingState(rawValue: String($0)) }
            guard stateText == nil || state != nil else {
                throw HTTPError(.badRequest, message: "state must be one of \(ProcessingState.names)")
            }
            do {
                let messages = try await store.listMessages(inbox: inbox, state: state, limit: limit, beforeID: before)
                return MessageList(messages: messages)
            } catch let error as StoreError {
                throw HTTPError(.notFound, message: error.description)
            }
        }
        api.get("messages/:id") { _, context -> MessageDetail in
            let id = try context.parameters.require("id")
            do {
                return try await store.message(id)
            } catch let error as StoreError {
                throw HTTPError(.notFound, message: error.description)
            }
        }
        api.get("messages/:id/raw") { _, context -> Response in
            let id = try context.parameters.require("id")
            do {
                let stored = try await store.rawMessage(id)
                return Response(
                    status: .ok,
                    headers: [.contentType: "message/rfc822", HTTPField.Name("X-Postroom-Queue-Id")!: stored.queueID],
                    body: .init(byteBuffer: ByteBuffer(bytes: stored.raw)))
            } catch let error as StoreError {
                throw HTTPError(.notFound, message: error.description)
            }
        }
        api.patch("inboxes/:slug/settings") { request, context -> Inbox in
            let slug = try context.parameters.require("slug")
            let change = try await request.decode(as: InboxChange.self, context: context)
            if let routing = change.routing {
                try await conversationErrors { try await people.setRouting(slug: slug, rule: routing, target: change.routingTarget) }
            }
            return try await storeErrors {
                try await store.updateInbox(
                    slug: slug, name: change.name, trustReferences: change.trustReferences, createTickets: change.createTickets,
                    autoAcknowledge: change.autoAcknowledge, autoAcknowledgeText: change.autoAcknowledgeText,
                    dmarcReject: change.dmarcReject.map { $0 == "default" ? nil : $0 })
            }
        }
        api.get("inboxes/:slug/members") { _, context -> Members in
            let slug = try context.parameters.require("slug")
            return Members(members: try await conversationErrors { try await people.inboxMembers(slug: slug) })
        }
        api.put("inboxes/:slug/members") { request, context -> Members in
            let slug = try context.parameters.require("slug")
            let body = try await request.decode(as: Members.self, context: context)
            return Members(members: try await conversationErrors { try await people.setInboxMembers(slug: slug, body.members) })
        }
        api.get("users") { _, _ -> UserList in UserList(users: try await people.users()) }
        api.post("users") { request, context -> User in
            let input = try await request.decode(as: UserInput.self, context: context)
            return try await conversationErrors { try await people.createUser(input) }
        }
        api.get("users/:id") { _, context -> User in
            let id = try numericID(context)
            return try await conversationErrors { try await people.user(id) }
        }
        api.patch("users/:id") { request, context -> User in
            let id = try numericID(context)
            let input = try await request.decode(as: UserInput.self, context: context)
            return try await conversationErrors { try await people.updateUser(id, input) }
        }
        api.get("teams") { _, _ -> TeamList in TeamList(teams: try await people.teams()) }
        api.post("teams") { request, context -> Team in
            let input = try await request.decode(as: TeamInput.self, context: context)
            return try await conversationErrors { try await people.createTeam(name: input.name, members: input.members ?? []) }
        }
        api.put("teams/:id/members") { request, context -> Team in
            let id = try numericID(context)
            let body = try await request.decode(as: Members.self, context: context)
            return try await conversationErrors { try await people.setTeamMembers(id, body.members) }
        }
        api.get("conversations") { request, _ -> ConversationPage in
            let q = request.uri.queryParameters
            let limitText = q.get("limit")
            let limit = limitText.flatMap(Int.init) ?? 50
            guard limitText == nil || Int(limitText!) != nil else { throw HTTPError(.badRequest, message: "limit must be an integer") }
            func id(_ name: String) throws -> Int64? {
                guard let text = q.get(name) else { return nil }
                guard let value = Int64(text) else { throw HTTPError(.badRequest, message: "\(name) must be an id") }
                return value
            }
            func flag(_ name: String) throws -> Bool? {
                guard let text = q.get(name) else { return nil }
                switch text { case "true", "1", "yes": return true
                case "false", "0", "no": return false
                default: throw HTTPError(.badRequest, message: "\(name) must be true or false")
                }
            }
            var filter = ConversationQueries.Filter(
                inbox: q.get("inbox"), status: q.get("status"), contactID: try id("contact"), assignee: try id("assignee"),
                unassigned: try flag("unassigned") ?? false, team: try id("team"), hasTicket: try flag("has-ticket"), channel: q.get("channel"),
                text: q.get("q"), limit: limit, cursor: q.get("cursor"))
            filter.includeHidden = try flag("hidden") ?? false
            filter.label = q.get("label")
            return try await conversationErrors { try await queries.list(filter) }
        }
        api.get("conversations/:id") { _, context -> ConversationDetail in
            let id = try numericID(context)
            return try await conversationErrors { try await queries.conversation(id) }
        }
        api.post("conversations/:id/status") { request, context -> ConversationSummary in
            let id = try numericID(context)
            let change = try await request.decode(as: StatusChange.self, context: context)
            var until: Date?
            if let text = change.until {
                guard let date = ISO8601DateFormatter().date(from: text) else { throw HTTPError(.badRequest, message: "until must be an ISO 8601 time") }
                until = date
            }
            try await conversationErrors { try await actions.setStatus(id, status: change.status, snoozeUntil: until, by: change.by) }
            return try await queries.conversation(id).conversation
        }
        api.post("conversations/:id/assign") { request, context -> ConversationSummary in
            let id = try numericID(context)
            let change = try await request.decode(as: AssignChange.self, context: context)
            try await conversationErrors { try await actions.assign(id, user: change.userId, team: change.teamId, by: change.by) }
            return try await queries.conversation(id).conversation
        }
        api.post("conversations/:id/comments") { request, context -> Response in
            let id = try numericID(context)
            let input = try await request.decode(as: CommentInput.self, context: context)
            let event = try await conversationErrors { try await actions.comment(id, author: input.authorId, body: input.body) }
            return try Response(status: .created, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: JSONEncoder().encode(event))))
        }
        api.patch("conversations/:id/ticket") { request, context -> ConversationSummary in
            let id = try numericID(context)
            let change = try await request.decode(as: TicketChange.self, context: context)
            try await conversationErrors { try await actions.updateTicket(id, stage: change.stage, priority: change.priority, owner: change.ownerId, by: change.by) }
            return try await queries.conversation(id).conversation
        }
        api.post("conversations/:id/replies") { request, context -> Response in
            let id = try numericID(context)
            let input = try await request.decode(as: ReplyInput.self, context: context)
            let result = try await conversationErrors { try await replies.reply(to: id, input) }
            return try Response(
                status: .created, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: JSONEncoder().encode(result))))
        }
        api.get("queue") { _, _ -> QueueList in QueueList(deliveries: try await queue.list()) }
        api.post("queue/retry") { _, _ -> Retried in Retried(retried: try await queue.retry(includeFailed: false)) }
        api.post("conversations/:id/split") { request, context -> ConversationDetail in
            let id = try numericID(context)
            let input = try await request.decode(as: SplitInput.self, context: context)
            let new = try await conversationErrors { try await actions.split(id, messageID: input.messageId, by: input.by) }
            return try await queries.conversation(new)
        }
        api.post("conversations/:id/merge") { request, context -> ConversationDetail in
            let id = try numericID(context)
            let input = try await request.decode(as: MergeInput.self, context: context)
            try await conversationErrors { try await actions.merge(id, into: input.into, by: input.by) }
            return try await queries.conversation(input.into)
        }
        api.get("contacts") { request, _ -> ContactList in
            ContactList(contacts: try await contacts.search(request.uri.queryParameters.get("q")))
        }
        api.post("contacts") { request, context -> ContactDetail in
            let input = try await request.decode(as: ContactInput.self, context: context)
            guard let email = input.email else { throw HTTPError(.badRequest, message: "email is required") }
            let id = try await conversationErrors { try await contacts.create(email: email, name: input.name) }
            return try await queries.contact(id)
        }
        api.patch("contacts/:id") { request, context -> ContactDetail in
            let id = try numericID(context)
            let input = try await request.decode(as: ContactInput.self, context: context)
            try await conversationErrors { try await contacts.update(id, name: input.name, email: input.email, addEmails: input.addEmails ?? []) }
            return try await queries.contact(id)
        }
        api.post("contacts/:id/merge") { request, context -> ContactDetail in
            let id = try numericID(context)
            let input = try await request.decode(as: MergeInput.self, context: context)
            try await conversationErrors { try await contacts.merge(id, into: input.into) }
            return try await queries.contact(input.into)
        }
        api.get("contacts/:id") { _, context -> ContactDetail in
            let id = try numericID(context)
            return try await conversationErrors { try await queries.contact(id) }
        }
        api.get("quarantine") { _, _ -> QuarantineList in
            QuarantineList(messages: try await queries.quarantine())
        }
        api.post("filters/test") { request, context -> Response in
            let input = try await request.decode(as: FilterTestInput.self, context: context)
            let raw = Array(input.message.utf8)
            guard !raw.isEmpty else { throw HTTPError(.badRequest, message: "message is required") }
            var output: FilterTestResponse
            do {
                let script = try Sieve.compile(input.script, name: "script.sieve")
                let message = SieveMessage(raw: raw, envelopeFrom: input.from ?? "", envelopeTo: input.to ?? "recipient@example.com")
                output = FilterTestResponse(SieveInterpreter(tracing: input.trace ?? false).run(script, on: message))
            } catch let error as SieveError {
                output = FilterTestResponse(valid: false, error: error.description, line: error.position.line, column: error.position.column)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return Response(
                status: output.valid ? .ok : .unprocessableContent, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(output))))
        }
        api.get("mailboxes") { _, _ -> MailboxList in
            MailboxList(mailboxes: try await mailboxes.list())
        }
        api.post("mailboxes") { request, context -> ConnectedMailbox in
            let body = try await request.decode(as: NewMailbox.self, context: context)
            let security = body.security ?? "implicit"
            return try await conversationErrors {
                try await mailboxes.add(
                    inbox: body.inbox, host: body.host, port: body.port ?? (security == "implicit" ? 993 : 143), security: security,
                    username: body.user, passwordEnv: body.passwordEnv, folder: body.folder ?? "INBOX", importHistory: body.importHistory ?? false)
            }
        }
        api.get("mailboxes/:id") { _, context -> ConnectedMailbox in
            let id = try context.parameters.require("id", as: Int64.self)
            guard let m = try await mailboxes.get(id) else { throw HTTPError(.notFound, message: "no connected mailbox \(id)") }
            return m
        }
        api.delete("mailboxes/:id") { _, context -> Removed in
            let id = try context.parameters.require("id", as: Int64.self)
            guard try await mailboxes.remove(id) else { throw HTTPError(.notFound, message: "no connected mailbox \(id)") }
            return Removed(removed: String(id))
        }
        api.post("mailboxes/:id/test") { _, context -> MailboxTestResult in
            let id = try context.parameters.require("id", as: Int64.self)
            guard let m = try await mailboxes.get(id) else { throw HTTPError(.notFound, message: "no connected mailbox \(id)") }
            do {
                return try await mailboxTester(m)
            } catch {
                throw HTTPError(.badGateway, message: "\(m.username)@\(m.host):\(m.port) \(m.folder): \(error)")
            }
        }
        api.get("suppressions") { _, _ -> SuppressionList in
            SuppressionList(suppressions: try await queries.suppressions())
        }
        api.delete("suppressions/:email") { _, context -> Removed in
            let email = try context.parameters.require("email")
            try await conversationErrors { try await queries.removeSuppression(email) }
            return Removed(removed: email.lowercased())
        }
        api.post("messages/:id/reprocess") { _, context -> MessageDetail in
            let reference = try context.parameters.require("id")
            return try await storeErrors {
                let detail = try await store.message(reference)
                try await processor.reprocess(messageID: detail.message.id)
                return try await store.message(reference)
            }
        }
        api.get("messages/:id/parts/:part") { _, context -> Response in
            let reference = try context.parameters.require("id")
            let path = try context.parameters.require("part")
            let part = try await conversationErrors { try await storeErrors { try await queries.part(messageReference: reference, path: path) } }
            // The sender chose this Content-Type: never let a browser render it in our
            // origin (HTML or SVG with script). Download only, sniffing off, sandboxed.
            var headers: HTTPFields = [
                .contentType: part.contentType,
                .contentDisposition: "attachment",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                .contentSecurityPolicy: "sandbox; default-src 'none'",
            ]
            if let filename = part.filename {
                let ascii = String(filename.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0.value >= 0x20 ? Character($0) : "_" })
                // RFC 5987 attr-char
                let attrChars = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~")
                let encoded = filename.addingPercentEncoding(withAllowedCharacters: attrChars) ?? ascii
                headers[.contentDisposition] = "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: part.data)))
        }
        return router
    }
}

func numericID(_ context: BasicRequestContext) throws -> Int64 {
    let text = try context.parameters.require("id")
    guard let id = Int64(text) else { throw HTTPError(.badRequest, message: "'\(text)' is not an id") }
    return id
}

/// Maps the store's and the conversation layer's errors to 404/400 with their message.
func storeErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError {
        if case .invalidSetting = error { throw HTTPError(.badRequest, message: error.description) }
        throw HTTPError(.notFound, message: error.description)
    }
}

func conversationErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ConversationError {
        switch error {
        case .notFound(let what): throw HTTPError(.notFound, message: what)
        case .invalid(let what): throw HTTPError(.badRequest, message: what)
        }
    }
}

struct InboxChange: Decodable {
    var name: String?
    var trustReferences: Bool?
    var createTickets: Bool?
    var autoAcknowledge: Bool?
    var autoAcknowledgeText: String?
    /// refuse, spam, mark, or "default" (auth.dmarc-reject).
    var dmarcReject: String?
    var routing: String?
    var routingTarget: Int64?
}

struct StatusChange: Decodable {
    var status: String
    var until: String?
    var by: Int64?
}

struct AssignChange: Decodable {
    var userId: Int64?
    var teamId: Int64?
    var by: Int64?
}

struct CommentInput: Decodable {
    var authorId: Int64
    var body: String
}

/// `ownerId: null` clears the owner; a missing key leaves it.
struct TicketChange: Decodable {
    var stage: String?
    var priority: String?
    var ownerId: Int64??
    var by: Int64?

    enum CodingKeys: String, CodingKey { case stage, priority, ownerId, by }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stage = try c.decodeIfPresent(String.self, forKey: .stage)
        priority = try c.decodeIfPresent(String.self, forKey: .priority)
        by = try c.decodeIfPresent(Int64.self, forKey: .by)
        if c.contains(.ownerId) {
            ownerId = .some(try c.decodeNil(forKey: .ownerId) ? nil : try c.decode(Int64.self, forKey: .ownerId))
        } else {
            ownerId = .none
        }
    }
}

struct FilterTestInput: Decodable {
    var script: String
    var message: String
    var from: String?
    var to: String?
    var trace: Bool?
}

struct FilterTestResponse: Encodable {
    var valid: Bool
    var error: String?
    var line: Int?
    var column: Int?
    var actions: [SieveAction]?
    var implicitKeep: Bool?
    var runtimeError: String?
    var trace: [String]?
    /// The result in sieve-test's words.
    var text: String?

    init(valid: Bool, error: String, line: Int, column: Int) {
        self.valid = valid
        self.error = error
        self.line = line
        self.column = column
    }

    init(_ result: SieveResult) {
        valid = true
        actions = result.actions
        implicitKeep = result.implicitKeep
        runtimeError = result.runtimeError
        trace = result.trace
        text = result.sieveTestText
    }
}

struct QueueList: ResponseEncodable {
    var deliveries: [OutboundQueue.Item]
}

struct Retried: ResponseEncodable {
    var retried: Int
}

struct SplitInput: Decodable {
    var messageId: Int64
    var by: Int64?
}

struct MergeInput: Decodable {
    var into: Int64
    var by: Int64?
}

struct ContactInput: Decodable {
    var email: String?
    var name: String?
    var addEmails: [String]?
}

struct ContactList: ResponseEncodable {
    var contacts: [ContactSummary]
}

struct Members: ResponseCodable {
    var members: [Int64]
}

struct UserList: ResponseEncodable {
    var users: [User]
}

struct TeamList: ResponseEncodable {
    var teams: [Team]
}

struct TeamInput: Decodable {
    var name: String
    var members: [Int64]?
}

extension User: ResponseEncodable {}
extension Team: ResponseEncodable {}

struct SuppressionList: ResponseEncodable {
    var suppressions: [Suppression]
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

/// What logging in to a connected mailbox found.
public struct MailboxTestResult: ResponseEncodable, Sendable {
    public var messages: Int
    public var uidValidity: UInt32
    public var uidNext: UInt32?

    public init(messages: Int, uidValidity: UInt32, uidNext: UInt32?) {
        self.messages = messages
        self.uidValidity = uidValidity
        self.uidNext = uidNext
    }
}

struct Removed: ResponseEncodable {
    var removed: String
}

struct QuarantineList: ResponseEncodable {
    var messages: [QuarantineItem]
}

extension ConversationPage: ResponseEncodable {}
extension ConversationDetail: ResponseEncodable {}
extension ConversationSummary: ResponseEncodable {}
extension ContactDetail: ResponseEncodable {}

struct HealthResponse: ResponseCodable {
    var status: String
}

struct InboxList: ResponseEncodable {
    var inboxes: [Inbox]
}

struct MessageList: ResponseEncodable {
    var messages: [MessageSummary]
}

extension Inbox: ResponseEncodable {}
extension MessageDetail: ResponseEncodable {}

/// Refuses `/api` requests without `Authorization: Bearer <token>` (401, JSON reason).
/// The comparison takes the same time whatever the token, so it leaks no prefix.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    init(token: String) {
        self.token = Array(token.utf8)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw HTTPError(
                .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"postroom\""],
                message: "missing bearer token: send Authorization: Bearer <admin token>")
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix(prefix),
            constantTimeEqual(Array(header.dropFirst(prefix.count).utf8), token)
        else {
            throw HTTPError(
                .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"postroom\", error=\"invalid_token\""],
                message: "invalid bearer token")
        }
        return try await next(request, context)
    }

    func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
