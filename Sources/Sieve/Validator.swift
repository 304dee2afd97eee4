import Foundation

/// What a command or test accepts: its extension, its tags (grouped where only one of a
/// group may appear), its positional arguments, tests and block.
struct Spec {
    enum Value { case string, strings, number }
    struct Tag {
        var name: String
        var value: Value?
        var group: String?
        var ext: String?
    }
    var ext: String?
    var tags: [Tag] = []
    /// Positional kinds; the first `optionalLeading` of them may be left out.
    var positional: [Value] = []
    var optionalLeading = 0
    var optionalTrailing = 0
    var tests: Int = 0  // 0 none, 1 exactly one, -1 a list
    var block = false
}

enum Specs {
    static let comparator = Spec.Tag(name: "comparator", value: .string, group: "comparator")
    static let matchTypes: [Spec.Tag] = [
        .init(name: "is", group: "match"), .init(name: "contains", group: "match"), .init(name: "matches", group: "match"),
        .init(name: "regex", group: "match", ext: "regex"),
        .init(name: "count", value: .string, group: "match", ext: "relational"),
        .init(name: "value", value: .string, group: "match", ext: "relational"),
    ]
    static let addressParts: [Spec.Tag] = [
        .init(name: "all", group: "part"), .init(name: "localpart", group: "part"), .init(name: "domain", group: "part"),
        .init(name: "user", group: "part", ext: "subaddress"), .init(name: "detail", group: "part", ext: "subaddress"),
    ]
    static let index: [Spec.Tag] = [.init(name: "index", value: .number, ext: "index"), .init(name: "last", ext: "index")]
    static let match = [comparator] + matchTypes

    static let commands: [String: Spec] = [
        "require": Spec(positional: [.strings]),
        "if": Spec(tests: 1, block: true),
        "elsif": Spec(tests: 1, block: true),
        "else": Spec(block: true),
        "stop": Spec(),
        "keep": Spec(tags: [.init(name: "flags", value: .strings, ext: "imap4flags")]),
        "discard": Spec(),
        "redirect": Spec(tags: [.init(name: "copy", ext: "copy")], positional: [.string]),
        "fileinto": Spec(
            ext: "fileinto",
            tags: [.init(name: "copy", ext: "copy"), .init(name: "flags", value: .strings, ext: "imap4flags"), .init(name: "create", ext: "mailbox")],
            positional: [.string]),
        "reject": Spec(ext: "reject", positional: [.string]),
        "ereject": Spec(ext: "ereject", positional: [.string]),
        "vacation": Spec(
            ext: "vacation",
            tags: [
                .init(name: "days", value: .number, group: "period"), .init(name: "seconds", value: .number, group: "period", ext: "vacation-seconds"),
                .init(name: "subject", value: .string), .init(name: "from", value: .string), .init(name: "addresses", value: .strings),
                .init(name: "mime"), .init(name: "handle", value: .string),
            ], positional: [.string]),
        "setflag": Spec(ext: "imap4flags", positional: [.string, .strings], optionalLeading: 1),
        "addflag": Spec(ext: "imap4flags", positional: [.string, .strings], optionalLeading: 1),
        "removeflag": Spec(ext: "imap4flags", positional: [.string, .strings], optionalLeading: 1),
        "set": Spec(
            ext: "variables",
            tags: ["lower", "upper", "lowerfirst", "upperfirst", "quotewildcard", "quoteregex", "length", "encodeurl"].map { Spec.Tag(name: $0) },
            positional: [.string, .string]),
        "addheader": Spec(ext: "editheader", tags: [.init(name: "last")], positional: [.string, .string]),
        "deleteheader": Spec(ext: "editheader", tags: match + index, positional: [.string, .strings], optionalTrailing: 1),
        "include": Spec(
            ext: "include",
            tags: [.init(name: "personal", group: "location"), .init(name: "global", group: "location"), .init(name: "once"), .init(name: "optional")],
            positional: [.string]),
        "return": Spec(ext: "include"),
        "global": Spec(ext: "include", positional: [.strings]),
        "postroom_assign": Spec(ext: "vnd.postroom", tags: [.init(name: "user", group: "who"), .init(name: "team", group: "who")], positional: [.string]),
        "postroom_priority": Spec(ext: "vnd.postroom", positional: [.string]),
        "postroom_no_ticket": Spec(ext: "vnd.postroom"),
        "postroom_comment": Spec(ext: "vnd.postroom", positional: [.string]),
        // vnd.dovecot.testsuite (only for running Pigeonhole's test suite)
        "test": Spec(ext: "vnd.dovecot.testsuite", positional: [.string], block: true),
        "test_fail": Spec(ext: "vnd.dovecot.testsuite", positional: [.string]),
        "test_set": Spec(ext: "vnd.dovecot.testsuite", positional: [.string, .string]),
        "test_result_reset": Spec(ext: "vnd.dovecot.testsuite"),
        "test_config_set": Spec(ext: "vnd.dovecot.testsuite", positional: [.string, .string]),
        "test_config_unset": Spec(ext: "vnd.dovecot.testsuite", positional: [.string]),
        "test_config_reload": Spec(ext: "vnd.dovecot.testsuite", tags: [.init(name: "extension", value: .string)]),
        "test_message": Spec(
            ext: "vnd.dovecot.testsuite", tags: [.init(name: "smtp", group: "where"), .init(name: "folder", value: .string, group: "where")],
            positional: [.number]),
    ]

