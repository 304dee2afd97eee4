import ArgumentParser
import Conversations
import Foundation
import IMAPClient
import MailMessage

/// `postroom import --inbox SLUG (mbox FILE | maildir DIR | imap URL)`.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import history into an inbox from an mbox file, a Maildir or an IMAP folder; running it again adds nothing.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Inbox slug.") var inbox: String
    @Argument(help: "mbox, maildir or imap.") var kind: String
    @Argument(help: "The mbox file, Maildir folder, or imap[s]://user[:password]@host[:port]/Folder (password also from POSTROOM_IMAP_PASSWORD).")
    var source: String

    func validate() throws {
        guard ["mbox", "maildir", "imap"].contains(kind) else { throw ValidationError("the source is 'mbox FILE', 'maildir DIR' or 'imap URL'") }
    }

    func run() async throws {
        let config = try loadConfig(global)
        let store = try openStore(config)
        var messages: [[UInt8]]
        if kind == "imap" {
            let account: IMAPAccount
            do { account = try IMAPAccount(url: source, password: ProcessInfo.processInfo.environment["POSTROOM_IMAP_PASSWORD"]) } catch {
                fail("\(error)")
            }
            do {
                messages = try await IMAPClient().withSession(account) { session, state in
                    var out: [[UInt8]] = []
                    let uids = try await session.uids()
                    try await session.fetch(uids) { _, body in out.append(body) }
                    _ = state
                    return out
                }
            } catch {
                fail("\(account.host):\(account.port) \(account.folder): \(error)")
            }
        } else if kind == "mbox" {
            guard let data = FileManager.default.contents(atPath: source) else { fail("cannot read \(source)") }
            messages = MailboxReader.mbox(Array(data))
        } else {
            let files = MailboxReader.maildirFiles(source)
            if files.isEmpty && !FileManager.default.fileExists(atPath: (source as NSString).appendingPathComponent("cur")) {
                fail("\(source) is not a Maildir (no cur/ or new/)")
            }
            messages = files.compactMap { FileManager.default.contents(atPath: $0).map { MailboxReader.crlf(Array($0)) } }
        }
        let terminal = isatty(STDOUT_FILENO) == 1
        let started = Date()
        var lastLine = Date.distantPast
        let result = try await conversationCall {
            try await Importer(store: store).run(inbox: inbox, messages: messages) { p in
                let elapsed = max(0.001, Date().timeIntervalSince(started))
                let rate = Double(p.done) / elapsed
                let left = rate > 0 ? Double(p.total - p.done) / rate : 0
                let line = String(format: "%d/%d messages, %d new, %d already there, %.0f/s, %.0fs left", p.done, p.total, p.imported, p.skipped, rate, left)
                if terminal {
                    let width = 30
                    let filled = p.total == 0 ? width : width * p.done / p.total
                    let bar = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + line
                    FileHandle.standardOutput.write(Data(bar.utf8))
                } else if Date().timeIntervalSince(lastLine) >= 1 || p.done == p.total {
                    print(line)
                    lastLine = Date()
                }
            }
        }
        if terminal { print("") }
        print("imported \(result.imported), skipped \(result.skipped) already in \(inbox); a running server files them within a second (or: postroom messages process)")
    }
}
