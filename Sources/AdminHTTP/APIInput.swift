import Conversations
import Foundation
import Hummingbird
import NIOCore
import Outbound
import Store

/// A request body the API takes, held to openapi.yaml's schema before it is decoded:
/// a property the schema does not name, or `null` where the schema does not allow it,
/// is refused with a 400 that names it (Swift's decoder would take both silently,
/// `null` as "not given").
protocol APIInput: Decodable {
    /// The properties the body may have (the schema's, with `additionalProperties: false`).
    static var fields: Set<String> { get }
    /// Those that may be `null` (to clear a value).
    static var nullable: Set<String> { get }
    /// The same rules for objects inside the body (the reply's attachments).
    static func checkNested(_ body: [String: Any]) throws
}

extension APIInput {
    static var nullable: Set<String> { [] }
    static func checkNested(_ body: [String: Any]) throws {}

    /// Each element of `body[key]` is an object with only `fields`, none null.
    static func checkObjects(_ body: [String: Any], key: String, fields: Set<String>) throws {
        guard let list = body[key] as? [Any] else { return }
        for (index, element) in list.enumerated() {
            guard let object = element as? [String: Any] else { throw RequestError.invalid("\(key)[\(index)] must be an object") }
            for name in object.keys.sorted() {
                guard fields.contains(name) else {
                    throw RequestError.invalid("\(key)[\(index)]: unknown property '\(name)'; it takes \(fields.sorted().joined(separator: ", "))")
                }
                if object[name] is NSNull { throw RequestError.invalid("\(key)[\(index)].\(name) must not be null") }
            }
        }
    }
}

extension Request {
    /// The body as `T`, after the schema's object rules.
    func decodeInput<T: APIInput>(as type: T.Type, context: some RequestContext) async throws -> T {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        let data = Data(buffer: buffer)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw RequestError.invalid("the body is not JSON")
        }
        guard let dictionary = object as? [String: Any] else { throw RequestError.invalid("the body must be a JSON object") }
        for key in dictionary.keys.sorted() {
            guard T.fields.contains(key) else {
                throw RequestError.invalid("unknown property '\(key)'; this request takes \(T.fields.sorted().joined(separator: ", "))")
            }
            if dictionary[key] is NSNull, !T.nullable.contains(key) { throw RequestError.invalid("\(key) must not be null") }
        }
        try T.checkNested(dictionary)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw RequestError.invalid(JSONErrorMiddleware<BasicRequestContext>.describe(error))
        }
    }
}

extension AssignChange: APIInput {
    static let fields: Set<String> = ["userId", "teamId", "by"]
    /// `null` unassigns.
    static let nullable: Set<String> = ["userId", "teamId"]
}
extension CommentInput: APIInput { static let fields: Set<String> = ["authorId", "body"] }
extension ContactInput: APIInput { static let fields: Set<String> = ["email", "name", "addEmails"] }
extension FilterTestInput: APIInput { static let fields: Set<String> = ["script", "message", "from", "to", "trace"] }
extension FilterDiffInput: APIInput { static let fields: Set<String> = ["inbox", "script", "old", "since", "limit", "budgetMs", "trace"] }
extension InboxChange: APIInput {
    static let fields: Set<String> = [
        "name", "trustReferences", "createTickets", "autoAcknowledge", "autoAcknowledgeText", "dmarcReject", "routing", "routingTarget",
    ]
}
extension NewInbox: APIInput { static let fields: Set<String> = ["name", "slug", "addresses", "createTickets", "trustReferences"] }
extension Members: APIInput { static let fields: Set<String> = ["members"] }
extension MergeInput: APIInput { static let fields: Set<String> = ["into", "by"] }
extension NewMailbox: APIInput {
    static let fields: Set<String> = ["inbox", "host", "port", "security", "user", "passwordEnv", "folder", "importHistory"]
}
extension ReplyInput: APIInput {
    static let fields: Set<String> = ["text", "html", "cc", "bcc", "from", "authorId", "attachments"]
    static func checkNested(_ body: [String: Any]) throws {
        try checkObjects(body, key: "attachments", fields: ["filename", "contentType", "data"])
    }
}
extension SplitInput: APIInput { static let fields: Set<String> = ["messageId", "by"] }
extension StatusChange: APIInput { static let fields: Set<String> = ["status", "until", "by"] }
extension TeamInput: APIInput { static let fields: Set<String> = ["name", "members"] }
extension TicketChange: APIInput {
    static let fields: Set<String> = ["stage", "priority", "ownerId", "by"]
    /// `"ownerId": null` takes the ticket's owner away.
    static let nullable: Set<String> = ["ownerId"]
}
extension UserInput: APIInput {
    static let fields: Set<String> = [
        "name", "email", "avatarUrl", "meetingLink", "available", "notifyByEmail", "notifyNewConversation", "notifyAssigned", "notifyMention",
        "notifyCustomerReply",
    ]
}
