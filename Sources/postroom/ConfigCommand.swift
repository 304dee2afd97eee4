import ArgumentParser
import DKIM
import Foundation
import MailboxPull
import Settings

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check a configuration, show what is in effect, or list every key.", subcommands: [Check.self, Show.self, Keys.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the configuration in effect, as the server logs it when it starts (secrets elided).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON: {\"key\": \"value\", ...}.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            var dkim: [String]
            do {
                dkim = dkimSummary(try DKIMSigner.load(folder: config.effectiveDKIMDir))
            } catch {
                dkim = ["cannot load: \(error)"]
            }
            // The mailboxes are in the store: read when there is one, never created here.
            var mailboxes: [String]?
            if FileManager.default.fileExists(atPath: (config.dataDir as NSString).appendingPathComponent("postroom.sqlite")) {
                let store = try openStore(config)
                mailboxes = try await ConnectedMailboxes(store: store).list().map(\.summary)
            }
            let effective = EffectiveConfiguration(config, dkim: dkim, mailboxes: mailboxes)
            if json { return try printJSON(Dictionary(effective.lines.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })) }
            print(effective.text)
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load the configuration as serve would and report the first mistake.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON: {\"ok\": true, \"smtp\": ..., \"http\": ..., \"dataDir\": ...}.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            if json {
                struct Checked: Encodable {
                    var ok = true
                    var smtp: String
                    var http: String
                    var dataDir: String
                }
                return try printJSON(Checked(smtp: "\(config.smtpListen):\(config.smtpPort)", http: "\(config.httpListen):\(config.httpPort)", dataDir: config.dataDir))
            }
            print("configuration ok: SMTP \(config.smtpListen):\(config.smtpPort), HTTP \(config.httpListen):\(config.httpPort), data \(config.dataDir)")
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every key with its environment variable and default (Markdown).")
        /// Taken like every subcommand's (the list does not depend on them).
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            print("| key | environment | default | meaning |")
            print("|---|---|---|---|")
            for key in ConfigKey.all {
                print("| `\(key.name)` | `\(key.environmentName)` | \(key.defaultText) | \(key.help) |")
            }
        }
    }
}

/// The signing keys as `domain (selector)`, sorted.
func dkimSummary(_ signers: [String: DKIMSigner]) -> [String] {
    signers.values.map { "\($0.domain): \($0.keyNames.joined(separator: " and "))" }.sorted()
}
