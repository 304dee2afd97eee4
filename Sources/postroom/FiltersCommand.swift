import ArgumentParser
import Foundation
import Conversations
import FilterTool
import MailMessage
import Sieve

struct FiltersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters", abstract: "Check and test Sieve filter rules.", subcommands: [Check.self, Test.self, Diff.self, Apply.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Compile every script in the filters folder; report each error with file:line:column.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Folder to check (default: filters.dir).") var dir: String?
        @Flag(help: "Print JSON: {\"scripts\": [{\"file\", \"valid\", \"error\", \"line\", \"column\"}]}.") var json = false

        struct Checked: Encodable {
            var file: String
            var valid: Bool
            var error: String?
            var line: Int?
            var column: Int?
        }

        func run() async throws {
            let config = try loadConfig(global)
            let folder = dir ?? config.filtersDir
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter { $0.hasSuffix(".sieve") }.sorted() ?? []
            var checked: [Checked] = []
            for file in files {
                let path = (folder as NSString).appendingPathComponent(file)
                do {
                    _ = try Sieve.compile(try String(contentsOfFile: path, encoding: .utf8), name: path)
                    checked.append(Checked(file: path, valid: true))
                } catch let error as SieveError {
                    checked.append(Checked(file: path, valid: false, error: error.description, line: error.position.line, column: error.position.column))
                } catch {
                    checked.append(Checked(file: path, valid: false, error: "\(path): cannot read: \(error.localizedDescription)"))
                }
            }
            if json {
                try printJSON(["scripts": checked])
            } else {
                for c in checked { print(c.valid ? "ok     \(c.file)" : "error  \(c.error ?? "")") }
                if files.isEmpty { print("no .sieve files in \(folder)") }
            }
            if checked.contains(where: { !$0.valid }) { throw ExitCode(1) }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print what the rules would do to messages: one --message in sieve-test's terms, or many (files, a Maildir, an mbox, an inbox's stored mail) one line each with a summary.",
            discussion: """
                Exit 0: valid; 1: the script does not compile; 2: it failed while running on a message (as sieve-test); \
                66: a message cannot be read. With --stored, each message keeps the envelope it had at delivery.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The script to test.") var script: String?
        @Option(help: "Test the inbox's rules (global.sieve, then SLUG.sieve); the default with --stored.") var inbox: String?
        @OptionGroup var messages: FilterMessageSources
        @Flag(help: "Show which test matched and why.") var trace = false
        @Flag(help: "Print JSON: with one --message, as POST /api/filters/test; with many, one object per line, then {\"summary\": ...}.") var json = false
        @Option(help: "Evaluate the script this many times and print the time per evaluation (benchmarking; one --message).") var repeatCount: Int = 1

        func validate() throws {
            try messages.validate()
            guard script == nil || inbox == nil else { throw ValidationError("give one of --script and --inbox") }
            guard script != nil || inbox != nil || messages.stored != nil else { throw ValidationError("give --script or --inbox (or --stored, whose inbox's rules apply)") }
        }

        func run() async throws {
            let rules: FilterRules
            if let script {
                rules = try compileOrExit(script, json: json)
            } else {
                let slug = inbox ?? messages.stored ?? ""
                rules = FilterRules(try loadFilterSet(global, json: json), inbox: slug)
            }
            if messages.single {
                return try await single(rules)
            }
            var tally = FilterTally()
            let encoder = FilterMessageSources.lineEncoder
            tally.unreadable = try await messages.each(global) { sample in
                let message = sample.message
                let result = rules.run(message, tracing: trace)
                let outcome = FilterOutcome(result)
                tally.add(outcome)
                if json {
                    struct Line: Encodable {
                        var message: String
                        var stored: StoredSample?
                        var envelope: [String: String]
                        var outcome: FilterOutcome
                        var trace: [String]?
                    }
                    let line = Line(
                        message: sample.label, stored: sample.stored, envelope: ["from": message.envelopeFrom, "to": message.envelopeTo], outcome: outcome,
                        trace: trace ? result.trace : nil)
                    print(String(decoding: try encoder.encode(line), as: UTF8.self))
                } else {
                    print("\(sample.label): \(outcome.summary)")
                    if trace { for line in result.trace { print("  ## \(line)") } }
                }
            }
            if json {
                print(String(decoding: try encoder.encode(["summary": tally]), as: UTF8.self))
            } else {
                print(tally.text)
            }
            if tally.unreadable > 0 { throw ExitCode(Exit.noInput) }
            if tally.runtimeErrors > 0 { throw ExitCode(2) }
        }

        /// One message: sieve-test's output (and its exit codes), as `postroom-filter` prints it.
        func single(_ rules: FilterRules) async throws {
            try SingleMessageTest.run(rules, message: messages.message[0], from: messages.from, to: messages.to, trace: trace, json: json, repeatCount: repeatCount)
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the messages whose decision changes between two versions of a script, with both decisions (and, with --trace, the test that made the difference).",
            discussion: """
                With --inbox or --stored, global.sieve runs first (as at delivery) and --old defaults to the inbox's script in force. \
                Exit 0 whatever changed; 1 when a script does not compile; 66 when a message cannot be read. POST /api/filters/diff does the same over stored mail.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The script as it is (default with --inbox/--stored: the inbox's script in force).") var old: String?
        @Option(help: "The script as it would be.") var new: String
        @Option(help: "Run as this inbox's own script, after global.sieve (the default with --stored).") var inbox: String?
        @OptionGroup var messages: FilterMessageSources
        @Flag(help: "Say which test made the difference.") var trace = false
        @Flag(help: "Print one JSON object per changed message, then {\"summary\": ...}.") var json = false

        func validate() throws {
            try messages.validate()
            guard old != nil || inbox != nil || messages.stored != nil else { throw ValidationError("give --old (or --inbox/--stored, whose script in force is the old one)") }
        }

        func run() async throws {
            let slug = inbox ?? messages.stored
            let newRules = try compileOrExit(new, json: json)
            let oldRules = try old.map { try compileOrExit($0, json: json) }
            var before: FilterRules, after: FilterRules
            if let slug {
                let filters = try loadFilterSet(global, json: json)
                before = FilterRules(filters, inbox: slug, local: oldRules?.scripts.first)
                after = FilterRules(filters, inbox: slug, local: newRules.scripts.first)
            } else {
                before = oldRules ?? newRules
                after = newRules
            }
            struct Summary: Encodable {
                var messages = 0
                var changed = 0
                var unreadable = 0
                var old = FilterTally()
                var new = FilterTally()
            }
            var summary = Summary()
            let encoder = FilterMessageSources.lineEncoder
            summary.unreadable = try await messages.each(global) { sample in
                let message = sample.message
                let compared = FilterChange.compare(message, old: before, new: after, explain: trace)
                summary.messages += 1
                summary.old.add(compared.old)
                summary.new.add(compared.new)
                guard let change = compared.change else { return }
                summary.changed += 1
                if json {
                    struct Line: Encodable {
                        var message: String
                        var stored: StoredSample?
                        var old: FilterOutcome
                        var new: FilterOutcome
                        var because: FilterChange.Because?
                    }
                    print(String(decoding: try encoder.encode(Line(message: sample.label, stored: sample.stored, old: change.old, new: change.new, because: change.because)), as: UTF8.self))
                } else {
                    print("\(sample.label): \(change.old.summary) → \(change.new.summary)")
                    if let because = change.because {
                        for line in because.old { print("  old: \(line)") }
                        for line in because.new { print("  new: \(line)") }
                    }
                }
            }
            if json {
                print(String(decoding: try encoder.encode(["summary": summary]), as: UTF8.self))
            } else {
                print("\(summary.messages) message\(summary.messages == 1 ? "" : "s") compared: \(summary.changed) decided differently")
                print("old: \(summary.old.text)")
                print("new: \(summary.new.text)")
            }
            if summary.unreadable > 0 { throw ExitCode(Exit.noInput) }
        }
    }
}

