/// Rules as they run at delivery: scripts in order (an inbox's: global.sieve, then its
/// own), `include` resolved in a folder. What `filters test` and `filters diff` run
/// over many messages, in one process.
public struct FilterRules: Sendable {
    public var scripts: [SieveScript]
    public var resolver: FolderResolver?
    let regexCache = RegexCache()

    public init(scripts: [SieveScript], resolver: FolderResolver?) {
        self.scripts = scripts
        self.resolver = resolver
    }

    /// The rules an inbox has in a filter set, with `local` in place of its own script
    /// when given (a rule change tried before it is saved).
    public init(_ filters: FilterSet, inbox: String, local: SieveScript? = nil) {
        self.init(scripts: [filters.script("global"), local ?? filters.script(inbox)].compactMap { $0 }, resolver: FolderResolver(directory: filters.directory))
    }

    public func run(_ message: SieveMessage, tracing: Bool = false) -> SieveResult {
        guard !scripts.isEmpty else { return SieveResult() }
        var interpreter = SieveInterpreter(tracing: tracing, resolver: resolver)
        interpreter.regexCache = regexCache
        return interpreter.runSequence(scripts, on: message)
    }
}

/// One message under two rule sets, when they decide differently.
public struct FilterChange: Sendable, Codable, Equatable {
    public var old: FilterOutcome
    public var new: FilterOutcome
    /// With tracing: the tests that made the difference, per side.
    public var because: Because?

    public struct Because: Sendable, Codable, Equatable {
        public var old: [String]
        public var new: [String]

        public init(old: [String], new: [String]) {
            self.old = old
            self.new = new
        }
    }

    /// Runs the message under both rule sets: both outcomes (for the tallies), and the
    /// change when they differ. With `explain`, a changed message's two runs are repeated
    /// with tracing to say why (unchanged ones cost no tracing).
    public static func compare(
        _ message: SieveMessage, old: FilterRules, new: FilterRules, explain: Bool
    ) -> (old: FilterOutcome, new: FilterOutcome, change: FilterChange?) {
        let before = FilterOutcome(old.run(message))
        let after = FilterOutcome(new.run(message))
        guard before != after else { return (before, after, nil) }
        var change = FilterChange(old: before, new: after)
        if explain {
            let why = FilterDifference.explain(old: old.run(message, tracing: true), new: new.run(message, tracing: true))
            change.because = Because(old: why.old, new: why.new)
        }
        return (before, after, change)
    }
}
