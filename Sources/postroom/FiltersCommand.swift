import ArgumentParser
import Foundation
import Conversations
import Sieve

struct FiltersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters", abstract: "Check and test Sieve filter rules.", subcommands: [Check.self, Test.self, Apply.self])

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
            abstract: "Print what a script would do to a message, in sieve-test's terms. Exit 0: valid; 1: the script does not compile; 2: it failed while running (as sieve-test); 66: the message cannot be read.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The script to test.") var script: String?
        @Option(help: "Test the inbox's rules (global.sieve, then SLUG.sieve).") var inbox: String?
        @Option(help: "The message (.eml).") var message: String
        @Option(help: "Envelope sender (default: the message's From).") var from: String?
        @Option(help: "Envelope recipient.") var to: String = "recipient@example.com"
        @Flag(help: "Show which test matched and why.") var trace = false
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Evaluate the script this many times and print the time per evaluation (benchmarking).") var repeatCount: Int = 1

        func validate() throws {
            guard (script == nil) != (inbox == nil) else { throw ValidationError("give exactly one of --script and --inbox") }
        }

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: message) else {
                fail("cannot read message \(message)", code: Exit.noInput)
            }
            let raw = Array(data)
            let sender = from ?? MailParserShim.fromAddress(raw) ?? ""
            let sieveMessage = SieveMessage(raw: raw, envelopeFrom: sender, envelopeTo: to)
            var result: SieveResult
            if let script {
                let compiled: SieveScript
                do {
                    compiled = try Sieve.compile(try String(contentsOfFile: script, encoding: .utf8), name: script)
                } catch let error as SieveError {
                    if json { try printJSON(FilterCheck(error)) } else { print("error: \(error)") }
                    throw ExitCode(1)
                }
                let interpreter = SieveInterpreter(tracing: trace, resolver: FolderResolver(directory: (script as NSString).deletingLastPathComponent))
                result = interpreter.run(compiled, on: sieveMessage)
                if repeatCount > 1 {
                    let started = ContinuousClock.now
                    for _ in 0..<repeatCount { _ = interpreter.run(compiled, on: sieveMessage) }
                    let elapsed = ContinuousClock.now - started
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    FileHandle.standardError.write(Data(String(format: "%d evaluations in %.3f s: %.1f µs each\n", repeatCount, seconds, seconds / Double(repeatCount) * 1e6).utf8))
                }
            } else {
                let config = try loadConfig(global)
                let filters = FilterSet(directory: config.filtersDir)
                let problems = filters.reload().filter { $0.hasPrefix("refused") }
                if !problems.isEmpty {
                    if json { try printJSON(FilterCheck(refused: problems)) } else { problems.forEach { print($0) } }
                    throw ExitCode(1)
                }
                result = filters.evaluate(inbox: inbox!, message: sieveMessage, tracing: trace) ?? SieveResult()
            }
            if json {
                try printJSON(FilterCheck(result))
            } else {
                if trace { for line in result.trace { print("## \(line)") } }
                if let error = result.runtimeError { print("## runtime error: \(error); the implicit keep applies") }
                print(result.sieveTestText, terminator: "")
            }
            if result.runtimeError != nil { throw ExitCode(2) }
        }
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
            let filters = FilterSet(directory: config.filtersDir)
            let problems = filters.reload().filter { $0.hasPrefix("refused") }
            if !problems.isEmpty {
                problems.forEach { print($0) }
                throw ExitCode(1)
            }
            var sinceMillis: Int64?
            if let since {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = since.count == 10 ? [.withFullDate] : [.withInternetDateTime]
                guard let date = formatter.date(from: since) else { fail("--since: '\(since)' is not YYYY-MM-DD or an ISO 8601 time") }
                sinceMillis = Int64(date.timeIntervalSince1970 * 1000)
            }
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
