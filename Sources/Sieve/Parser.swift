/// RFC 5228 section 8.2 grammar to an AST; then `Validator` checks every command and
/// test against what the required extensions allow.
struct Parser {
    var tokens: [Token]
    var index = 0
    let file: String

    init(tokens: [Token], file: String) {
        self.tokens = tokens
        self.file = file
    }

    var current: Token { tokens[index] }

    func error(_ message: String, at position: SourcePosition? = nil) -> SieveError {
        SieveError(file: file, position: position ?? current.position, message: message)
    }

    mutating func take() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    mutating func expect(_ c: Character, _ what: String) throws(SieveError) {
        guard current.kind == .punctuation(c) else {
            throw error("expected \(what), found \(current.kind.describe)")
        }
        _ = take()
    }

    mutating func commands(inBlock: Bool) throws(SieveError) -> [SieveCommand] {
        var result: [SieveCommand] = []
        while true {
            switch current.kind {
            case .end:
                if inBlock { throw error("expected '}' to close the block, found end of script") }
                return result
            case .punctuation("}") where inBlock:
                return result
            case .identifier:
                result.append(try command())
            default:
                throw error("expected a command, found \(current.kind.describe)")
            }
        }
    }

    mutating func command() throws(SieveError) -> SieveCommand {
        let token = take()
        guard case .identifier(let name) = token.kind else { throw error("expected a command name") }
        let (arguments, tests) = try argumentsAndTests()
        if current.kind == .punctuation(";") {
            _ = take()
            return SieveCommand(name: name.lowercased(), arguments: arguments, tests: tests, block: nil, position: token.position)
        }
        if current.kind == .punctuation("{") {
            _ = take()
            let block = try commands(inBlock: true)
            try expect("}", "'}'")
            return SieveCommand(name: name.lowercased(), arguments: arguments, tests: tests, block: block, position: token.position)
        }
        throw error("expected ';' or '{' after the arguments of '\(name)', found \(current.kind.describe)")
    }

    mutating func argumentsAndTests() throws(SieveError) -> ([SieveArgument], [SieveTest]) {
        var arguments: [SieveArgument] = []
        loop: while true {
            let token = current
            switch token.kind {
            case .string(let s):
                _ = take()
                arguments.append(.strings([s], token.position))
            case .number(let n):
                _ = take()
                arguments.append(.number(n, token.position))
            case .tag(let t):
                _ = take()
                arguments.append(.tag(t, token.position))
            case .punctuation("["):
                _ = take()
                var list: [String] = []
                while true {
                    guard case .string(let s) = current.kind else { throw error("expected a string in the list, found \(current.kind.describe)") }
                    _ = take()
                    list.append(s)
                    if current.kind == .punctuation(",") {
                        _ = take()
                        continue
                    }
                    try expect("]", "',' or ']'")
                    break
                }
                arguments.append(.strings(list, token.position))
            default:
                break loop
            }
        }
        var tests: [SieveTest] = []
        if case .identifier = current.kind {
            tests.append(try test())
        } else if current.kind == .punctuation("(") {
            _ = take()
            while true {
                tests.append(try test())
                if current.kind == .punctuation(",") {
                    _ = take()
                    continue
                }
                try expect(")", "',' or ')'")
                break
            }
        }
        return (arguments, tests)
    }

    mutating func test() throws(SieveError) -> SieveTest {
        let token = take()
        guard case .identifier(let name) = token.kind else { throw error("expected a test, found \(token.kind.describe)", at: token.position) }
        let (arguments, tests) = try argumentsAndTests()
        return SieveTest(name: name.lowercased(), arguments: arguments, tests: tests, position: token.position)
    }
}
