import ArgumentParser
import Conversations
import Foundation
import MailboxPull
import Settings
import Store

/// Loads the configuration for a subcommand, printing a config mistake (file, key and
/// what is wrong) and exiting with EX_CONFIG instead of starting.
func loadConfig(_ options: GlobalOptions, flags: [(key: String, value: String)] = []) throws -> PostroomConfig {
    try loadConfigValues(options, flags: flags).config
}

/// The configuration and the text each key was given, with the flags as applied
/// (`--data-dir` included): what the server keeps to reload later.
func loadConfigValues(
    _ options: GlobalOptions, flags: [(key: String, value: String)] = []
) throws -> (config: PostroomConfig, values: [String: String], flags: [(key: String, value: String)]) {
    var all = flags
    if let dataDir = options.dataDir { all.insert(("data-dir", dataDir), at: 0) }
    do {
        let loaded = try ConfigLoader.loadValues(file: options.config, environment: ProcessInfo.processInfo.environment, flags: all)
        return (loaded.config, loaded.values, all)
    } catch {
        FileHandle.standardError.write(Data("postroom: configuration error: \(error)\n".utf8))
        throw ExitCode(Exit.config)
    }
}

/// Exit codes in sysexits(3)'s terms (the README lists them): a script can tell a
/// mistake in its own call from a missing file, a busy port or a bad config.
enum Exit {
    /// A flag or argument the command does not take (swift-argument-parser's own).
    static let usage: Int32 = 64
    /// The input names nothing that exists, or is not valid: an unknown id, a bad date.
    static let dataError: Int32 = 65
    /// An input file cannot be read.
    static let noInput: Int32 = 66
    /// Something the command needs is not there: a port in use, a server or peer that
    /// does not answer.
    static let unavailable: Int32 = 69
    /// Reading or writing the data dir failed.
    static let ioError: Int32 = 74
    /// The configuration is wrong (file, environment, flags, keys, TLS pair).
    static let config: Int32 = 78
}

/// Opens the store of the configured data dir. Only `serve`, or a data dir named by a
/// flag, the environment or the config file, may create it: run from the wrong folder,
/// a command says where it looked instead of working on a new empty `./data`.
func openStore(_ config: PostroomConfig, create: Bool = false) throws -> Store {
    let absolute = URL(fileURLWithPath: config.dataDir).standardizedFileURL.path
    let exists = FileManager.default.fileExists(atPath: (config.dataDir as NSString).appendingPathComponent("postroom.sqlite"))
    if !exists && !create && !config.dataDirGiven {
        fail(
            "no Postroom data in \(absolute): give the server's data dir with --data-dir, POSTROOM_DATA_DIR or data-dir in --config (postroom serve creates it)",
            code: Exit.config)
    }
    do {
        let store = try Store.open(dataDir: config.dataDir)
        if !exists && !create { FileHandle.standardError.write(Data("postroom: created a new data dir in \(absolute)\n".utf8)) }
        return store
    } catch {
        fail("cannot open the store in \(absolute): \(error)", code: Exit.ioError)
    }
}

func fail(_ message: String, code: Int32 = Exit.dataError) -> Never {
    FileHandle.standardError.write(Data("postroom: \(message)\n".utf8))
    Foundation.exit(code)
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Runs a store operation, turning a StoreError into a one-line message and exit 65.
func storeCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError {
        fail(error.description)
    }
}

/// The admin token: from config/environment, else the data dir's `admin-token`
/// file, else a new one written there (mode 0600) and printed once.
func adminToken(_ config: PostroomConfig) throws -> String {
    if let token = config.adminToken { return token }
    let path = (config.dataDir as NSString).appendingPathComponent("admin-token")
    if let text = try? String(contentsOfFile: path, encoding: .utf8) {
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !token.isEmpty { return token }
    }
    var bytes = [UInt8](repeating: 0, count: 32)
    var generator = SystemRandomNumberGenerator()
    for i in bytes.indices { bytes[i] = generator.next() }
    let token = ContentHash.hex(bytes)
    FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
    // Written unbuffered: with stdout redirected to a log file, a buffered line would be
    // lost if the process is killed before exiting normally.
    FileHandle.standardOutput.write(Data("postroom: generated an admin token (kept in \(path)); use it as: Authorization: Bearer \(token)\n".utf8))
    return token
}

extension MailboxConnection {
    init(_ config: PostroomConfig) {
        self.init(caFile: config.mailboxCAFile, timeout: config.mailboxTimeout)
    }
}
