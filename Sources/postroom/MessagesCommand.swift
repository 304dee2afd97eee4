import ArgumentParser
import Foundation
import Store

struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages", abstract: "Read what arrived.", subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List messages, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only messages for this inbox (slug).") var inbox: String?
        @Option(help: "At most this many.") var limit: Int = 100
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let messages = try await storeCall { try await store.listMessages(inbox: inbox, limit: limit) }
            if json {
                try printJSON(messages)
                return
            }
            for m in messages {
                let to = m.recipients.map(\.address).joined(separator: ",")
                print("\(m.id)\t\(m.queueId)\t\(m.receivedAt)\t<\(m.from)>\t\(to)\t\(m.size)\t\(m.subject ?? "")")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one message by id or queue id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Message id or queue id.") var id: String
        @Flag(help: "Print the stored bytes exactly as received.") var raw = false
        @Flag(help: "With --raw, put the Received header first, as a delivery would.") var withReceived = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            if raw {
                let stored = try await storeCall { try await store.rawMessage(id) }
                if withReceived { FileHandle.standardOutput.write(Data(stored.receivedHeader.utf8)) }
                FileHandle.standardOutput.write(stored.raw)
                return
            }
            let detail = try await storeCall { try await store.message(id) }
            if json {
                try printJSON(detail)
                return
            }
            let m = detail.message
            print("id:          \(m.id)")
            print("queue id:    \(m.queueId)")
            print("received:    \(m.receivedAt) from \(m.helo) [\(m.clientIp)] with \(m.protocol)")
            print("from:        <\(m.from)>")
            for r in m.recipients {
                print("to:          <\(r.address)> → inbox \(r.inbox) (\(r.inboxAddress)\(r.tag.map { ", tag \($0)" } ?? ""))")
            }
            print("size:        \(m.size) octets")
            print("state:       \(m.state)")
            print("")
            print(detail.receivedHeader, terminator: "")
            for header in detail.headers { print("\(header.name): \(header.value)") }
        }
    }
}