    static let tests: [String: Spec] = [
        "address": Spec(tags: match + addressParts + index + [.init(name: "mime", ext: "mime"), .init(name: "anychild", ext: "mime")], positional: [.strings, .strings]),
        "header": Spec(tags: match + index + [.init(name: "mime", ext: "mime"), .init(name: "anychild", ext: "mime")], positional: [.strings, .strings]),
        "envelope": Spec(ext: "envelope", tags: match + addressParts, positional: [.strings, .strings]),
        "exists": Spec(positional: [.strings]),
        "size": Spec(tags: [.init(name: "over", group: "size"), .init(name: "under", group: "size")], positional: [.number]),
        "allof": Spec(tests: -1),
        "anyof": Spec(tests: -1),
        "not": Spec(tests: 1),
        "true": Spec(),
        "false": Spec(),
        "body": Spec(
            ext: "body",
            tags: match + [.init(name: "raw", group: "transform"), .init(name: "content", value: .strings, group: "transform"), .init(name: "text", group: "transform")],
            positional: [.strings]),
        "string": Spec(ext: "variables", tags: match, positional: [.strings, .strings]),
        "date": Spec(
            ext: "date", tags: match + index + [.init(name: "zone", value: .string, group: "zone"), .init(name: "originalzone", group: "zone")],
            positional: [.string, .string, .strings]),
        "currentdate": Spec(ext: "date", tags: match + [.init(name: "zone", value: .string)], positional: [.string, .strings]),
        "hasflag": Spec(ext: "imap4flags", tags: match, positional: [.strings, .strings], optionalLeading: 1),
        "mailboxexists": Spec(ext: "mailbox", positional: [.strings]),
        "ihave": Spec(ext: "ihave", positional: [.strings]),
        "test_script_compile": Spec(ext: "vnd.dovecot.testsuite", positional: [.string]),
        "test_error": Spec(ext: "vnd.dovecot.testsuite", tags: match + [.init(name: "index", value: .number)], positional: [.strings]),
        "test_result_action": Spec(ext: "vnd.dovecot.testsuite", tags: match + [.init(name: "index", value: .number)], positional: [.strings]),
        "test_script_run": Spec(ext: "vnd.dovecot.testsuite", tags: [.init(name: "append_result")]),
        "test_result_execute": Spec(ext: "vnd.dovecot.testsuite"),
        "test_message": Spec(
            ext: "vnd.dovecot.testsuite", tags: [.init(name: "smtp", group: "where"), .init(name: "folder", value: .string, group: "where")],
            positional: [.number]),
    ]

    /// Extensions this implementation supports (what `require` accepts).
    static let supported: Set<String> = [
        "fileinto", "envelope", "reject", "ereject", "imap4flags", "variables", "body", "relational", "subaddress", "copy", "regex",
        "date", "index", "vacation", "vacation-seconds", "include", "mailbox", "editheader", "encoded-character", "ihave",
        "comparator-i;ascii-numeric", "comparator-i;octet", "comparator-i;ascii-casemap", "vnd.postroom",
    ]
    static let comparators = ["i;octet", "i;ascii-casemap", "i;ascii-numeric"]
    static let relations = ["gt", "ge", "lt", "le", "eq", "ne"]
}

/// Checks a parsed script: `require` first and only supported extensions, every
/// command and test known (and its extension required), arguments of the right kinds,
/// if/elsif/else in order, comparators, relations and constant regexes valid.
struct Validator {
    let file: String
    var extensions: Set<String> = []
    let allowTestsuite: Bool

    func error(_ message: String, _ position: SourcePosition) -> SieveError {
        SieveError(file: file, position: position, message: message)
    }

