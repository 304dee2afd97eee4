import ArgumentParser
import Store

@main
struct Postroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postroom",
        abstract: "A self-hosted conversations gateway: the MX for a team's shared addresses.",
        discussion: """
            Exit codes (sysexits): 0 done; 64 a flag or argument the command does not take; \
            65 the input names nothing that exists or is not valid; 66 an input file cannot be read; \
            69 a port, server or peer is not available; 74 reading or writing the data dir failed; \
            78 the configuration is wrong. `filters test` keeps sieve-test's: 1 the script does \
            not compile, 2 it failed while running.
            """,
        version: "postroom \(postroomVersion)",
        subcommands: [ServeCommand.self, InboxCommand.self, UserCommand.self, ConversationsCommand.self, MessagesCommand.self, FiltersCommand.self, QueueCommand.self, DKIMCommand.self, ImportCommand.self, MailboxCommand.self, RelayCommand.self, ConfigCommand.self, DoctorCommand.self]
    )

    /// Every file any command creates (database, keys, tokens) is private from the
    /// first byte: umask 077 before anything runs.
    static func main() async {
        Store.makePrivate()
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// `--config` and `--data-dir`, taken by every subcommand so each works on the data
/// of a given server, also while it runs.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file (see postroom.example.yaml).")
    var config: String?

    @Option(name: .long, help: "Data folder (SQLite store, TLS pair, admin token). Default ./data")
    var dataDir: String?
}
