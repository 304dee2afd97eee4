/// Sieve `:regex` (draft-ietf-sieve-regex: POSIX extended expressions) run by a Pike
/// virtual machine: every position of the text is visited once with at most one
/// thread per instruction, so a match costs O(text × program) whatever the pattern.
/// ICU's backtracking engine, used before, took exponential time on `(a|aa)*b` and
/// polynomial time on `a*a*a*b` over text an attacker chose.
///
/// Supported: literals and `\` escapes, `.`, bracket expressions with ranges and POSIX
/// classes (`[[:alpha:]]`), `\d \w \s \D \W \S`, anchors `^ $`, groups (captured, and
/// `(?:...)`), `|`, and `* + ? {n} {n,} {n,m}`, each also lazy with a trailing `?`.
/// Submatch priority is leftmost-first, as in the engine it replaces.
struct SieveRegex: Sendable {
    struct RegexError: Error, Equatable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Largest compiled program: `{n,m}` copies its operand, so it is bounded.
    static let maxProgram = 4096
    static let maxNesting = 100
    static let maxCaptures = 9

    struct CharClass: Sendable {
        enum Item: Sendable {
            case range(UInt32, UInt32)
            case named(String)  // alpha, digit, space, word, upper, lower, alnum, punct, xdigit, blank, cntrl, print, graph
        }
        var items: [Item] = []
        var negated = false

        func contains(_ c: UInt32, caseInsensitive: Bool) -> Bool {
            var hit = matches(c)
            if !hit && caseInsensitive {
                if c >= 0x41 && c <= 0x5A { hit = matches(c + 32) } else if c >= 0x61 && c <= 0x7A { hit = matches(c - 32) }
            }
            return hit != negated
        }

        func matches(_ c: UInt32) -> Bool {
            for item in items {
                switch item {
                case .range(let lo, let hi): if c >= lo && c <= hi { return true }
                case .named(let name): if Self.named(name, c) { return true }
                }
            }
            return false
        }

        static func named(_ name: String, _ c: UInt32) -> Bool {
            guard let scalar = Unicode.Scalar(c) else { return false }
            let p = scalar.properties
            switch name {
            case "alpha": return p.isAlphabetic
            case "digit": return c >= 0x30 && c <= 0x39
            case "alnum": return p.isAlphabetic || (c >= 0x30 && c <= 0x39)
            case "word": return p.isAlphabetic || (c >= 0x30 && c <= 0x39) || c == 0x5F
            case "space": return p.isWhitespace
            case "blank": return c == 0x20 || c == 0x09
            case "upper": return p.isUppercase
            case "lower": return p.isLowercase
            case "punct": return c < 0x80 && c > 0x20 && c != 0x7F && !(p.isAlphabetic || (c >= 0x30 && c <= 0x39))
            case "xdigit": return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
            case "cntrl": return c < 0x20 || c == 0x7F
            case "print": return c >= 0x20 && c != 0x7F
            case "graph": return c > 0x20 && c != 0x7F && !p.isWhitespace
            default: return false
            }
        }
    }

    indirect enum Node: Sendable {
        case empty
        case char(UInt32)
        case any
        case set(CharClass)
        case begin, end
        case group(Node, capture: Int?)
        case concat([Node])
        case alternation([Node])
        case repeated(Node, min: Int, max: Int?, greedy: Bool)
    }

    enum Instruction: Sendable {
        case char(UInt32)
        case any
        case set(CharClass)
        /// Try `x` first, then `y` (priority order).
        case split(Int, Int)
        case jump(Int)
        case save(Int)
        case begin, end
        case match
    }

    let program: [Instruction]
    let captureCount: Int
    let caseInsensitive: Bool

    init(_ pattern: String, caseInsensitive: Bool) throws(RegexError) {
        var parser = Parser(scalars: Array(pattern.unicodeScalars.map(\.value)))
        let node = try parser.parseAlternation(depth: 0)
        guard parser.index == parser.scalars.count else { throw RegexError(message: "unbalanced ')' at \(parser.index + 1)") }
        var compiler = Compiler()
        compiler.emit(.save(0))
        try compiler.compile(node)
        compiler.emit(.save(1))
        compiler.emit(.match)
        guard compiler.program.count <= Self.maxProgram else {
            throw RegexError(message: "regular expression too large (over \(Self.maxProgram) steps once repetitions are counted out)")
        }
        program = compiler.program
        captureCount = parser.groups + 1
        self.caseInsensitive = caseInsensitive
    }