    mutating func validate(_ commands: inout [SieveCommand], topLevel: Bool) throws(SieveError) {
        var requiresAllowed = topLevel
        var previous: String?
        for i in commands.indices {
            let command = commands[i]
            if command.name == "require" {
                guard requiresAllowed else {
                    throw error("require must come before any other command", command.position)
                }
                guard command.arguments.count == 1, case .strings(let names, _) = command.arguments[0] else {
                    throw error("require expects a string list of extension names", command.position)
                }
                for name in names {
                    let lower = name.lowercased()
                    if lower == "vnd.dovecot.testsuite" && allowTestsuite {
                        extensions.insert(lower)
                        continue
                    }
                    guard Specs.supported.contains(lower) else {
                        throw error("unsupported extension '\(name)' in require (supported: \(Specs.supported.sorted().joined(separator: ", ")))", command.arguments[0].position)
                    }
                    extensions.insert(lower)
                    if lower == "imap4flags" || lower == "date" || lower == "index" || lower == "editheader" { continue }
                }
                previous = "require"
                continue
            }
            requiresAllowed = false
            if command.name == "elsif" || command.name == "else" {
                guard previous == "if" || previous == "elsif" else {
                    throw error("'\(command.name)' must follow 'if' or 'elsif'", command.position)
                }
            }
            try check(command)
            if extensions.contains("encoded-character") {
                commands[i] = decodeEncodedCharacters(command)
            }
            if var block = commands[i].block {
                try validate(&block, topLevel: false)
                commands[i].block = block
            }
            previous = command.name
        }
    }

    func check(_ command: SieveCommand) throws(SieveError) {
        guard let spec = Specs.commands[command.name] else {
            throw error("unknown command '\(command.name)'", command.position)
        }
        if let ext = spec.ext, !extensions.contains(ext) {
            throw error("'\(command.name)' needs the extension '\(ext)': add require \"\(ext)\"", command.position)
        }
        let args = try checkArguments(command.name, command.arguments, spec, command.position)
        try checkTests(command.name, command.tests, spec, command.position)
        if spec.block && command.block == nil {
            throw error("'\(command.name)' needs a block { ... }", command.position)
        }
        if !spec.block && command.block != nil {
            throw error("'\(command.name)' takes no block; expected ';'", command.position)
        }
        if command.name == "set", let name = args.positionalStrings(0).first, !Self.isVariableName(name) {
            throw error("'\(name)' is not a valid variable name", command.arguments.last!.position)
        }
        for test in command.tests { try check(test) }
    }

    func check(_ test: SieveTest) throws(SieveError) {
        guard let spec = Specs.tests[test.name] else {
            throw error("unknown test '\(test.name)'", test.position)
        }
        if let ext = spec.ext, !extensions.contains(ext) {
            throw error("'\(test.name)' needs the extension '\(ext)': add require \"\(ext)\"", test.position)
        }
        let args = try checkArguments(test.name, test.arguments, spec, test.position)
        try checkTests(test.name, test.tests, spec, test.position)
        if test.name == "size" && args.tags.isEmpty {
            throw error("size needs :over or :under", test.position)
        }
        try checkMatch(args, test.position)
        for inner in test.tests { try check(inner) }
    }

    func checkMatch(_ args: Arguments, _ position: SourcePosition) throws(SieveError) {
        var comparator = "i;ascii-casemap"
        if let c = args.string("comparator") {
            let lower = c.lowercased()
            guard Specs.comparators.contains(lower) else {
                throw error("unknown comparator '\(c)' (known: \(Specs.comparators.joined(separator: ", ")))", args.tags["comparator"]!.first!.position)
            }
            if lower == "i;ascii-numeric" && !extensions.contains("comparator-i;ascii-numeric") {
                throw error("comparator 'i;ascii-numeric' needs require \"comparator-i;ascii-numeric\"", args.tags["comparator"]!.first!.position)
            }
            comparator = lower
        }
        for relational in ["count", "value"] {
            if let r = args.string(relational), !Specs.relations.contains(r.lowercased()) {
                throw error("':\(relational)' needs a relation: one of \(Specs.relations.joined(separator: ", ")); found '\(r)'", args.tags[relational]!.first!.position)
            }
        }
        if comparator == "i;ascii-numeric" && (args.has("contains") || args.has("matches") || args.has("regex")) {
            throw error("comparator 'i;ascii-numeric' supports only :is, :value and :count", position)
        }
        if args.has("regex"), let keys = args.positional.last, case .strings(let patterns, let p) = keys {
            for pattern in patterns where !(extensions.contains("variables") && pattern.contains("${")) {
                do {
                    _ = try SieveRegex(pattern, caseInsensitive: false)
                } catch let failure {
                    throw error("invalid regular expression '\(pattern)': \(failure)", p)
                }
            }
        }
    }

    func checkTests(_ name: String, _ tests: [SieveTest], _ spec: Spec, _ position: SourcePosition) throws(SieveError) {
        switch spec.tests {
        case 0 where !tests.isEmpty: throw error("'\(name)' takes no test", position)
        case 1 where tests.count != 1: throw error("'\(name)' needs exactly one test", position)
        case -1 where tests.isEmpty: throw error("'\(name)' needs a test list ( ... )", position)
        default: break
        }
    }

