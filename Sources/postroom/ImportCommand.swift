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
        let importer = Importer(store: store)
        let reporter = ProgressReporter()
        var result = Importer.Progress(done: 0, total: 0, imported: 0, skipped: 0)
        if kind == "imap" {
            let account: IMAPAccount
            do { account = try IMAPAccount(url: source, password: ProcessInfo.processInfo.environment["POSTROOM_IMAP_PASSWORD"], caFile: config.mailboxCAFile,
                    timeout: config.mailboxTimeout) } catch {
                fail("\(error)")
            }
            do {
                // Stored batch by batch while fetching: memory stays at one batch, and the
                // progress shows during the download.
                result = try await IMAPClient().withSession(account) { session, _ in
                    let uids = try await session.uids()
                    var total = Importer.Progress(done: 0, total: uids.count, imported: 0, skipped: 0)
                    // Batches are stored one at a time, in order (fetchBatches), so the tally needs no lock.
                    let tally = Tally(total)
                    let inbox = self.inbox
                    _ = try await session.fetchBatches(uids, maxCount: 100) { pulled, _ in
                        let before = tally.value
                        let done = try await conversationCall {
                            try await importer.run(inbox: inbox, messages: pulled.map(\.raw)) { p in
                                reporter.show(Importer.Progress(
                                    done: before.done + p.done, total: before.total, imported: before.imported + p.imported, skipped: before.skipped + p.skipped))
                            }
                        }
                        tally.value.done += pulled.count
                        tally.value.imported += done.imported
                        tally.value.skipped += done.skipped
                        return done.imported
                    }
                    total = tally.value
                    if uids.isEmpty { reporter.show(total) }
                    return total
                }
            } catch {
                fail("\(account.host):\(account.port) \(account.folder): \(error)")
            }
        } else {
            let messages: [[UInt8]]
            if kind == "mbox" {
                guard let data = FileManager.default.contents(atPath: source) else { fail("cannot read \(source)") }
                messages = MailboxReader.mbox(Array(data))
            } else {
                let files = MailboxReader.maildirFiles(source)
                if files.isEmpty && !FileManager.default.fileExists(atPath: (source as NSString).appendingPathComponent("cur")) {
                    fail("\(source) is not a Maildir (no cur/ or new/)")
                }
                messages = files.compactMap { FileManager.default.contents(atPath: $0).map { MailboxReader.crlf(Array($0)) } }
            }
            result = try await conversationCall { try await importer.run(inbox: inbox, messages: messages) { reporter.show($0) } }
        }
        reporter.finish()
        print("imported \(result.imported), skipped \(result.skipped) already in \(inbox); a running server files them within a second (or: postroom messages process)")
    }
}

/// Progress counts carried between batches that run one after another.
final class Tally: @unchecked Sendable {
    var value: Importer.Progress
    init(_ value: Importer.Progress) { self.value = value }
}

/// A progress bar on a terminal (count, rate, time left), plain lines once a second otherwise.
/// Used by one batch at a time (never concurrently), hence unchecked Sendable.
final class ProgressReporter: @unchecked Sendable {
    let terminal = isatty(STDOUT_FILENO) == 1
    let started = Date()
    var lastLine = Date.distantPast
    var drewBar = false

    func show(_ p: Importer.Progress) {
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
