import ArgumentParser
import Foundation
import Settings

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check a configuration or list every key.", subcommands: [Check.self, Keys.self])

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
