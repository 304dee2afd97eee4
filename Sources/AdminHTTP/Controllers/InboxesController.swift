import Conversations
import Hummingbird
import Store

/// `/api/inboxes`: the inboxes, their settings and who works in them.
struct InboxesController {
    let store: Store
    let people: People
    /// fallback-domain: where a new inbox's fallback address lives.
    let fallbackDomain: String

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ -> InboxList in
            InboxList(inboxes: try await store.listInboxes())
        }
        group.post { request, context -> Response in
            let input = try await request.decodeInput(as: NewInbox.self, context: context)
            var inbox = try await store.createInbox(name: input.name, slug: input.slug, addresses: input.addresses ?? [], fallbackDomain: fallbackDomain)
            if input.createTickets != nil || input.trustReferences != nil {
                inbox = try await store.updateInbox(slug: inbox.slug, trustReferences: input.trustReferences, createTickets: input.createTickets)
            }
            return try .json(inbox, status: .created)
        }
        group.delete(":slug") { _, context -> Deleted in
            let slug = try context.parameters.require("slug")
            try await store.deleteInbox(slug: slug)
            return Deleted(deleted: slug)
        }
        group.get(":slug") { _, context -> Inbox in
            let slug = try context.parameters.require("slug")
            guard let inbox = try await store.inbox(slug: slug) else { throw StoreError.inboxNotFound(slug) }
            return inbox
        }
        group.patch(":slug/settings") { request, context -> Inbox in
            let slug = try context.parameters.require("slug")
            let change = try await request.decodeInput(as: InboxChange.self, context: context)
            if let target = change.routingTarget, target < 1 { throw RequestError.invalid("routingTarget must be a user or team id (1 or more)") }
            if let routing = change.routing {
                try await people.setRouting(slug: slug, rule: routing, target: change.routingTarget)
            }
            return try await store.updateInbox(
                slug: slug, name: change.name, trustReferences: change.trustReferences, createTickets: change.createTickets,
                autoAcknowledge: change.autoAcknowledge, autoAcknowledgeText: change.autoAcknowledgeText,
                dmarcReject: change.dmarcReject.map { $0 == "default" ? nil : $0 })
        }
        group.get(":slug/members") { _, context -> Members in
            Members(members: try await people.inboxMembers(slug: try context.parameters.require("slug")))
        }
        group.put(":slug/members") { request, context -> Members in
            let slug = try context.parameters.require("slug")
            let body = try await request.decodeInput(as: Members.self, context: context)
            return Members(members: try await people.setInboxMembers(slug: slug, body.members))
        }
    }
}

/// `POST /api/inboxes`.
struct NewInbox: Decodable {
    var name: String
    var slug: String?
    var addresses: [String]?
    var createTickets: Bool?
    var trustReferences: Bool?
}

struct Deleted: ResponseEncodable {
    var deleted: String
}

struct InboxList: ResponseEncodable {
    var inboxes: [Inbox]
}

extension Inbox: ResponseEncodable {}

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

/// User ids: the members of an inbox or a team.
struct Members: ResponseCodable {
    var members: [Int64]
}
