import ArgumentParser
import Conversations
import Foundation
import MailboxPull
import IMAPClient

/// `postroom mailbox add|list|test|sync|remove`: existing mailboxes pulled over IMAP.
struct MailboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox", abstract: "Connect existing IMAP mailboxes to inboxes.",
        subcommands: [Add.self, List.self, Test.self, Sync.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connect a mailbox; the running server pulls it on its poll interval.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Inbox slug the mail is filed in.") var inbox: String
        @Option(help: "IMAP server host.") var host: String
        @Option(help: "Port (default 993 for implicit, 143 otherwise).") var port: Int?
        @Option(help: "implicit (TLS on connect), starttls, or plain (loopback only).") var security = "implicit"
        @Option(name: [.customLong("username"), .customLong("user")], help: "Login name (--user is the same).") var username: String
        @Option(help: "Environment variable of the server that holds the password (never stored).") var passwordEnv: String
        @Option(help: "Folder to pull.") var folder = "INBOX"
        @Flag(help: "Pull the folder's existing mail too (default: only mail that arrives from now on).") var importHistory = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let mailbox = try await conversationCall {
                try await ConnectedMailboxes(store: store).add(
                    inbox: inbox, host: host, port: port ?? (security == "implicit" ? 993 : 143), security: security, username: username,
                    passwordEnv: passwordEnv, folder: folder, importHistory: importHistory)
            }
            if json { try printJSON(mailbox) } else { printMailbox(mailbox) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connected mailboxes with their status.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            let all = try await conversationCall { try await ConnectedMailboxes(store: store).list() }
            if json { try printJSON(["mailboxes": all]) } else if all.isEmpty { print("no connected mailboxes") } else { all.forEach(printMailbox) }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the running server to log in and print the folder's counts (POST /api/mailboxes/ID/test: the password is in the server's environment).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Mailbox id.") var id: Int64
        @Flag(help: "Print the server's answer as JSON.") var json = false

        struct Result: Decodable {
            var ok: Bool
            var messages: Int?
            var uidValidity: UInt32?
            var uidNext: UInt32?
            var error: String?
        }

        func run() async throws {
            let config = try loadConfig(global)
            let answer = try await ServerAPI(config).call(.POST, "/api/mailboxes/\(id)/test")
            if answer.status == 404 { fail("no connected mailbox \(id)") }
            guard answer.status == 200, let result = try? JSONDecoder().decode(Result.self, from: answer.body) else {
                fail("the server answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))", code: Exit.unavailable)
            }
            if json { FileHandle.standardOutput.write(answer.body + Data("\n".utf8)) }
            guard result.ok else {
                if !json { FileHandle.standardError.write(Data("postroom: \(result.error ?? "login failed")\n".utf8)) }
                throw ExitCode(Exit.unavailable)
            }
            if !json {
                print("logged in from the server")
                print("messages \(result.messages ?? 0), uidvalidity \(result.uidValidity.map(String.init) ?? "-"), uidnext \(result.uidNext.map(String.init) ?? "-")")
            }
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pull new mail now, as the server's poller would.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Mailbox id.") var id: Int64
        @Flag(help: "Print JSON: {\"pulled\": n}.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let store = try openStore(config)
            let mailboxes = ConnectedMailboxes(store: store)
            guard let mailbox = try await conversationCall({ try await mailboxes.get(id) }) else { fail("no connected mailbox \(id)") }
            do {
                let pulled = try await MailboxWatcher.sync(mailbox, mailboxes, connection: MailboxConnection(config))
                if json { return try printJSON(["pulled": pulled]) }
                print("pulled \(pulled) new messages")
            } catch {
                _ = try? await mailboxes.failed(id, error: "\(error)", retryIn: 0)
                fail("\(error)", code: Exit.unavailable)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disconnect a mailbox (its pulled mail stays).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Mailbox id.") var id: Int64
        @Flag(help: "Print JSON: {\"removed\": id}.") var json = false

        func run() async throws {
            let store = try openStore(try loadConfig(global))
            guard try await conversationCall({ try await ConnectedMailboxes(store: store).remove(id) }) else { fail("no connected mailbox \(id)") }
            if json { return try printJSON(["removed": id]) }
            print("removed mailbox \(id)")
        }
    }
}

func printMailbox(_ m: ConnectedMailbox) {
    print(
        "\(m.id)\t\(m.inbox)\t\(m.username)@\(m.host):\(m.port)/\(m.folder)\t\(m.security)\t\(m.status)\tpulled \(m.pulled)\tlast sync \(m.lastSync ?? "never")"
            + (m.lastError.map { "\terror: \($0)" } ?? "")
            + (m.failures > 0 ? "\t\(m.failures) failed in a row, next try \(m.nextAttempt ?? "now")" : ""))
}
