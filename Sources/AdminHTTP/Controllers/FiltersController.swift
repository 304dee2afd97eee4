import Hummingbird
import Store
import Sieve

/// `/api/filters`: try a Sieve script on a message before it goes live. The answer is
/// the same `FilterCheck` that `postroom filters test --json` prints.
struct FiltersController {
    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
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

struct FilterTestInput: Decodable {
    var script: String
    var message: String
    var from: String?
    var to: String?
    var trace: Bool?
}
