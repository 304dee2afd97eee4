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
            if json { return try printJSON(["deliveries": items]) }
            for i in items {
                print("\(i.id)\t\(i.queueId)\t\(i.state)\t\(i.attempts)\t\(i.nextAttemptAt)\t<\(i.recipient)>\t\(i.lastReply ?? "")")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One delivery (its id from queue list): its state, then the message's bytes.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Delivery id, as queue list prints it (the ids of every queue subcommand are delivery ids).") var id: Int64
        @Flag(help: "Print the delivery as JSON (as GET /api/queue lists it), without the bytes.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            guard let item = try await OutboundQueue(store: store).item(id: id) else { fail("no delivery \(id) (queue list shows the deliveries)") }
            if json { return try printJSON(item) }
            print("\(item.id)\t\(item.queueId)\t\(item.state)\tattempts \(item.attempts)\tnext \(item.nextAttemptAt)\t<\(item.recipient)>\t\(item.lastReply ?? "")")
            print("")
            let stored = try await storeCall { try await store.rawMessage(String(item.messageId)) }
            FileHandle.standardOutput.write(stored.raw)
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Try one delivery (or, with --failed, a failed one) again now.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Delivery id (from queue list).") var id: Int64
        @Flag(help: "Also retry it if it failed.") var failed = false
        @Flag(help: "Print JSON, as POST /api/queue/retry answers.") var json = false

        func run() async throws {
            let queue = OutboundQueue(store: try openStore(try loadConfig(global)))
            let retried = try await conversationCall { try await queue.retry(id: id, includeFailed: failed) }
            if json { return try printJSON(["retried": retried]) }
            print("delivery \(id) made due now")
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make every deferred delivery due now.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON, as POST /api/queue/retry answers.") var json = false

        func run() async throws {
            let queue = OutboundQueue(store: try openStore(try loadConfig(global)))
            let retried = try await queue.retry()
            if json { return try printJSON(["retried": retried]) }
            print("\(retried) deliver\(retried == 1 ? "y" : "ies") made due now")
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop trying one pending delivery.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Delivery id (from queue list).") var id: Int64
        @Flag(help: "Print the delivery afterwards as JSON.") var json = false

        func run() async throws {
            let queue = OutboundQueue(store: try openStore(try loadConfig(global)))
            try await conversationCall { try await queue.drop(id: id) }
            if json, let item = try await queue.item(id: id) { return try printJSON(item) }
            print("dropped \(id)")
        }
    }
}
