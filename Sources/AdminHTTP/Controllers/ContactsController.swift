import Conversations
import Hummingbird
import Store

/// `/api/contacts`: the people who write in, with their addresses and conversations.
struct ContactsController {
    let contacts: Contacts
    let queries: ConversationQueries

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { request, _ -> ContactList in
            ContactList(contacts: try await contacts.search(request.uri.queryParameters.get("q")))
        }
        group.post { request, context -> ContactDetail in
            let input = try await request.decodeInput(as: ContactInput.self, context: context)
            guard let email = input.email else { throw RequestError.invalid("email is required") }
            // The further addresses are checked before anything is stored.
            let extra = try APIAddress.parseList(input.addEmails ?? [], field: "addEmails")
            let id = try await contacts.create(email: email, name: input.name)
            if !extra.isEmpty { try await contacts.update(id, name: nil, email: nil, addEmails: extra) }
            return try await queries.contact(id)
        }
        group.get(":id") { _, context -> ContactDetail in
            try await queries.contact(try context.id())
        }
        group.patch(":id") { request, context -> ContactDetail in
            let id = try context.id()
            let input = try await request.decodeInput(as: ContactInput.self, context: context)
            try await contacts.update(id, name: input.name, email: input.email, addEmails: input.addEmails ?? [])
            return try await queries.contact(id)
        }
        group.post(":id/merge") { request, context -> ContactDetail in
            let id = try context.id()
            let input = try await request.decodeInput(as: MergeInput.self, context: context)
            try await contacts.merge(id, into: input.into)
            return try await queries.contact(input.into)
        }
    }
}

struct ContactInput: Decodable {
    var email: String?
    var name: String?
    var addEmails: [String]?
}

struct ContactList: ResponseEncodable {
    var contacts: [ContactSummary]
}

extension ContactDetail: ResponseEncodable {}
