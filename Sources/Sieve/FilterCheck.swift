/// What checking a script against a message found, as the admin API
/// (`POST /api/filters/test`) and `postroom filters test --json` both print it: either
/// the compile error with its place, or the actions with sieve-test's text. One type,
/// so the two answers cannot drift apart.
public struct FilterCheck: Sendable, Encodable, Equatable {
    public var valid: Bool
    /// file:line:column: what was expected (a script that does not compile).
    public var error: String?
    public var line: Int?
    public var column: Int?
    public var actions: [SieveAction]?
    public var implicitKeep: Bool?
    public var implicitKeepFlags: [String]?
    public var headerEdits: [HeaderEdit]?
    public var runtimeError: String?
    public var trace: [String]?
    /// The result in sieve-test's words.
    public var text: String?

    /// A script that did not compile.
    public init(_ error: SieveError) {
        valid = false
        self.error = error.description
        line = error.position.line
        column = error.position.column
    }

    /// Rules that could not be loaded (an inbox's folder with a refused script): the
    /// loader's own lines, each naming its file and place.
    public init(refused problems: [String]) {
        valid = false
        error = problems.joined(separator: "\n")
    }

    public init(_ result: SieveResult) {
        valid = true
        actions = result.actions
        implicitKeep = result.implicitKeep
        implicitKeepFlags = result.implicitKeepFlags
        headerEdits = result.headerEdits
        runtimeError = result.runtimeError
        trace = result.trace
        text = result.sieveTestText
    }
}