/// A script file as the only rules, or its error printed and exit 1.
func compileOrExit(_ path: String, json: Bool) throws -> FilterRules {
    try SingleMessageTest.compile(path, json: json)
}

/// The filters folder of the configuration, every script compiled; exit 1 if one is refused.
func loadFilterSet(_ global: GlobalOptions, json: Bool) throws -> FilterSet {
    let config = try loadConfig(global)
    let filters = FilterSet(directory: config.filtersDir)
    let problems = filters.reload().filter { $0.hasPrefix("refused") }
    if !problems.isEmpty {
        if json { try printJSON(FilterCheck(refused: problems)) } else { problems.forEach { print($0) } }
        throw ExitCode(1)
    }
    return filters
}

/// `--since` as milliseconds: YYYY-MM-DD or an ISO 8601 time (exit 65 otherwise).
func sinceOption(_ since: String?) -> Int64? {
    guard let since else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = since.count == 10 ? [.withFullDate] : [.withInternetDateTime]
    guard let date = formatter.date(from: since) else { fail("--since: '\(since)' is not YYYY-MM-DD or an ISO 8601 time") }
    return Int64(date.timeIntervalSince1970 * 1000)
}

/// Where `filters test` and `filters diff` take messages from: files, a Maildir or a
/// folder of files, an mbox, or an inbox's stored mail (with the envelope it had).
struct FilterMessageSources: ParsableArguments {
    @Option(help: "A message file (.eml); repeatable.") var message: [String] = []
    @Option(help: "A Maildir (cur/ and new/) or a folder of message files.") var maildir: String?
    @Option(help: "An mbox file.") var mbox: String?
    @Option(help: "The stored mail of this inbox (newest --limit, oldest first), each with its delivery envelope.") var stored: String?
    @Option(help: "With --stored: only mail received since this date (YYYY-MM-DD or ISO 8601).") var since: String?
    @Option(help: "With --stored: at most this many messages (the newest).") var limit: Int = 10000
    @Option(help: "Envelope sender for message files (default: each message's From).") var from: String?
    @Option(help: "Envelope recipient for message files.") var to: String = "recipient@example.com"

