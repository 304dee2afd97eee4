import ArgumentParser
import Conversations
import MailboxPull
import Foundation
import IMAPClient
import MailMessage
import Store

/// `postroom import --inbox SLUG (mbox FILE | maildir DIR | imap URL)`.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import history into an inbox from an mbox file, a Maildir or an IMAP folder; running it again adds nothing.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Inbox slug.") var inbox: String
    @Argument(help: "mbox, maildir or imap.") var kind: String
    @Argument(help: "The mbox file, Maildir folder, or imap[s]://user[:password]@host[:port]/Folder (password also from POSTROOM_IMAP_PASSWORD).")
    var source: String
    @Flag(help: "Print JSON at the end ({\"inbox\", \"imported\", \"skipped\"}), and no progress.") var json = false

    func validate() throws {
        guard ["mbox", "maildir", "imap"].contains(kind) else { throw ValidationError("the source is 'mbox FILE', 'maildir DIR' or 'imap URL'") }
    }

    func run() async throws {
        let config = try loadConfig(global)
        let store = try openStore(config)
        let importer = Importer(store: store)
        let reporter = ProgressReporter(quiet: json)
        var result = Importer.Progress(done: 0, total: 0, imported: 0, skipped: 0)
        if kind == "imap" {
            let account: IMAPAccount
            do { account = try IMAPAccount(url: source, password: ProcessInfo.processInfo.environment["POSTROOM_IMAP_PASSWORD"], caFile: config.mailboxCAFile,
                    timeout: config.mailboxTimeout) } catch {
                fail("\(error)")
            }
            do {
                // The checkpointed pull connected mailboxes use: batches are stored with
                // the folder's checkpoint as they arrive (memory stays at one batch, the
                // progress shows during the download), and a second run, or one after a
                // crash, fetches only what is new.
                let destination = try await conversationCall { try await importer.destination(inbox: inbox, source: account.source) }
                let pulled = try await IMAPClient().withSession(account) { session, folder in
                    try await MailboxPull.pull(session, folder, into: destination, countPulledBefore: true, batchSize: 100) { p in
                        reporter.show(Importer.Progress(done: p.done, total: p.total, imported: p.added, skipped: p.skipped))
                    }
                }
                result = Importer.Progress(done: pulled.done, total: pulled.total, imported: pulled.added, skipped: pulled.skipped)
            } catch let error as RequestError {
                fail("\(error)")
            } catch {
                fail("\(account.host):\(account.port) \(account.folder): \(error)", code: Exit.unavailable)
            }
        } else {
            let messages: [[UInt8]]
            if kind == "mbox" {
                guard let data = FileManager.default.contents(atPath: source) else { fail("cannot read \(source)", code: Exit.noInput) }
                messages = MailboxReader.mbox(Array(data))
            } else {
                let files = MailboxReader.maildirFiles(source)
                if files.isEmpty && !FileManager.default.fileExists(atPath: (source as NSString).appendingPathComponent("cur")) {
                    fail("\(source) is not a Maildir (no cur/ or new/)", code: Exit.noInput)
                }
                messages = files.compactMap { FileManager.default.contents(atPath: $0).map { MailboxReader.crlf(Array($0)) } }
            }
            result = try await conversationCall { try await importer.run(inbox: inbox, messages: messages) { reporter.show($0) } }
        }
        reporter.finish()
        if json {
            struct Imported: Encodable {
                var inbox: String
                var imported: Int
                var skipped: Int
            }
            return try printJSON(Imported(inbox: inbox, imported: result.imported, skipped: result.skipped))
        }
        print("imported \(result.imported), skipped \(result.skipped) already in \(inbox); a running server files them within a second (or: postroom messages process)")
    }
}

/// A progress bar on a terminal (count, rate, time left), plain lines once a second otherwise.
/// Used by one batch at a time (never concurrently), hence unchecked Sendable.
final class ProgressReporter: @unchecked Sendable {
    let terminal = isatty(STDOUT_FILENO) == 1
    let quiet: Bool
    let started = Date()

    init(quiet: Bool = false) {
        self.quiet = quiet
    }
    var lastLine = Date.distantPast
    var drewBar = false

    func show(_ p: Importer.Progress) {
        if quiet { return }
        let elapsed = max(0.001, Date().timeIntervalSince(started))
        let rate = Double(p.done) / elapsed
        let left = rate > 0 ? Double(p.total - p.done) / rate : 0
        let line = String(format: "%d/%d messages, %d new, %d already there, %.0f/s, %.0fs left", p.done, p.total, p.imported, p.skipped, rate, left)
        if terminal {
            let width = 30
            let filled = p.total == 0 ? width : width * p.done / p.total
            let bar = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + line
            FileHandle.standardOutput.write(Data(bar.utf8))
            drewBar = true
        } else if Date().timeIntervalSince(lastLine) >= 1 || p.done == p.total {
            print(line)
            lastLine = Date()
        }
    }

    func finish() {
        if drewBar { print("") }
    }
}
