/// One message's decision, in the terms an operator compares: where it ends up
/// (INBOX, folders, discarded, rejected), what else happens (redirects, a vacation
/// reply, flags, Postroom's own actions), and whether the script failed. Two outcomes
/// are equal exactly when a change of rules would make no difference to the message.
public struct FilterOutcome: Sendable, Codable, Equatable {
    /// Kept in INBOX (by `keep` or the implicit keep).
    public var kept: Bool
    /// `fileinto` folders, in order.
    public var folders: [String]
    public var discarded: Bool
    /// The reject reason.
    public var rejected: String?
    public var redirects: [String]
    public var vacation: Bool
    /// IMAP flags set on the kept or filed copy.
    public var flags: [String]
    /// vnd.postroom actions (assign, priority, no ticket, comment).
    public var postroom: [String]
    public var runtimeError: String?

    public init(_ result: SieveResult) {
        var kept = result.implicitKeep
        var folders: [String] = []
        var discarded = false
        var rejected: String?
        var redirects: [String] = []
        var vacation = false
        var flags = result.implicitKeep ? result.implicitKeepFlags : []
        var postroom: [String] = []
        for action in result.actions {
            switch action {
            case .keep(let f):
                kept = true
                flags += f
            case .fileinto(let mailbox, let f, _, _):
                folders.append(mailbox)
                flags += f
            case .redirect(let address, _): redirects.append(address)
            case .reject(let reason, _): rejected = reason
            case .discard: discarded = true
            case .vacation: vacation = true
            case .postroom(let p): postroom.append(Self.describe(p))
            }
        }
        // Discard only counts when nothing keeps or files the message (RFC 5228 4.4).
        if kept || !folders.isEmpty { discarded = false }
        self.kept = kept
        self.folders = folders
        self.discarded = discarded
        self.rejected = rejected
        self.redirects = redirects
        self.vacation = vacation
        var seen = Set<String>()
        self.flags = flags.filter { seen.insert($0.lowercased()).inserted }
        self.postroom = postroom
        self.runtimeError = result.runtimeError
    }

    static func describe(_ action: SieveAction.PostroomAction) -> String {
        switch action {
        case .assignUser(let user): "assign to \(user)"
        case .assignTeam(let team): "assign to team \(team)"
        case .priority(let priority): "priority \(priority)"
        case .noTicket: "no ticket"
        case .comment(let text): "comment \"\(text.prefix(60))\""
        }
    }

    /// One line: `keep`, `fileinto "Orders"`, `discard`, `reject "reason"`, then
    /// `+ redirect to a@b`, `+ vacation`, `+ flags \Seen`, `+ assign to ...`.
    public var summary: String {
        var parts: [String] = []
        if let rejected { parts.append("reject \"\(rejected.prefix(80))\"") }
        if kept { parts.append("keep") }
        parts += folders.map { "fileinto \"\($0)\"" }
        if discarded { parts.append("discard") }
        if parts.isEmpty { parts.append(redirects.isEmpty ? "nothing" : "not kept") }
        var text = parts.joined(separator: ", ")
        for address in redirects { text += " + redirect to \(address)" }
        if vacation { text += " + vacation" }
        if !flags.isEmpty { text += " + flags \(flags.joined(separator: " "))" }
        for p in postroom { text += " + \(p)" }
        if let runtimeError { text += " (runtime error: \(runtimeError); kept)" }
        return text
    }
}

/// What a run over many messages did, counted as an operator asks: kept, filed per
/// folder, discarded, rejected, redirected, answered with a vacation reply.
public struct FilterTally: Sendable, Codable, Equatable {
    public var messages = 0
    public var kept = 0
    /// Messages filed into each folder.
    public var filed: [String: Int] = [:]
    public var discarded = 0
    public var rejected = 0
    public var redirected = 0
    public var vacation = 0
    public var runtimeErrors = 0
    /// Messages that could not be read (named on their own lines).
    public var unreadable = 0

