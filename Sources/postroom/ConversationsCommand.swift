import ArgumentParser
import Conversations
import Foundation
import Store

struct ConversationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversations", abstract: "Read conversations: what the team works with.", subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List conversations, most recent activity first (the filters of GET /api/conversations).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this inbox (slug).") var inbox: String?
        @Option(help: "open, closed, snoozed or spam.") var status: String?
        @Option(help: "Words to find in subjects and text (all must match; prefixes match).") var query: String?
        @Option(help: "Only those assigned to this user id.") var assignee: Int64?
        @Flag(help: "Only those assigned to no one.") var unassigned = false
        @Option(help: "Only those assigned to this team id.") var team: Int64?
        @Option(help: "Only those with this contact id.") var contact: Int64?
        @Option(help: "Only those with this label (from filters).") var label: String?
        @Flag(inversion: .prefixedNo, help: "Only those with (or without) a ticket.") var ticket: Bool?
        @Flag(help: "Also those started by discarded messages.") var hidden = false
        @Option(help: "At most this many (1-500).") var limit: Int = 50
        @Option(help: "The nextCursor of the previous page.") var cursor: String?
        @Flag(help: "Print JSON (as GET /api/conversations answers).") var json = false

        func run() async throws {
            let queries = ConversationQueries(store: try openStore(try loadConfig(global)))
            var filter = ConversationQueries.Filter(
                inbox: inbox, status: status, contactID: contact, assignee: assignee, unassigned: unassigned, team: team, hasTicket: ticket,
                text: query, limit: limit, cursor: cursor)
            filter.label = label
            filter.includeHidden = hidden
            let page = try await conversationCall { try await queries.list(filter) }
            if json { return try printJSON(page) }
            for c in page.conversations {
                let ticket = c.ticket.map { " [#\($0.number)]" } ?? ""
                let assigned = c.assigneeUserId.map { "user \($0)" } ?? c.assigneeTeamId.map { "team \($0)" } ?? "-"
                print(
                    "\(c.id)\t\(c.inbox)\t\(c.status)\t\(c.lastMessageAt)\t\(c.messageCount) msg\t\(assigned)\t\(c.contact?.email ?? "-")\t"
                        + "\(c.subject ?? "(no subject)")\(ticket)")
            }
            if let next = page.nextCursor { print("more: --cursor \(next)") }
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
            print("assigned to \(c.assigneeUserId.map { "user \($0)" } ?? c.assigneeTeamId.map { "team \($0)" } ?? "no one")")
            for m in detail.timeline {
                print("")
                print("── message \(m.messageId) (\(m.queueId)) \(m.receivedAt) from \(m.fromName.map { "\($0) " } ?? "")<\(m.from ?? "")>")
                print("   threaded by \(m.threadRule): \(m.threadDetail ?? "")")
                if let automatic = m.automatic { print("   automatic: \(automatic)") }
                if let quarantine = m.quarantine { print("   needs review: \(quarantine)") }
                if m.duplicateDeliveries > 0 { print("   delivered \(m.duplicateDeliveries + 1) times") }
                for d in m.deliveries ?? [] {
                    print("   delivery to <\(d.recipient)>: \(d.state) after \(d.attempts) attempt\(d.attempts == 1 ? "" : "s")\(d.lastReply.map { " (\($0))" } ?? "")")
                }
                print("")
                print(m.text.split(separator: "\n", omittingEmptySubsequences: false).map { "   " + $0 }.joined(separator: "\n"))
                if quoted, let q = m.quotedText { print(q.split(separator: "\n", omittingEmptySubsequences: false).map { "   | " + $0 }.joined(separator: "\n")) }
                for a in m.attachments { print("   📎 \(a.filename ?? "(unnamed)") \(a.contentType) \(a.size) bytes (part \(a.part))") }
            }
            if !detail.events.isEmpty {
                print("")
                print("── events")
                for e in detail.events {
                    print("   \(e.createdAt) \(e.kind)\(e.authorId.map { " by user \($0)" } ?? ""): \(e.body ?? "")")
                }
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
