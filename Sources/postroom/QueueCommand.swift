import ArgumentParser
import Conversations
import Foundation
import Outbound

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "The outbound queue: replies waiting for delivery.",
        subcommands: [List.self, Show.self, Retry.self, Flush.self, Drop.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliveries, newest first.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Only those not delivered yet or failed.") var pending = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let queue = OutboundQueue(store: try openStore(try loadConfig(global)))
            let items = try await queue.list(states: pending ? ["queued", "deferred", "failed"] : nil)
            if json { return try printJSON(items) }
            for i in items {
                print("\(i.id)\t\(i.queueId)\t\(i.state)\t\(i.attempts)\t\(i.nextAttemptAt)\t<\(i.recipient)>\t\(i.lastReply ?? "")")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One queued message: its deliveries and its bytes.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Message id or queue id.") var id: String

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let stored = try await storeCall { try await store.rawMessage(id) }
            let items = try await OutboundQueue(store: store).list().filter { $0.queueId == stored.queueID }
            for i in items { print("\(i.id)\t\(i.state)\tattempts \(i.attempts)\tnext \(i.nextAttemptAt)\t<\(i.recipient)>\t\(i.lastReply ?? "")") }
            print("")
            FileHandle.standardOutput.write(stored.raw)
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Try one delivery (or, with --failed, also failed ones) again now.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Delivery id (from queue list).") var id: Int64
        @Flag(help: "Also retry it if it failed.") var failed = false

        func run() async throws {
            let queue = OutboundQueue(store: try openStore(try loadConfig(global)))
            print("\(try await queue.retry(id: id, includeFailed: failed)) delivery made due now")
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make every deferred delivery due now.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let queue = OutboundQueue(store: try openStore(try loadConfig(global)))
            print("\(try await queue.retry()) deliveries made due now")
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop trying one pending delivery.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Delivery id.") var id: Int64

        func run() async throws {
            let queue = OutboundQueue(store: try openStore(try loadConfig(global)))
            try await conversationCall { try await queue.drop(id: id) }
            print("dropped \(id)")
        }
    }
}
