import ArgumentParser
import DKIM
import Foundation

struct DKIMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dkim", abstract: "DKIM keys for signing outbound mail.", subcommands: [Keygen.self])

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a key for DOMAIN and SELECTOR and print the DNS TXT record to publish.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Sending domain, e.g. example.com.") var domain: String
        @Argument(help: "Selector, e.g. postroom.") var selector: String
        @Option(help: "rsa (2048 bits, rsa-sha256) or ed25519 (ed25519-sha256).") var algorithm: String = "rsa"
        @Flag(help: "Print JSON: the key file, the record's name and its text (unsplit).") var json = false

        func run() async throws {
            guard ["rsa", "ed25519"].contains(algorithm) else { throw ValidationError("--algorithm must be rsa or ed25519") }
            let config = try loadConfig(global)
            let path = DKIMSigner.keyPath(folder: config.effectiveDKIMDir, domain: domain, selector: selector)
            if FileManager.default.fileExists(atPath: path) { fail("\(path) exists; remove it first or pick another selector", code: Exit.dataError) }
            let (written, record) = try DKIMSigner.generate(folder: config.effectiveDKIMDir, domain: domain, selector: selector, algorithm: algorithm)
            if json {
                let text = record.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined()
                return try printJSON(["keyFile": written, "name": "\(selector)._domainkey.\(domain.lowercased()).", "type": "TXT", "text": text])
            }
            print("wrote \(written) (a running server signs with it after postroom config reload or SIGHUP)")
            print(record)
        }
    }
}
