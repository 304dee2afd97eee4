import ArgumentParser
import Foundation
import Store

struct InboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox", abstract: "Create and list inboxes and the addresses they own.",
        subcommands: [Create.self, List.self, AddAddress.self, RemoveAddress.self, Set.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an inbox; it also gets a fallback address.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Display name, e.g. \"Sales\".") var name: String
        @Option(name: .long, help: "Slug (default: from the name).") var slug: String?
        @Option(name: .customLong("address"), help: "A team address the inbox owns (repeatable).") var addresses: [String] = []
        @Flag(help: "Print the inbox as JSON.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let store = try openStore(config)
            let inbox = try await storeCall {
                try await store.createInbox(name: name, slug: slug, addresses: addresses, fallbackDomain: config.effectiveFallbackDomain)
            }
            if json { try printJSON(inbox) } else { printInbox(inbox) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List inboxes with their addresses.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let inboxes = try await storeCall { try await store.listInboxes() }
            if json {
                try printJSON(inboxes)
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

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            printInbox(try await storeCall { try await store.addAddress(address, toInbox: slug) })
        }
    }

    struct RemoveAddress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-address", abstract: "Take a team address away from an inbox.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Inbox slug.") var slug: String
        @Argument(help: "Address to remove.") var address: String

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            printInbox(try await storeCall { try await store.removeAddress(address, fromInbox: slug) })
        }
    }
}

extension InboxCommand {
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an inbox's name or settings.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Inbox slug.") var slug: String
        @Option(help: "New display name.") var name: String?
        @Option(help: "Thread references even from senders who are not participants (true/false).") var trustReferences: Bool?
        @Option(help: "Give each new conversation a ticket (true/false).") var createTickets: Bool?
        @Option(help: "DMARC fail under p=reject: refuse, spam, mark, or default (auth.dmarc-reject).") var dmarcReject: String?

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            printInbox(try await storeCall { try await store.updateInbox(
                slug: slug, name: name, trustReferences: trustReferences, createTickets: createTickets,
                dmarcReject: dmarcReject.map { $0 == "default" ? nil : $0 }) })
        }
    }
}

func printInbox(_ inbox: Inbox) {
    print("\(inbox.slug)\t\(inbox.name)")
    for address in inbox.addresses { print("\tteam\t\(address)") }
    print("\tfallback\t\(inbox.fallbackAddress)")
    print("\tsettings\ttrust-references=\(inbox.trustReferences) create-tickets=\(inbox.createTickets) dmarc-reject=\(inbox.dmarcReject ?? "default")")
}
