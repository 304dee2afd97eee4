import Foundation

/// The scripts in the filters folder: `global.sieve` runs first for every message,
/// then `<inbox-slug>.sieve`. A script that does not compile is refused with its error
/// and the previous good version stays in force.
public final class FilterSet: @unchecked Sendable {
    public struct Loaded: Sendable {
        public var script: SieveScript
        public var modified: Date
    }

    public let directory: String
    let lock = NSLock()
    var scripts: [String: Loaded] = [:]
    var errors: [String: String] = [:]
    var seen: [String: Date] = [:]
    let regexCache = RegexCache()

    public init(directory: String) {
        self.directory = directory
    }

    /// Scripts by name without ".sieve" ("global", inbox slugs).
    public func script(_ name: String) -> SieveScript? {
        lock.lock()
        defer { lock.unlock() }
        return scripts[name]?.script
    }

    public var hasScripts: Bool {
        lock.lock()
        defer { lock.unlock() }
        return !scripts.isEmpty
    }

    public var currentErrors: [String: String] {
        lock.lock()
        defer { lock.unlock() }
        return errors
    }

    /// Compiles every `.sieve` file that changed since the last look. Returns what
    /// happened, one line per file, for the log.
    @discardableResult
    public func reload(force: Bool = false) -> [String] {
        var messages: [String] = []
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".sieve") }.sorted() ?? []
        var present: Set<String> = []
        for file in files {
            let name = String(file.dropLast(".sieve".count))
            present.insert(name)
            let path = (directory as NSString).appendingPathComponent(file)
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date.distantPast
            lock.lock()
            let unchanged = seen[name] == modified
            lock.unlock()
            if unchanged && !force { continue }
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                let compiled = try Sieve.compile(text, name: path)
                lock.lock()
                scripts[name] = Loaded(script: compiled, modified: modified)
                errors[name] = nil
                seen[name] = modified
                lock.unlock()
                messages.append("loaded \(path)")
            } catch let error as SieveError {
                lock.lock()
                errors[name] = error.description
                seen[name] = modified
                let kept = scripts[name] != nil
                lock.unlock()
                messages.append("refused \(error.description); \(kept ? "the previous version stays in force" : "no rules for it until fixed")")
            } catch {
                messages.append("cannot read \(path): \(error)")
            }
        }
        lock.lock()
        for name in scripts.keys where !present.contains(name) {
            scripts[name] = nil
            seen[name] = nil
            errors[name] = nil
            messages.append("removed \(name).sieve")
        }
        lock.unlock()
        return messages
    }

    /// Runs global, then the inbox's script (RFC-style: both see the same message;
    /// actions accumulate; a `stop` in global ends everything).
    public func evaluate(inbox: String, message: SieveMessage, tracing: Bool = false) -> SieveResult? {
        let global = script("global")
        let local = script(inbox)
        guard global != nil || local != nil else { return nil }
        var interpreter = SieveInterpreter(tracing: tracing, resolver: FolderResolver(directory: directory))
        interpreter.regexCache = regexCache
        return interpreter.runSequence([global, local].compactMap { $0 }, on: message)
    }
}

/// `include` resolves names to files in the filters folder (`:global` scripts in its
/// `global/` subfolder).
public struct FolderResolver: SieveScriptResolver {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func script(named name: String, global: Bool) throws -> SieveScript? {
        guard !name.contains("/" as Character), !name.hasPrefix(".") else { return nil }
        let folder = global ? (directory as NSString).appendingPathComponent("global") : directory
        let path = (folder as NSString).appendingPathComponent(name.hasSuffix(".sieve") ? name : name + ".sieve")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return try Sieve.compile(text, name: path)
    }
}

/// What the filters decided for one inbox, stored with the message before the 250 and
/// carried out by processing.
public struct FilterDecision: Sendable, Codable, Equatable {
    public var actions: [SieveAction]
    public var implicitKeep: Bool
    public var implicitKeepFlags: [String]
    public var headerEdits: [HeaderEdit]
    public var runtimeError: String?

    public init(_ result: SieveResult) {
        actions = result.actions
        implicitKeep = result.implicitKeep
        implicitKeepFlags = result.implicitKeepFlags
        headerEdits = result.headerEdits
        runtimeError = result.runtimeError
    }

    /// The reject reason, when the message is refused.
    public var rejection: String? {
        for action in actions { if case .reject(let reason, _) = action { return reason } }
        return nil
    }

    /// Discarded: nothing keeps or files it.
    public var isDiscarded: Bool {
        !implicitKeep && actions.contains(.discard)
            && !actions.contains { action in
                switch action {
                case .keep, .fileinto: return true
                default: return false
                }
            }
    }
}
