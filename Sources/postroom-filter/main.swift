import ArgumentParser
import FilterTool

/// `postroom-filter`: the filter tester as a small binary, for scripts that call it once
/// per message (as they call sieve-test). Same options, output and exit codes as
/// `postroom filters test --script S --message M`; many messages, diffs and stored mail
/// are `postroom filters test` / `postroom filters diff`.
@main
struct PostroomFilter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postroom-filter",
        abstract: "What a Sieve script would do to one message, in sieve-test's terms (a small, fast-starting postroom filters test).",
        discussion: "Exit 0: valid; 1: the script does not compile; 2: it failed while running (as sieve-test); 66: a file cannot be read.")
    @Option(help: "The script to test.") var script: String
    @Option(help: "The message (.eml).") var message: String
    @Option(help: "Envelope sender (default: the message's From).") var from: String?
    @Option(help: "Envelope recipient.") var to: String = "recipient@example.com"
    @Flag(help: "Show which test matched and why.") var trace = false
    @Flag(help: "Print JSON, as POST /api/filters/test.") var json = false

    func run() throws {
        try SingleMessageTest.run(SingleMessageTest.compile(script, json: json), message: message, from: from, to: to, trace: trace, json: json)
    }
}