    func validate() throws {
        guard !message.isEmpty || maildir != nil || mbox != nil || stored != nil else {
            throw ValidationError("give messages: --message FILE (repeatable), --maildir DIR, --mbox FILE or --stored INBOX")
        }
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        guard stored != nil || since == nil else { throw ValidationError("--since goes with --stored") }
    }

    /// Exactly one message file: the single-message form (sieve-test's output).
    var single: Bool { message.count == 1 && maildir == nil && mbox == nil && stored == nil }

    struct Sample {
        var label: String
        var message: SieveMessage
        var stored: StoredSample?
    }

    /// One compact JSON object per line.
    static var lineEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Calls `body` with each message in turn (files are read one at a time); a file
    /// that cannot be read is named on stderr and counted. Returns that count.
    @discardableResult
    func each(_ global: GlobalOptions, _ body: (Sample) async throws -> Void) async throws -> Int {
        var unreadable = 0
        func file(_ path: String, label: String) async throws {
            guard let data = FileManager.default.contents(atPath: path) else {
                unreadable += 1
                FileHandle.standardError.write(Data("postroom: cannot read message \(label)\n".utf8))
                return
            }
            let raw = Array(data)
            try await body(Sample(label: label, message: SieveMessage(raw: raw, envelopeFrom: from ?? MailParserShim.fromAddress(raw) ?? "", envelopeTo: to)))
        }
        for path in message { try await file(path, label: path) }
        if let maildir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: maildir, isDirectory: &isDirectory), isDirectory.boolValue else {
                fail("\(maildir) is not a folder", code: Exit.noInput)
            }
            var files = MailboxReader.maildirFiles(maildir)
            if files.isEmpty {
                // Not a Maildir: a folder tree of message files, the .eml ones when there are any.
                var all: [String] = []
                let walker = FileManager.default.enumerator(atPath: maildir)
                while let relative = walker?.nextObject() as? String {
                    let path = (maildir as NSString).appendingPathComponent(relative)
                    var d: ObjCBool = false
                    if !(relative as NSString).lastPathComponent.hasPrefix("."), FileManager.default.fileExists(atPath: path, isDirectory: &d), !d.boolValue {
                        all.append(path)
                    }
                }
                let eml = all.filter { $0.lowercased().hasSuffix(".eml") }
                files = (eml.isEmpty ? all : eml).sorted()
            }
            for path in files { try await file(path, label: path) }
        }
        if let mbox {
            guard let data = FileManager.default.contents(atPath: mbox) else { fail("cannot read mbox \(mbox)", code: Exit.noInput) }
            for (index, raw) in MailboxReader.mbox(Array(data)).enumerated() {
                try await body(Sample(label: "\(mbox)#\(index + 1)", message: SieveMessage(raw: raw, envelopeFrom: from ?? MailParserShim.fromAddress(raw) ?? "", envelopeTo: to)))
            }
        }
        if let stored {
            let config = try loadConfig(global)
            let sinceMillis = sinceOption(since)
            let store = try openStore(config)
            let samples = try await conversationCall { try await FilterSamples.stored(store, inbox: stored, since: sinceMillis, limit: limit) }
            for sample in samples {
                let message = try await FilterSamples.withRaw(store, sample).sieveMessage
                try await body(Sample(label: "message \(sample.messageId) \(sample.queueId) \"\(sample.subject ?? "")\"", message: message, stored: sample))
            }
        }
        return unreadable
    }
}

extension FiltersCommand {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the current rules over stored mail of an inbox; show what would change (--dry-run) or change it.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Inbox slug.") var inbox: String
        @Option(help: "Only mail received since this date (YYYY-MM-DD or ISO 8601).") var since: String?
        @Flag(help: "Only show what would change.") var dryRun = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let filters = try loadFilterSet(global, json: false)
            let sinceMillis = sinceOption(since)
            let replay = FilterReplay(store: try openStore(config), filters: filters)
            let changes = try await conversationCall { try await replay.run(inbox: inbox, since: sinceMillis, dryRun: dryRun) }
            if json { return try printJSON(changes) }
            for c in changes {
                print("message \(c.messageId) (conversation \(c.conversationId)) \(c.subject ?? ""): \(c.actions.joined(separator: "; "))"
                    + (c.skipped.isEmpty ? "" : " [not at delivery time, skipped: \(c.skipped.joined(separator: "; "))]"))
            }
            print("\(changes.count) message\(changes.count == 1 ? "" : "s") \(dryRun ? "would change" : "changed")")
        }
    }
}
