import Conversations
import Foundation
import Hummingbird
import Store
import Outbound

/// `/api/conversations`: the shared inbox's list, one conversation with its timeline,
/// and what an agent does to it (status, assignment, comments, ticket, replies, split,
/// merge).
struct ConversationsController {
    let queries: ConversationQueries
    let actions: ConversationActions
    let replies: Replies

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { request, _ -> ConversationPage in
            let q = QueryReader(request)
            var filter = ConversationQueries.Filter(
                inbox: q.text("inbox"), status: q.text("status"), contactID: try q.id("contact"), assignee: try q.id("assignee"),
                unassigned: try q.flag("unassigned") ?? false, team: try q.id("team"), hasTicket: try q.flag("has-ticket"),
                channel: q.text("channel"), text: q.text("q"), limit: try q.int("limit") ?? 50, cursor: q.text("cursor"))
            filter.includeHidden = try q.flag("hidden") ?? false
            filter.label = q.text("label")
            return try await queries.list(filter)
        }
        group.get(":id") { _, context -> ConversationDetail in
            try await queries.conversation(try context.id())
        }
        group.post(":id/status") { request, context -> ConversationSummary in
            let id = try context.id()
            let change = try await request.decodeInput(as: StatusChange.self, context: context)
            let until = try change.until.map { text -> Date in
                guard let date = RFC3339.date(text) else { throw RequestError.invalid("until must be an RFC 3339 time, such as 2026-12-24T09:00:00Z") }
                return date
            }
            try await actions.setStatus(id, status: change.status, snoozeUntil: until, by: change.by)
            return try await queries.conversation(id).conversation
        }
        group.post(":id/assign") { request, context -> ConversationSummary in
            let id = try context.id()
            let change = try await request.decodeInput(as: AssignChange.self, context: context)
            try await actions.assign(id, user: change.userId, team: change.teamId, by: change.by)
            return try await queries.conversation(id).conversation
        }
        group.post(":id/comments") { request, context -> Response in
            let id = try context.id()
            let input = try await request.decodeInput(as: CommentInput.self, context: context)
            return try .json(try await actions.comment(id, author: input.authorId, body: input.body), status: .created)
        }
        group.patch(":id/ticket") { request, context -> ConversationSummary in
            let id = try context.id()
            let change = try await request.decodeInput(as: TicketChange.self, context: context)
            try await actions.updateTicket(id, stage: change.stage, priority: change.priority, owner: change.ownerId, by: change.by)
            return try await queries.conversation(id).conversation
        }
        group.post(":id/replies") { request, context -> Response in
            let id = try context.id()
            let input = try await request.decodeInput(as: ReplyInput.self, context: context)
            return try .json(try await replies.reply(to: id, input), status: .created)
        }
        group.post(":id/split") { request, context -> ConversationDetail in
            let id = try context.id()
            let input = try await request.decodeInput(as: SplitInput.self, context: context)
            return try await queries.conversation(try await actions.split(id, messageID: input.messageId, by: input.by))
        }
        group.post(":id/merge") { request, context -> ConversationDetail in
            let id = try context.id()
            let input = try await request.decodeInput(as: MergeInput.self, context: context)
            try await actions.merge(id, into: input.into, by: input.by)
            return try await queries.conversation(input.into)
        }
    }
}

extension ConversationPage: ResponseEncodable {}
extension ConversationDetail: ResponseEncodable {}
extension ConversationSummary: ResponseEncodable {}

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

struct SplitInput: Decodable {
    var messageId: Int64
    var by: Int64?
}

/// Merging a conversation or a contact into another.
struct MergeInput: Decodable {
    var into: Int64
    var by: Int64?
}
