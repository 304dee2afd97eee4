import ArgumentParser
import Foundation
import SMTPClient

struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay", abstract: "The outbound relay (outbound.relay) the running server sends replies through.", subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a session from the running server to its relay (TLS, certificate, AUTH as configured), send no mail, and say what happened.",
            discussion: "Runs in the server through the API (POST /api/relay/test), so it uses the server's settings and password. Exit 69 when the relay does not take the session.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print the API's JSON: {\"ok\": ..., \"relay\": ..., \"tls\": ..., \"authenticated\": ..., \"capabilities\": [...], \"error\": ...}.") var json = false

        func run() async throws {
            let config = try loadConfig(global)
            let answer = try await ServerAPI(config).call(.POST, "/api/relay/test")
            if answer.status == 409 { fail(ServerAPI.reason(answer), code: Exit.config) }
            guard answer.status == 200, let probe = try? JSONDecoder().decode(SMTPClient.RelayProbe.self, from: answer.body) else {
                fail("the server answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))", code: Exit.unavailable)
            }
            if json { FileHandle.standardOutput.write(answer.body + Data("\n".utf8)) }
            guard probe.ok else {
                if !json { FileHandle.standardError.write(Data("postroom: relay \(probe.relay) (\(probe.security)): \(probe.error ?? "failed")\n".utf8)) }
                throw ExitCode(Exit.unavailable)
            }
            if !json {
                print("relay \(probe.relay) takes a session from the server: \(probe.tls ? "TLS" : "no TLS"), \(probe.authenticated ? "authenticated" : "no AUTH")")
                print("offers: \(probe.capabilities.joined(separator: ", "))")
            }
        }
    }
}