    public init() {}

    public mutating func add(_ outcome: FilterOutcome) {
        messages += 1
        if outcome.kept { kept += 1 }
        for folder in Set(outcome.folders) { filed[folder, default: 0] += 1 }
        if outcome.discarded { discarded += 1 }
        if outcome.rejected != nil { rejected += 1 }
        if !outcome.redirects.isEmpty { redirected += 1 }
        if outcome.vacation { vacation += 1 }
        if outcome.runtimeError != nil { runtimeErrors += 1 }
    }

    public var text: String {
        let folders = filed.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        var line = "\(messages) message\(messages == 1 ? "" : "s"): \(kept) kept"
        line += folders.isEmpty ? ", none filed" : ", filed \(folders.joined(separator: ", "))"
        line += ", \(discarded) discarded, \(rejected) rejected, \(redirected) redirected, \(vacation) with vacation"
        if runtimeErrors > 0 { line += ", \(runtimeErrors) runtime error\(runtimeErrors == 1 ? "" : "s")" }
        if unreadable > 0 { line += ", \(unreadable) unreadable" }
        return line
    }
}

/// Why two rule sets decide one message differently: for each side, the tests that led
/// to what only that side does (the last test that was true before each such action),
/// and, when a side does only its implicit keep, how that side answered the other
/// side's deciding test. Read from the interpreters' traces.
public enum FilterDifference {
    /// `old`/`new` are results of runs with tracing on.
    public static func explain(old: SieveResult, new: SieveResult) -> (old: [String], new: [String]) {
        let oldOnly = actionLines(old).filter { !actionLines(new).contains($0) }
        let newOnly = actionLines(new).filter { !actionLines(old).contains($0) }
        var oldWhy = deciding(old.trace, for: oldOnly)
        var newWhy = deciding(new.trace, for: newOnly)
        if newWhy.isEmpty { newWhy = counterpart(new, of: oldWhy) }
        if oldWhy.isEmpty { oldWhy = counterpart(old, of: newWhy) }
        return (oldWhy, newWhy)
    }

    static func isTest(_ line: String) -> Bool { line.hasPrefix("line ") }

    static func actionLines(_ result: SieveResult) -> [String] { result.trace.filter { !isTest($0) } }

    /// For each action line, the last true test before it: `line 3: header ... → true ⇒ fileinto Orders`.
    static func deciding(_ trace: [String], for actions: [String]) -> [String] {
        var out: [String] = []
        var lastTrue: String?
        var wanted = actions
        for line in trace {
            if isTest(line) {
                if line.hasSuffix("→ true") { lastTrue = line }
                continue
            }
            guard let i = wanted.firstIndex(of: line) else { continue }
            wanted.remove(at: i)
            out.append((lastTrue.map { "\($0) ⇒ " } ?? "unconditionally ⇒ ") + line)
        }
        return out
    }

    /// How the other side answered the same test: the same test text (the line may
    /// have moved), else the last test on the same line (an edited test).
    static func counterpart(_ result: SieveResult, of reasons: [String]) -> [String] {
        let trace = result.trace
        var out: [String] = []
        for reason in reasons {
            guard let test = reason.components(separatedBy: " ⇒ ").first, let colon = test.firstIndex(of: ":") else { continue }
            let lineLabel = test[..<colon]
            let body = test[test.index(after: colon)...].replacingOccurrences(of: " → true", with: "")
            if let match = trace.first(where: { isTest($0) && $0.contains(body + " → ") }) {
                out.append(match)
            } else if let match = trace.last(where: { isTest($0) && $0.hasPrefix(lineLabel + ":") }) {
                out.append(match)
            }
        }
        if !out.isEmpty { return out }
        return [result.actions.isEmpty && result.implicitKeep ? "no rule matched: the implicit keep stands" : "none of its own tests led elsewhere"]
    }
}
