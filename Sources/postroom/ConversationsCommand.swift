import ArgumentParser
import Conversations
import Foundation
import Store

struct ConversationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversations", abstract: "Read conversations: what the team works with.", subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List conversations, most recent activity first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this inbox (slug).") var inbox: String?
        @Option(help: "open, closed, snoozed or spam.") var status: String?
        @Option(help: "At most this many.") var limit: Int = 50
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let queries = ConversationQueries(store: try openStore(try loadConfig(global)))
            let page = try await conversationCall { try await queries.list(.init(inbox: inbox, status: status, limit: limit)) }
            if json { return try printJSON(page) }
            for c in page.conversations {
                let ticket = c.ticket.map { " [#\($0.number)]" } ?? ""
                print("\(c.id)\t\(c.inbox)\t\(c.status)\t\(c.lastMessageAt)\t\(c.messageCount) msg\t\(c.contact?.email ?? "-")\t\(c.subject ?? "(no subject)")\(ticket)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a conversation's timeline.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Conversation id.") var id: Int64
        @Flag(help: "Also print the quoted part of each message.") var quoted = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let queries = ConversationQueries(store: try openStore(try loadConfig(global)))
            let detail = try await conversationCall { try await queries.conversation(id) }
            if json { return try printJSON(detail) }
            let c = detail.conversation
            print("conversation \(c.id) in \(c.inbox): \(c.subject ?? "(no subject)")")
            print("status \(c.status)\(c.ticket.map { ", ticket [#\($0.number)] \($0.stage), \($0.priority) priority" } ?? "")\(c.linkedConversationId.map { ", linked to \($0)" } ?? "")")
            print("contact \(c.contact.map { "\($0.name ?? "") <\($0.email)>" } ?? "-"); participants \(detail.participants.joined(separator: ", "))")
            for m in detail.timeline {
                print("")
                print("── message \(m.messageId) (\(m.queueId)) \(m.receivedAt) from \(m.fromName.map { "\($0) " } ?? "")<\(m.from ?? "")>")
                print("   threaded by \(m.threadRule): \(m.threadDetail ?? "")")
                if let automatic = m.automatic { print("   automatic: \(automatic)") }
                if let quarantine = m.quarantine { print("   needs review: \(quarantine)") }
                if m.duplicateDeliveries > 0 { print("   delivered \(m.duplicateDeliveries + 1) times") }
                print("")
                print(m.text.split(separator: "\n", omittingEmptySubsequences: false).map { "   " + $0 }.joined(separator: "\n"))
                if quoted, let q = m.quotedText { print(q.split(separator: "\n", omittingEmptySubsequences: false).map { "   | " + $0 }.joined(separator: "\n")) }
                for a in m.attachments { print("   📎 \(a.filename ?? "(unnamed)") \(a.contentType) \(a.size) bytes (part \(a.part))") }
            }
        }
    }
}

func conversationCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as RequestError {
        fail(error.description)
    } catch let error as StoreError {
        fail(error.description)
    }
}
