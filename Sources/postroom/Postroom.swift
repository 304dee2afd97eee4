import ArgumentParser

@main
struct Postroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postroom",
        abstract: "A self-hosted conversations gateway: the MX for a team's shared addresses.",
        subcommands: [ServeCommand.self, InboxCommand.self, ConversationsCommand.self, MessagesCommand.self, FiltersCommand.self, QueueCommand.self, DKIMCommand.self, ImportCommand.self, MailboxCommand.self, ConfigCommand.self]
    )
}

/// `--config` and `--data-dir`, taken by every subcommand so each works on the data
/// of a given server, also while it runs.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file (see postroom.example.yaml).")
    var config: String?

    @Option(name: .long, help: "Data folder (SQLite store, TLS pair, admin token). Default ./data")
    var dataDir: String?
}