    // MARK: Parsing

    struct Parser {
        let scalars: [UInt32]
        var index = 0
        var groups = 0

        var peek: UInt32? { index < scalars.count ? scalars[index] : nil }

        mutating func parseAlternation(depth: Int) throws(RegexError) -> Node {
            guard depth < SieveRegex.maxNesting else { throw RegexError(message: "groups nested more than \(SieveRegex.maxNesting) deep") }
            var branches = [try parseConcat(depth: depth)]
            while peek == 0x7C {  // |
                index += 1
                branches.append(try parseConcat(depth: depth))
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func parseConcat(depth: Int) throws(RegexError) -> Node {
            var items: [Node] = []
            while let c = peek, c != 0x7C, c != 0x29 {  // | )
                var atom = try parseAtom(depth: depth)
                while let q = peek, q == 0x2A || q == 0x2B || q == 0x3F || q == 0x7B {  // * + ? {
                    let start = index
                    var min = 0
                    var max: Int?
                    index += 1
                    switch q {
                    case 0x2A: min = 0; max = nil
                    case 0x2B: min = 1; max = nil
                    case 0x3F: min = 0; max = 1
                    default:
                        guard let bounds = parseBounds() else {
                            // A "{" that is not a bound is a literal (as ICU and POSIX allow).
                            index = start
                            items.append(atom)
                            atom = .char(0x7B)
                            index += 1
                            continue
                        }
                        (min, max) = bounds
                    }
                    var greedy = true
                    if peek == 0x3F {
                        greedy = false
                        index += 1
                    }
                    // One quantifier per atom (stacking is undefined in POSIX, and 2,000
                    // stacked ones would nest as deep).
                    if let more = peek, more == 0x2A || more == 0x2B || more == 0x3F {
                        throw RegexError(message: "quantifier after a quantifier at \(index + 1)")
                    }
                    if case .begin = atom { continue }
                    if case .end = atom { continue }
                    atom = .repeated(atom, min: min, max: max, greedy: greedy)
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
        }

        /// `{n}`, `{n,}`, `{n,m}` with n, m ≤ 1000; nil when the text is not a bound.
        mutating func parseBounds() -> (Int, Int?)? {
            func number() -> Int? {
                var value = 0
                var digits = 0
                while let c = peek, c >= 0x30, c <= 0x39 {
                    value = value * 10 + Int(c - 0x30)
                    digits += 1
                    index += 1
                    if digits > 4 { return nil }
                }
                return digits == 0 ? nil : value
            }
            guard let low = number(), low <= 1000 else { return nil }
            if peek == 0x7D {
                index += 1
                return (low, low)
            }
            guard peek == 0x2C else { return nil }
            index += 1
            if peek == 0x7D {
                index += 1
                return (low, nil)
            }
            guard let high = number(), high >= low, high <= 1000, peek == 0x7D else { return nil }
            index += 1
            return (low, high)
        }

        mutating func parseAtom(depth: Int) throws(RegexError) -> Node {
            guard let c = peek else { throw RegexError(message: "expression ends early") }
            index += 1
            switch c {
            case 0x28:  // (
                var capture: Int?
                if peek == 0x3F, index + 1 < scalars.count, scalars[index + 1] == 0x3A {  // (?:
                    index += 2
                } else if groups < SieveRegex.maxCaptures {
                    // Only ${1}..${9} exist (RFC 5229); later groups group without
                    // capturing, so a thread never copies more than ten pairs.
                    groups += 1
                    capture = groups
                }
                let inner = try parseAlternation(depth: depth + 1)
                guard peek == 0x29 else { throw RegexError(message: "missing ')' for the group opened at \(index)") }
                index += 1
                return .group(inner, capture: capture)
            case 0x2E: return .any
            case 0x5E: return .begin
            case 0x24: return .end
            case 0x5B: return .set(try parseBracket())
            case 0x5C: return try parseEscape()
            case 0x2A, 0x2B, 0x3F: throw RegexError(message: "nothing to repeat at \(index)")
            default: return .char(c)
            }
        }

        mutating func parseEscape() throws(RegexError) -> Node {
            guard let c = peek else { throw RegexError(message: "trailing backslash") }
            index += 1
            func named(_ name: String, negated: Bool) -> Node { .set(CharClass(items: [.named(name)], negated: negated)) }
            switch c {
            case 0x64: return named("digit", negated: false)  // \d
            case 0x44: return named("digit", negated: true)
            case 0x77: return named("word", negated: false)  // \w
            case 0x57: return named("word", negated: true)
            case 0x73: return named("space", negated: false)  // \s
            case 0x53: return named("space", negated: true)
            case 0x6E: return .char(0x0A)  // \n
            case 0x72: return .char(0x0D)
            case 0x74: return .char(0x09)
            default:
                if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) {
                    throw RegexError(message: "unsupported escape \\\(Character(Unicode.Scalar(c) ?? "?"))")
                }
                return .char(c)
            }
        }

        mutating func parseBracket() throws(RegexError) -> CharClass {
            var set = CharClass()
            if peek == 0x5E {
                set.negated = true
                index += 1
            }
            var first = true
            while true {
                guard let c = peek else { throw RegexError(message: "missing ']'") }
                if c == 0x5D && !first {
                    index += 1
                    return set
                }
                first = false
                index += 1
                var low = c
                if c == 0x5B, peek == 0x3A {  // [:name:]
                    let start = index + 1
                    var end = start
                    while end + 1 < scalars.count, !(scalars[end] == 0x3A && scalars[end + 1] == 0x5D) { end += 1 }
                    guard end + 1 < scalars.count else { throw RegexError(message: "unclosed character class name") }
                    let name = String(decoding: scalars[start..<end].map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
                    set.items.append(.named(name))
                    index = end + 2
                    continue
                }
                if c == 0x5C, let e = peek {  // escapes inside brackets (ICU allowed them)
                    index += 1
                    switch e {
                    case 0x64: set.items.append(.named("digit")); continue
                    case 0x77: set.items.append(.named("word")); continue
                    case 0x73: set.items.append(.named("space")); continue
                    case 0x6E: low = 0x0A
                    case 0x74: low = 0x09
                    case 0x72: low = 0x0D
                    default: low = e
                    }
                }
                if peek == 0x2D, index + 1 < scalars.count, scalars[index + 1] != 0x5D {  // a-z
                    index += 1
                    var high = scalars[index]
                    index += 1
                    if high == 0x5C, let e = peek {
                        high = e
                        index += 1
                    }
                    guard high >= low else { throw RegexError(message: "range out of order in bracket expression") }
                    set.items.append(.range(low, high))
                } else {
                    set.items.append(.range(low, low))
                }
            }
        }
    }

    // MARK: Compiling

    struct Compiler {
        var program: [Instruction] = []

        mutating func emit(_ i: Instruction) { program.append(i) }

        mutating func compile(_ node: Node) throws(RegexError) {
            guard program.count <= SieveRegex.maxProgram else {
                throw RegexError(message: "regular expression too large (over \(SieveRegex.maxProgram) steps once repetitions are counted out)")
            }
            switch node {
            case .empty: break
            case .char(let c): emit(.char(c))
            case .any: emit(.any)
            case .set(let s): emit(.set(s))
            case .begin: emit(.begin)
            case .end: emit(.end)
            case .group(let inner, let capture):
                if let capture { emit(.save(2 * capture)) }
                try compile(inner)
                if let capture { emit(.save(2 * capture + 1)) }
            case .concat(let items):
                for item in items { try compile(item) }
            case .alternation(let branches):
                var jumps: [Int] = []
                for (i, branch) in branches.enumerated() {
                    if i < branches.count - 1 {
                        let split = program.count
                        emit(.split(split + 1, -1))
                        try compile(branch)
                        jumps.append(program.count)
                        emit(.jump(-1))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try compile(branch)
                    }
                }
                for j in jumps { program[j] = .jump(program.count) }
            case .repeated(let inner, let min, let max, let greedy):
                for _ in 0..<min { try compile(inner) }
                if let max {
                    // (inner(inner(...)?)?)? for the optional copies.
                    var splits: [Int] = []
                    for _ in min..<max {
                        splits.append(program.count)
                        emit(.split(-1, -1))
                        try compile(inner)
                    }
                    for s in splits { program[s] = greedy ? .split(s + 1, program.count) : .split(program.count, s + 1) }
                } else {
                    let loop = program.count
                    emit(.split(-1, -1))
                    try compile(inner)
                    emit(.jump(loop))
                    program[loop] = greedy ? .split(loop + 1, program.count) : .split(program.count, loop + 1)
                }
            }
        }
    }

    // MARK: Matching

    /// The leftmost match: `${0}` and each group's text ("" for a group that took no
    /// part), or nil.
    func firstMatch(_ text: String) -> [String]? {
        let scalars = Array(text.unicodeScalars)
        let input = scalars.map(\.value)
        let slots = 2 * captureCount
        typealias Thread = (pc: Int, caps: [Int])
        var current: [Thread] = []
        var next: [Thread] = []
        var mark = [Int](repeating: -1, count: program.count)
        var matched: [Int]?
        var generation = 0

        /// Follows jumps, splits, saves and assertions from `pc`, adding the threads
        /// that wait on a character to `list`, in priority order.
        func add(_ list: inout [Thread], _ pc: Int, _ caps: [Int], at position: Int) {
            var stack: [(Int, [Int])] = [(pc, caps)]
            while let (pc, caps) = stack.popLast() {
                guard mark[pc] != generation else { continue }
                mark[pc] = generation
                switch program[pc] {
                case .jump(let target):
                    stack.append((target, caps))
                case .split(let x, let y):
                    stack.append((y, caps))
                    stack.append((x, caps))
                case .save(let slot):
                    var copy = caps
                    copy[slot] = position
                    stack.append((pc + 1, copy))
                case .begin:
                    if position == 0 { stack.append((pc + 1, caps)) }
                case .end:
                    // End of text, or before a final line end (as ICU's `$`).
                    let rest = input.count - position
                    if rest == 0 || (rest == 1 && input[position] == 0x0A)
                        || (rest == 2 && input[position] == 0x0D && input[position + 1] == 0x0A)
                    {
                        stack.append((pc + 1, caps))
                    }
                default:
                    list.append((pc, caps))
                }
            }
        }

        var position = 0
        generation += 1
        add(&current, 0, [Int](repeating: -1, count: slots), at: 0)
        while true {
            generation += 1
            next.removeAll(keepingCapacity: true)
            for thread in current {
                switch program[thread.pc] {
                case .match:
                    matched = thread.caps
                case .char(let c):
                    if position < input.count, fold(input[position]) == fold(c) { add(&next, thread.pc + 1, thread.caps, at: position + 1) }
                case .any:
                    if position < input.count, input[position] != 0x0A, input[position] != 0x0D { add(&next, thread.pc + 1, thread.caps, at: position + 1) }
                case .set(let s):
                    if position < input.count, s.contains(input[position], caseInsensitive: caseInsensitive) {
                        add(&next, thread.pc + 1, thread.caps, at: position + 1)
                    }
                default:
                    break
                }
                if case .match = program[thread.pc] { break }  // lower-priority threads lose
            }
            guard position < input.count else { break }
            position += 1
            // Until something matched, a new attempt starts at every position (lowest priority).
            if matched == nil { add(&next, 0, [Int](repeating: -1, count: slots), at: position) }
            if next.isEmpty { break }
            swap(&current, &next)
        }
        guard let caps = matched else { return nil }
        var out: [String] = []
        for group in 0..<captureCount {
            let start = caps[2 * group], end = caps[2 * group + 1]
            if start >= 0, end >= start {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[start..<end])
                out.append(String(view))
            } else {
                out.append("")
            }
        }
        return out
    }

    func fold(_ c: UInt32) -> UInt32 { caseInsensitive && c >= 0x41 && c <= 0x5A ? c + 32 : c }
}
