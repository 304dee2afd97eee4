import ArgumentParser
import Conversations
import Foundation
import Store

struct InboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox", abstract: "Create and list inboxes and the addresses they own.",
        subcommands: [Create.self, List.self, AddAddress.self, RemoveAddress.self, Set.self, Delete.self])

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an inbox that holds no mail (as DELETE /api/inboxes/SLUG); one that holds mail is refused (exit 65).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Inbox slug.") var slug: String
        @Flag(help: "Print JSON: {\"deleted\": slug}.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            try await storeCall { try await store.deleteInbox(slug: slug) }
            if json { return try printJSON(["deleted": slug]) }
            print("deleted inbox \(slug)")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an inbox; it also gets a fallback address.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Display name, e.g. \"Sales\".") var name: String
        @Option(name: .long, help: "Slug (default: from the name).") var slug: String?
        @Option(name: .customLong("address"), help: "A team address the inbox owns (repeatable).") var addresses: [String] = []
        @Flag(inversion: .prefixedNo, help: "Give each new conversation a ticket (default: no).") var createTickets: Bool?
        @Flag(inversion: .prefixedNo, help: "Thread references even from senders who are not participants (default: no).") var trustReferences: Bool?
        @Flag(help: "Print the inbox as JSON (as GET /api/inboxes/SLUG answers).") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let store = try openStore(config)
            var inbox = try await storeCall {
                try await store.createInbox(name: name, slug: slug, addresses: addresses, fallbackDomain: config.effectiveFallbackDomain)
            }
            if createTickets != nil || trustReferences != nil {
                let slug = inbox.slug
                inbox = try await storeCall { try await store.updateInbox(slug: slug, trustReferences: trustReferences, createTickets: createTickets) }
            }
            if json { try printJSON(inbox) } else { printInbox(inbox) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List inboxes with their addresses.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON (as GET /api/inboxes answers: {\"inboxes\": [...]}).") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let inboxes = try await storeCall { try await store.listInboxes() }
            if json {
                try printJSON(["inboxes": inboxes])
            } else if inboxes.isEmpty {
                print("no inboxes")
            } else {
                inboxes.forEach(printInbox)
            }
        }
    }

    struct AddAddress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-address", abstract: "Give an inbox another team address.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Inbox slug.") var slug: String
        @Argument(help: "Address, e.g. sales@example.com.") var address: String

        @Flag(help: "Print the inbox afterwards as JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let inbox = try await storeCall { try await store.addAddress(address, toInbox: slug) }
            if json { try printJSON(inbox) } else { printInbox(inbox) }
        }
    }

    struct RemoveAddress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-address", abstract: "Take a team address away from an inbox.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Inbox slug.") var slug: String
        @Argument(help: "Address to remove.") var address: String

        @Flag(help: "Print the inbox afterwards as JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let inbox = try await storeCall { try await store.removeAddress(address, fromInbox: slug) }
            if json { try printJSON(inbox) } else { printInbox(inbox) }
        }
    }
}

extension InboxCommand {
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an inbox's name or settings (what PATCH /api/inboxes/SLUG/settings changes); what is not given stays.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Inbox slug.") var slug: String
        @Option(help: "New display name.") var name: String?
        @Flag(inversion: .prefixedNo, help: "Thread references even from senders who are not participants.") var trustReferences: Bool?
        @Flag(inversion: .prefixedNo, help: "Give each new conversation a ticket.") var createTickets: Bool?
        @Option(help: "How new conversations are assigned: none, user, team, round-robin or fewest-open.") var routing: String?
        @Option(help: "The user id (routing user) or team id (routing team).") var routingTarget: Int64?
        @Flag(inversion: .prefixedNo, help: "Acknowledge each new conversation to its (authenticated) sender.") var autoAcknowledge: Bool?
        @Option(help: "The acknowledgement's text.") var autoAcknowledgeText: String?
        @Option(help: "DMARC fail under p=reject: refuse, spam, mark, or default (auth.dmarc-reject).") var dmarcReject: String?
        @Flag(help: "Print the inbox afterwards as JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            if let routing {
                try await conversationCall { try await People(store: store).setRouting(slug: slug, rule: routing, target: routingTarget) }
            }
            let inbox = try await storeCall {
                try await store.updateInbox(
                    slug: slug, name: name, trustReferences: trustReferences, createTickets: createTickets, autoAcknowledge: autoAcknowledge,
                    autoAcknowledgeText: autoAcknowledgeText, dmarcReject: dmarcReject.map { $0 == "default" ? nil : $0 })
            }
            if json { try printJSON(inbox) } else { printInbox(inbox) }
        }
    }
}

func printInbox(_ inbox: Inbox) {
    print("\(inbox.slug)\t\(inbox.name)")
    for address in inbox.addresses { print("\tteam\t\(address)") }
    print("\tfallback\t\(inbox.fallbackAddress)")
    print(
        "\tsettings\ttrust-references=\(inbox.trustReferences) create-tickets=\(inbox.createTickets) routing=\(inbox.routing)"
            + "\(inbox.routingTarget.map { " routing-target=\($0)" } ?? "") auto-acknowledge=\(inbox.autoAcknowledge) dmarc-reject=\(inbox.dmarcReject ?? "default")")
}
