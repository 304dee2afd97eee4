import ArgumentParser
import DKIM
import Foundation
import MailboxPull
import Settings

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check a configuration, show what is in effect, or list every key.", subcommands: [Check.self, Show.self, Reload.self, Keys.self])

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

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the running server read its configuration again (as SIGHUP does) and say what took effect.",
            discussion: """
                Applied at once: \(ConfigKey.all.filter(\.live).map(\.name).joined(separator: ", ")), the DKIM keys in dkim.dir and the \
                filter scripts. Other keys are named as needing a restart. A mistake in the new configuration changes nothing (exit 78).
                """)
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print the API's JSON: {\"applied\": [...], \"restartNeeded\": [...], \"dkim\": [...], \"filters\": [...]}.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let answer = try await ServerAPI(config).call(.POST, "/api/config/reload")
            if answer.status == 409 { fail(ServerAPI.reason(answer), code: Exit.config) }
            guard answer.status == 200, let report = try? JSONDecoder().decode(ConfigReloadReport.self, from: answer.body) else {
                fail("the server answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))", code: Exit.unavailable)
            }
            if json {
                FileHandle.standardOutput.write(answer.body + Data("\n".utf8))
                return
            }
            print(report.applied.isEmpty ? "reloaded; no live key changed" : "reloaded; applied: \(report.applied.joined(separator: ", "))")
            if !report.restartNeeded.isEmpty { print("changed but need a restart (old values stay in force): \(report.restartNeeded.joined(separator: ", "))") }
            print("DKIM: \(report.dkim.isEmpty ? "no keys" : report.dkim.joined(separator: ", "))")
            for line in report.filters { print("filters: \(line)") }
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
            print("| key | environment | default | reload | meaning |")
            print("|---|---|---|---|---|")
            for key in ConfigKey.all {
                print("| `\(key.name)` | `\(key.environmentName)` | \(key.defaultText) | \(key.live ? "live" : "restart") | \(key.help) |")
            }
        }
    }
}

/// The signing keys as `domain (selector)`, sorted.
func dkimSummary(_ signers: [String: DKIMSigner]) -> [String] {
    signers.values.map { "\($0.domain): \($0.keyNames.joined(separator: " and "))" }.sorted()
}
