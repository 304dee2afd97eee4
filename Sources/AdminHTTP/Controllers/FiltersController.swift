import Conversations
import Foundation
import Hummingbird
import Store
import Sieve

/// `/api/filters`: try a Sieve script on a message before it goes live (the answer is
/// the same `FilterCheck` that `postroom filters test --json` prints), or on the mail an
/// inbox really got (`diff`: which messages a rule change would decide differently).
struct FiltersController {
    let store: Store
    /// The rules in force (global.sieve and each inbox's), nil when not wired in.
    let filters: FilterSet?

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.post("diff") { request, context -> Response in
            let input = try await request.decodeInput(as: FilterDiffInput.self, context: context)
            return try .json(try await diff(input), status: .ok, sortedKeys: true)
        }
        group.post("test") { request, context -> Response in
            let input = try await request.decodeInput(as: FilterTestInput.self, context: context)
            let raw = Array(input.message.utf8)
            guard input.message.contains(where: { !$0.isWhitespace }) else { throw RequestError.invalid("message is required") }
            let check: FilterCheck
            do {
                let script = try Sieve.compile(input.script, name: "script.sieve")
                let message = SieveMessage(raw: raw, envelopeFrom: input.from ?? "", envelopeTo: input.to ?? "recipient@example.com")
                check = FilterCheck(SieveInterpreter(tracing: input.trace ?? false).run(script, on: message))
            } catch let error as SieveError {
                check = FilterCheck(error)
            }
            // A script that does not compile is the test's finding, not a bad request: 200 with
            // valid false and the place, as `filters test` prints it.
            return try .json(check, status: .ok, sortedKeys: true)
        }
    }
}

extension FiltersController {
    /// At most `limit` stored messages, and no longer than `budgetMs`: the answer says
    /// which stopped it, so a month of mail is tried in slices rather than tying up the
    /// server.
    func diff(_ input: FilterDiffInput) async throws -> FilterDiffResult {
        let limit = input.limit ?? 1000
        guard (1...10000).contains(limit) else { throw RequestError.invalid("limit must be 1 to 10000") }
        let budget = input.budgetMs ?? 10000
        guard (1...60000).contains(budget) else { throw RequestError.invalid("budgetMs must be 1 to 60000") }
        var since: Int64?
        if let text = input.since {
            guard let date = RFC3339.date(text) else { throw RequestError.invalid("since must be an RFC 3339 time, such as 2026-11-01T00:00:00Z") }
            since = Int64(date.timeIntervalSince1970 * 1000)
        }
        guard let filters else { throw RequestError.conflict("the filters are not wired in") }
        let new: SieveScript
        let old: SieveScript?
        do {
            new = try Sieve.compile(input.script, name: "\(input.inbox).sieve")
            old = try input.old.map { try Sieve.compile($0, name: "old.sieve") }
        } catch let error as SieveError {
            // The script's mistake is the trial's finding, as filters/test answers it.
            return FilterDiffResult(invalid: error, inbox: input.inbox)
        }
        let samples = try await FilterSamples.stored(store, inbox: input.inbox, since: since, limit: limit)
        let oldRules = FilterRules(filters, inbox: input.inbox, local: old)
        let newRules = FilterRules(filters, inbox: input.inbox, local: new)
        var result = FilterDiffResult(inbox: input.inbox)
        let started = ContinuousClock.now
        let deadline = started.advanced(by: .milliseconds(budget))
        for sample in samples {
            if ContinuousClock.now >= deadline {
                result.complete = false
                result.stoppedBy = "budget"
                break
            }
            let message = try await FilterSamples.withRaw(store, sample).sieveMessage
            let compared = FilterChange.compare(message, old: oldRules, new: newRules, explain: input.trace ?? false)
            result.examined += 1
            result.old.add(compared.old)
            result.new.add(compared.new)
            if let change = compared.change {
                result.changed.append(.init(message: sample, old: change.old, new: change.new, because: change.because))
            }
        }
        if result.complete && samples.count == limit { result.stoppedBy = "limit" }
        let elapsed = ContinuousClock.now - started
        result.elapsedMs = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        return result
    }
}

struct FilterDiffInput: Decodable {
    var inbox: String
    /// The inbox's own script as it would be saved (global.sieve still runs first).
    var script: String
    /// The script to compare with; default: the inbox's script in force.
    var old: String?
    var since: String?
    var limit: Int?
    var budgetMs: Int?
    var trace: Bool?
}

/// Which stored messages a rule change would decide differently.
struct FilterDiffResult: Encodable {
    var valid = true
    var error: String?
    var line: Int?
    var column: Int?
    var inbox: String
    /// Messages tried (the newest, up to the limit, oldest first).
    var examined = 0
    var changed: [Changed] = []
    /// False when the time budget ran out before every message was tried.
    var complete = true
    /// "limit" when there may be older messages than those tried, "budget" when the time ran out.
    var stoppedBy: String?
    var elapsedMs = 0
    var old = FilterTally()
    var new = FilterTally()

    struct Changed: Encodable {
        var message: StoredSample
        var old: FilterOutcome
        var new: FilterOutcome
        var because: FilterChange.Because?
    }

    init(inbox: String) {
        self.inbox = inbox
    }

    init(invalid error: SieveError, inbox: String) {
        self.inbox = inbox
        valid = false
        self.error = error.description
        line = error.position.line
        column = error.position.column
    }
}

struct FilterTestInput: Decodable {
    var script: String
    var message: String
    var from: String?
    var to: String?
    var trace: Bool?
}