    func checkArguments(_ name: String, _ arguments: [SieveArgument], _ spec: Spec, _ position: SourcePosition) throws(SieveError) -> Arguments {
        var result = Arguments()
        var groups: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if case .tag(let tag, let p) = argument {
                guard result.positional.isEmpty else {
                    throw error("tag ':\(tag)' must come before the positional arguments of '\(name)'", p)
                }
                guard let tagSpec = spec.tags.first(where: { $0.name == tag }) else {
                    throw error("'\(name)' has no tag ':\(tag)'", p)
                }
                if let ext = tagSpec.ext, !extensions.contains(ext) {
                    throw error("':\(tag)' needs the extension '\(ext)': add require \"\(ext)\"", p)
                }
                if result.tags[tag] != nil { throw error("':\(tag)' given twice", p) }
                if let group = tagSpec.group {
                    if let other = groups[group] { throw error("':\(tag)' cannot be combined with ':\(other)'", p) }
                    groups[group] = tag
                }
                var values: [SieveArgument] = [argument]
                if let value = tagSpec.value {
                    i += 1
                    guard i < arguments.count, Self.fits(arguments[i], value) else {
                        throw error("':\(tag)' needs \(Self.describe(value)) after it", p)
                    }
                    values = [arguments[i]]
                }
                result.tags[tag] = values
                result.tagOrder.append(tag)
            } else {
                result.positional.append(argument)
            }
            i += 1
        }
        let maximum = spec.positional.count
        let minimum = maximum - spec.optionalLeading - spec.optionalTrailing
        guard (minimum...maximum).contains(result.positional.count) else {
            let expected = minimum == maximum ? "\(maximum)" : "\(minimum) to \(maximum)"
            throw error("'\(name)' expects \(expected) positional argument\(maximum == 1 ? "" : "s") (\(spec.positional.map(Self.describe).joined(separator: ", "))), found \(result.positional.count)", position)
        }
        let kinds = result.positional.count == maximum
            ? spec.positional
            : (spec.optionalLeading > 0 ? Array(spec.positional.dropFirst(maximum - result.positional.count)) : Array(spec.positional.prefix(result.positional.count)))
        for (argument, kind) in zip(result.positional, kinds) where !Self.fits(argument, kind) {
            throw error("'\(name)' expects \(Self.describe(kind)) here", argument.position)
        }
        return result
    }

    static func fits(_ argument: SieveArgument, _ kind: Spec.Value) -> Bool {
        switch (argument, kind) {
        case (.strings(let s, _), .string): return s.count == 1
        case (.strings, .strings): return true
        case (.number, .number): return true
        default: return false
        }
    }

    static func describe(_ kind: Spec.Value) -> String {
        switch kind {
        case .string: return "a string"
        case .strings: return "a string list"
        case .number: return "a number"
        }
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, Lexer.isIdentifierStart(first) else { return false }
        return name.unicodeScalars.allSatisfy { Lexer.isIdentifierPart($0) || $0 == "." }
    }

    // MARK: encoded-character (RFC 5228 2.4.2.4)

    func decodeEncodedCharacters(_ command: SieveCommand) -> SieveCommand {
        var c = command
        c.arguments = c.arguments.map(decode)
        c.tests = c.tests.map(decode)
        return c
    }

    func decode(_ test: SieveTest) -> SieveTest {
        var t = test
        t.arguments = t.arguments.map(decode)
        t.tests = t.tests.map(decode)
        return t
    }

    func decode(_ argument: SieveArgument) -> SieveArgument {
        if case .strings(let list, let p) = argument { return .strings(list.map(Self.decodeEncoded), p) }
        return argument
    }

    static func decodeEncoded(_ text: String) -> String {
        Variables.substitute(text, decodeEncodedBody)
    }

    static func decodeEncodedBody(_ body: Substring) -> String? {
        guard let colon = body.firstIndex(of: ":") else { return nil }
        let kind = body[..<colon].lowercased()
        let items = body[body.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        guard !items.isEmpty else { return nil }
        if kind == "hex" {
            var bytes: [UInt8] = []
            for item in items {
                guard item.count <= 2 || item.drop(while: { $0 == "0" }).count <= 2, let b = UInt8(item.suffix(2), radix: 16) else { return nil }
                bytes.append(b)
            }
            return String(validating: bytes, as: UTF8.self)
        }
        if kind == "unicode" {
            var scalars = String.UnicodeScalarView()
            for item in items {
                guard let v = UInt32(item, radix: 16), let s = Unicode.Scalar(v) else { return nil }
                scalars.append(s)
            }
            return String(scalars)
        }
        return nil
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
