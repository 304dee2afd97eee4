import ArgumentParser
import Foundation
import Conversations
import Outbound
import Store

extension ProcessingState: ExpressibleByArgument {}

struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages", abstract: "Read what arrived.", subcommands: [List.self, Show.self, Process.self, Reprocess.self, Quarantine.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List messages, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only messages for this inbox (slug).") var inbox: String?
        @Option(help: "Only messages in this processing state: \(ProcessingState.names).") var state: ProcessingState?
        @Option(help: "At most this many.") var limit: Int = 100
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let messages = try await storeCall { try await store.listMessages(inbox: inbox, state: state, limit: limit) }
            if json {
                try printJSON(["messages": messages])
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
            printAuthentication(detail.authentication)
            print("")
            print(detail.receivedHeader, terminator: "")
            for header in detail.headers { print("\(header.name): \(header.value)") }
        }
    }

    struct Process: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "File every spooled message now (for a server running with processing.paused, or none running).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print the count and time as JSON.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let store = try openStore(config)
            let processor = MessageProcessor(store: store, token: ReplyToken(secret: try ReplyToken.loadOrCreateSecret(dataDir: config.dataDir)))
            processor.dmarcRejectDefault = config.authDMARCReject
            processor.historyStatus = config.importStatus
            let started = ContinuousClock.now
            let count = try await processor.processPending()
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let perMessage = count > 0 ? seconds / Double(count) * 1e6 : 0
            if json {
                struct Processed: Encodable {
                    var processed: Int
                    var seconds: Double
                    var microsecondsPerMessage: Double
                }
                try printJSON(Processed(processed: count, seconds: seconds, microsecondsPerMessage: perMessage))
            } else {
                print("processed \(count) messages in \(String(format: "%.3f", seconds)) s (\(String(format: "%.0f", perMessage)) µs per message)")
            }
        }
    }

    struct Reprocess: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run processing (parse, thread, file) again for one message.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Message id or queue id.") var id: String
        @Flag(help: "Print the message afterwards as JSON (as GET /api/messages/ID answers).") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let store = try openStore(config)
            let detail = try await storeCall { try await store.message(id) }
            let processor = MessageProcessor(store: store, token: ReplyToken(secret: try ReplyToken.loadOrCreateSecret(dataDir: config.dataDir)))
            processor.dmarcRejectDefault = config.authDMARCReject
            processor.historyStatus = config.importStatus
            try await storeCall { try await processor.reprocess(messageID: detail.message.id) }
            let after = try await store.message(id)
            if json { return try printJSON(after) }
            print("message \(after.message.id): \(after.message.state)")
        }
    }

    struct Quarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Messages that need a person's look (could not be parsed or filed cleanly).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let queries = ConversationQueries(store: try openStore(try loadConfig(global)))
            let items = try await queries.quarantine()
            if json { return try printJSON(["messages": items]) }
            if items.isEmpty { print("quarantine is empty") }
            for i in items {
                print("\(i.messageId)\t\(i.queueId)\t\(i.receivedAt)\t<\(i.from ?? "")>\t\(i.reason)\tconversations \(i.conversationIds.map(String.init).joined(separator: ","))")
            }
        }
    }
}

/// The sender checks of `messages show`: the verdict, then one line per check, each DKIM
/// signature with its domain and selector.
func printAuthentication(_ report: JSONValue?) {
    guard let report else {
        print("sender:      not checked (not received over SMTP, or auth.enabled was false)")
        return
    }
    func text(_ v: JSONValue?) -> String { v?.string ?? "" }
    print("sender:      \(text(report["verdict"])): \(text(report["verifiedBy"]))")
    if let spf = report["spf"] { print("  spf:       \(text(spf["result"])) for \(text(spf["domain"])) (\(text(spf["reason"])))") }
    if let helo = report["spfHelo"], case .object = helo { print("  spf helo:  \(text(helo["result"])) for \(text(helo["domain"])) (\(text(helo["reason"])))") }
    let signatures = report["dkim"]?.array ?? []
    if signatures.isEmpty { print("  dkim:      none (no signature)") }
    for s in signatures {
        print("  dkim:      \(text(s["result"])) d=\(text(s["domain"])) s=\(text(s["selector"])) \(text(s["algorithm"])) (\(text(s["reason"])))")
    }
    if let d = report["dmarc"] {
        let policy = d["policy"]?.string.map { ", policy \($0)" } ?? ""
        print("  dmarc:     \(text(d["result"])) header.from=\(text(d["fromDomain"]))\(policy) (\(text(d["reason"])))")
    }
    if let a = report["arc"] { print("  arc:       \(text(a["result"])) (\(text(a["reason"])))") }
}
