import ArgumentParser
import Foundation
import MailMessage
import Sieve

/// The single-message filter test, as `sieve-test` does it: shared by `postroom filters
/// test --message M` and the small `postroom-filter` binary, which links only this,
/// Sieve and MailMessage so it starts as fast as sieve-test (the big binary spends most
/// of its start resolving protocol conformances of libraries a filter test never uses).
public enum SingleMessageTest {
    /// Exit codes: 0 valid, 1 the script does not compile, 2 it failed while running
    /// (sieve-test's), 66 a file cannot be read (sysexits EX_NOINPUT).
    public static let noInput: Int32 = 66

    /// A script file as the only rules (its folder resolves `include`); prints the error
    /// with its place and exits 1 when it does not compile.
    public static func compile(_ path: String, json: Bool) throws -> FilterRules {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            FileHandle.standardError.write(Data("postroom: cannot read script \(path): \(error.localizedDescription)\n".utf8))
            throw ExitCode(noInput)
        }
        do {
            return FilterRules(scripts: [try Sieve.compile(text, name: path)], resolver: FolderResolver(directory: (path as NSString).deletingLastPathComponent))
        } catch let error as SieveError {
            if json { try printJSON(FilterCheck(error)) } else { print("error: \(error)") }
            throw ExitCode(1)
        }
    }

    /// Runs the rules on the message at `path` and prints sieve-test's text (or the
    /// API's JSON); `repeatCount` > 1 also times that many evaluations (benchmarking).
    public static func run(
        _ rules: FilterRules, message path: String, from: String?, to: String, trace: Bool, json: Bool, repeatCount: Int = 1
    ) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("postroom: cannot read message \(path)\n".utf8))
            throw ExitCode(noInput)
        }
        let raw = Array(data)
        let message = SieveMessage(raw: raw, envelopeFrom: from ?? MailParser.parse(raw).from.first?.address ?? "", envelopeTo: to)
        let result = rules.run(message, tracing: trace)
        if repeatCount > 1 {
            let started = ContinuousClock.now
            for _ in 0..<repeatCount { _ = rules.run(message) }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            FileHandle.standardError.write(
                Data(String(format: "%d evaluations in %.3f s: %.1f µs each\n", repeatCount, seconds, seconds / Double(repeatCount) * 1e6).utf8))
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

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
