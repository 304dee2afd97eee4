import Foundation
import MailMessage

/// One action a script asks for, in the terms sieve-test prints.
public enum SieveAction: Sendable, Equatable, Codable {
    case keep(flags: [String])
    case fileinto(mailbox: String, flags: [String], copy: Bool, create: Bool)
    case redirect(address: String, copy: Bool)
    case reject(reason: String, extended: Bool)
    case discard
    case vacation(Vacation)
    case postroom(PostroomAction)

    public struct Vacation: Sendable, Equatable, Codable {
        public var reason: String
        public var subject: String?
        public var from: String?
        public var addresses: [String]
        public var days: Int?
        public var seconds: Int?
        public var handle: String?
        public var mime: Bool
    }

    public enum PostroomAction: Sendable, Equatable, Codable {
        case assignUser(String)
        case assignTeam(String)
        case priority(String)
        case noTicket
        case comment(String)
    }
}

/// A header edit (editheader): changes the stored view, never the raw bytes.
public enum HeaderEdit: Sendable, Equatable, Codable {
    case add(name: String, value: String, last: Bool)
    case delete(name: String, index: Int?, last: Bool, values: [String]?)
}

/// What a script decided for a message.
public struct SieveResult: Sendable, Equatable {
    public var actions: [SieveAction] = []
    /// Still true when nothing cancelled it (discard, fileinto, redirect, reject).
    public var implicitKeep = true
    /// imap4flags' internal variable at the end, used by the implicit keep.
    public var implicitKeepFlags: [String] = []
    public var headerEdits: [HeaderEdit] = []
    /// Set when the script failed while running: its actions are dropped and the
    /// message is kept (RFC 5228 2.10.6).
    public var runtimeError: String?
    /// With tracing on: which test matched and why.
    public var trace: [String] = []

    public init() {}
}

/// What the script runs against: the message and its envelope.
public struct SieveMessage: Sendable {
    public var parsed: ParsedMessage
    public var envelopeFrom: String
    public var envelopeTo: String
    public var originalRecipient: String?
    public var size: Int

    public init(raw: [UInt8], envelopeFrom: String, envelopeTo: String, originalRecipient: String? = nil) {
        parsed = MailParser.parse(raw)
        self.envelopeFrom = envelopeFrom
        self.envelopeTo = envelopeTo
        self.originalRecipient = originalRecipient
        size = raw.count
    }
}

/// Resolves `include` names to scripts (files in the filters folder).
public protocol SieveScriptResolver: Sendable {
    func script(named: String, global: Bool) throws -> SieveScript?
}

/// Runs a script. Limits keep a hostile or careless script from running away: a
/// bounded number of redirects and include depth; a runtime error drops the script's
/// actions and keeps the message.
public struct SieveInterpreter {
    public var maxRedirects = 4
    public var maxIncludeDepth = 10
    public var tracing = false
    public var resolver: (any SieveScriptResolver)?
    /// Compiled :matches/:regex patterns, shared by every run of this interpreter.
    public var regexCache = RegexCache()
    /// Called for vnd.dovecot.testsuite commands and tests (the conformance runner).
    var testsuite: TestsuiteHooks?

    public init(tracing: Bool = false, resolver: (any SieveScriptResolver)? = nil) {
        self.tracing = tracing
        self.resolver = resolver
    }

    struct Stop: Error {}
    struct Return: Error {}
    struct RuntimeError: Error { var message: String }

    /// Mutable state of one run.
    final class State {
        var message: SieveMessage
        var result = SieveResult()
        var variables: [String: String] = [:]
        var matchVariables: [String] = []
        var flags: [String] = []
        var headers: [(name: String, raw: [UInt8])]
        var redirects = 0
        var includeDepth = 0
        var included: Set<String> = []
        var globals: Set<String> = []
        let cache: RegexCache
        /// Decoded header values by lower-cased name; cleared by editheader.
        var headerCache: [String: [String]] = [:]
        /// Body values by transform; the body does not change during a run.
        var bodyCache: [String: [String]] = [:]
        /// Addresses of a header, by lower-cased name; cleared with headerCache.
        var addressCache: [String: [String]] = [:]
        var pathCache: [String: String?] = [:]
        /// Settings a host (or the test suite's test_config_set) may change.
        var subaddressSeparators: Set<Character> = ["+"]
        var maxVariableSize = Variables.maxSize
        var maxRedirects: Int?

        init(message: SieveMessage, cache: RegexCache = RegexCache()) {
            self.message = message
            self.cache = cache
            headers = message.parsed.headers.fields.map { ($0.name, $0.rawValue) }
        }
    }

    public func run(_ script: SieveScript, on message: SieveMessage) -> SieveResult {
        runSequence([script], on: message)
    }

    /// Several scripts one after another over the same message (global, then the
    /// inbox's): actions accumulate; `stop` ends the sequence.
    public func runSequence(_ scripts: [SieveScript], on message: SieveMessage) -> SieveResult {
        let state = State(message: message, cache: regexCache)
        do {
            for script in scripts {
                do {
                    try execute(script.commands, script: script, state)
                } catch is Return {}
                state.variables = [:]
                state.matchVariables = []
            }
        } catch is Stop {
        } catch is Return {
        } catch let error as RuntimeError {
            var result = SieveResult()
            result.runtimeError = error.message
            result.trace = state.result.trace
            return finish(result, state)
        } catch {
            var result = SieveResult()
            result.runtimeError = "\(error)"
            return finish(result, state)
        }
        return finish(state.result, state)
    }

    func finish(_ result: SieveResult, _ state: State) -> SieveResult {
        var r = result
        if r.runtimeError != nil {
            r.actions = []
            r.implicitKeep = true
            r.implicitKeepFlags = []
            return r
        }
        r.implicitKeepFlags = state.flags
        return r
    }

    // MARK: - Commands

    func execute(_ commands: [SieveCommand], script: SieveScript, _ state: State) throws {
        var i = 0
        var lastIfTaken: Bool?
        while i < commands.count {
            let command = commands[i]
            defer { i += 1 }
            switch command.name {
            case "require":
                continue
            case "if":
                let taken = try evaluate(command.tests[0], script, state)
                lastIfTaken = taken
                if taken { try execute(command.block ?? [], script: script, state) }
                continue
            case "elsif":
                if lastIfTaken == true { continue }
                let taken = try evaluate(command.tests[0], script, state)
                lastIfTaken = taken
                if taken { try execute(command.block ?? [], script: script, state) }
                continue
            case "else":
                if lastIfTaken == false { try execute(command.block ?? [], script: script, state) }
                lastIfTaken = nil
                continue
            default:
                lastIfTaken = nil
            }
            try run(command, script, state)
        }
    }

    func expand(_ s: String, _ script: SieveScript, _ state: State) -> String {
        guard script.extensions.contains("variables"), Self.hasReference(s) else { return s }
        return Variables.expand(s, variables: state.variables, matches: state.matchVariables)
    }

    func strings(_ argument: SieveArgument?, _ script: SieveScript, _ state: State) -> [String] {
        guard case .strings(let list, _)? = argument else { return [] }
        return list.map { expand($0, script, state) }
    }

    func arguments(_ raw: [SieveArgument], spec: Spec?) -> Arguments {
        var result = Arguments()
        var i = 0
        while i < raw.count {
            if case .tag(let tag, _) = raw[i] {
                var values = [raw[i]]
                if spec?.tags.first(where: { $0.name == tag })?.value != nil, i + 1 < raw.count {
                    i += 1
                    values = [raw[i]]
                }
                result.tags[tag] = values
                result.tagOrder.append(tag)
            } else {
                result.positional.append(raw[i])
            }
            i += 1
        }
        return result
    }

    func addAction(_ action: SieveAction, _ state: State) {
        // Duplicate actions are merged (RFC 5228 4.2, as sieve-test shows them).
        if !state.result.actions.contains(action) { state.result.actions.append(action) }
    }

    func flagList(_ values: [String]) -> [String] {
        var result: [String] = []
        for value in values {
            for flag in value.split(separator: " ") where !flag.isEmpty {
                let f = String(flag)
                if !result.contains(where: { $0.lowercased() == f.lowercased() }) { result.append(f) }
            }
        }
        return result
    }

    func run(_ command: SieveCommand, _ script: SieveScript, _ state: State) throws {
        let spec = Specs.commands[command.name]
        let args = arguments(command.arguments, spec: spec)
        func tagString(_ tag: String) -> String? { args.string(tag).map { expand($0, script, state) } }
        switch command.name {
        case "stop":
            throw Stop()
        case "keep":
            let flags = args.has("flags") ? flagList(args.strings("flags")!.map { expand($0, script, state) }) : state.flags
            addAction(.keep(flags: flags), state)
            state.result.implicitKeep = false
            trace(state, "keep")
        case "discard":
            addAction(.discard, state)
            state.result.implicitKeep = false
            trace(state, "discard")
        case "redirect":
            let address = strings(args.positional.first, script, state).first ?? ""
            guard address.contains("@" as Character) else { throw RuntimeError(message: "redirect: '\(address)' is not a mail address") }
            state.redirects += 1
            if state.redirects > (state.maxRedirects ?? maxRedirects) {
                throw RuntimeError(message: "too many redirects (more than \(state.maxRedirects ?? maxRedirects))")
            }
            addAction(.redirect(address: address, copy: args.has("copy")), state)
            if !args.has("copy") { state.result.implicitKeep = false }
            trace(state, "redirect to \(address)")
        case "fileinto":
            let mailbox = strings(args.positional.first, script, state).first ?? "INBOX"
            let flags = args.has("flags") ? flagList(args.strings("flags")!.map { expand($0, script, state) }) : state.flags
            if mailbox.uppercased() == "INBOX" {
                addAction(.keep(flags: flags), state)
            } else {
                addAction(.fileinto(mailbox: mailbox, flags: flags, copy: args.has("copy"), create: args.has("create")), state)
            }
            if !args.has("copy") { state.result.implicitKeep = false }
            trace(state, "fileinto \(mailbox)")
        case "reject", "ereject":
            if state.result.actions.contains(where: { if case .reject = $0 { return true } else { return false } }) {
                throw RuntimeError(message: "more than one reject")
            }
            let reason = strings(args.positional.first, script, state).first ?? ""
            addAction(.reject(reason: reason, extended: command.name == "ereject"), state)
            state.result.implicitKeep = false
            trace(state, "\(command.name): \(reason)")
        case "vacation":
            let reason = strings(args.positional.first, script, state).first ?? ""
            let vacation = SieveAction.Vacation(
                reason: reason, subject: tagString("subject"), from: tagString("from"),
                addresses: args.strings("addresses")?.map { expand($0, script, state) } ?? [],
                days: args.number("days"), seconds: args.number("seconds"), handle: tagString("handle"), mime: args.has("mime"))
            if state.result.actions.contains(where: { if case .vacation = $0 { return true } else { return false } }) {
                throw RuntimeError(message: "more than one vacation action")
            }
            addAction(.vacation(vacation), state)
            trace(state, "vacation")
        case "setflag", "addflag", "removeflag":
            let values = strings(args.positional.last, script, state)
            let variable = args.positional.count == 2 ? strings(args.positional.first, script, state).first?.lowercased() : nil
            var current = variable.map { flagList([state.variables[$0] ?? ""]) } ?? state.flags
            switch command.name {
            case "setflag": current = flagList(values)
            case "addflag": current = flagList(current + values)
            default:
                let remove = Set(flagList(values).map { $0.lowercased() })
                current = current.filter { !remove.contains($0.lowercased()) }
            }
            if let variable { state.variables[variable] = current.joined(separator: " ") } else { state.flags = current }
        case "set":
            let name = (strings(args.positional.first, script, state).first ?? "").lowercased()
            var value = strings(args.positional.last, script, state).first ?? ""
            value = Variables.applyModifiers(value, args.tagOrder)
            state.variables[name] = Variables.limited(value, to: state.maxVariableSize)
        case "addheader":
            let name = strings(args.positional.first, script, state).first ?? ""
            let value = strings(args.positional.last, script, state).first ?? ""
            guard Self.isFieldName(name) else { throw RuntimeError(message: "addheader: '\(name)' is not a valid header name") }
            if Self.protectedHeaders.contains(name.lowercased()) { break }
            let raw = Array((" " + value).utf8)
            if args.has("last") { state.headers.append((name, raw)) } else { state.headers.insert((name, raw), at: 0) }
            state.headerCache = [:]
            state.addressCache = [:]
            state.result.headerEdits.append(.add(name: name, value: value, last: args.has("last")))
        case "deleteheader":
            let name = strings(args.positional.first, script, state).first ?? ""
            if Self.protectedHeaders.contains(name.lowercased()) { break }
            let patterns = args.positional.count > 1 ? strings(args.positional.last, script, state) : nil
            let matcher = Matcher(args, cache: state.cache)
            let positions = state.headers.indices.filter { state.headers[$0].name.lowercased() == name.lowercased() }
            var targets = positions
            if let index = args.number("index") {
                let ordered = args.has("last") ? positions.reversed() : positions
                targets = index >= 1 && index <= ordered.count ? [Array(ordered)[index - 1]] : []
            }
            if let patterns {
                targets = targets.filter { i in
                    let value = HeaderField(name: name, rawValue: state.headers[i].raw).text
                    return patterns.contains { matcher.match(value, $0).0 }
                }
            }
            for i in targets.sorted(by: >) { state.headers.remove(at: i) }
            state.headerCache = [:]
            state.addressCache = [:]
            state.result.headerEdits.append(.delete(name: name, index: args.number("index"), last: args.has("last"), values: patterns))
        case "include":
            let name = strings(args.positional.first, script, state).first ?? ""
            let global = args.has("global")
            let key = (global ? "global:" : "personal:") + name
            if args.has("once") && state.included.contains(key) { break }
            state.included.insert(key)
            guard state.includeDepth < maxIncludeDepth else { throw RuntimeError(message: "include nested deeper than \(maxIncludeDepth)") }
            guard let resolver, let included = try resolver.script(named: name, global: global) else {
                if args.has("optional") { break }
                throw RuntimeError(message: "include: script '\(name)' not found")
            }
            state.includeDepth += 1
            defer { state.includeDepth -= 1 }
            do {
                try execute(included.commands, script: included, state)
            } catch is Return {}
        case "return":
            throw Return()
        case "global":
            for name in strings(args.positional.first, script, state) { state.globals.insert(name.lowercased()) }
        case "postroom_assign":
            let who = strings(args.positional.first, script, state).first ?? ""
            addAction(.postroom(args.has("team") ? .assignTeam(who) : .assignUser(who)), state)
        case "postroom_priority":
            let priority = (strings(args.positional.first, script, state).first ?? "").lowercased()
            guard ["low", "normal", "high", "urgent"].contains(priority) else {
                throw RuntimeError(message: "postroom_priority: '\(priority)' is not low, normal, high or urgent")
            }
            addAction(.postroom(.priority(priority)), state)
        case "postroom_no_ticket":
            addAction(.postroom(.noTicket), state)
        case "postroom_comment":
            addAction(.postroom(.comment(strings(args.positional.first, script, state).first ?? "")), state)
        default:
            if let testsuite {
                try testsuite.command(command, args, script, state, self)
            } else {
                throw RuntimeError(message: "command '\(command.name)' cannot run here")
            }
        }
    }

    /// An envelope path as Pigeonhole reads it: angle brackets and source routes
    /// removed; nil when it is not a valid path (so no address part matches it).
    static func normalisePath(_ text: String) -> String? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("<") {
            guard t.hasSuffix(">") else { return nil }
            t = String(t.dropFirst().dropLast())
        } else if t.contains("<" as Character) || t.contains(">" as Character) {
            return nil
        }
        if t.isEmpty { return "" }
        if t.hasPrefix("@") {
            guard let colon = t.firstIndex(of: ":") else { return nil }
            let route = t[..<colon].split(separator: ",", omittingEmptySubsequences: false)
            guard route.allSatisfy({ $0.hasPrefix("@") && isDomain($0.dropFirst()) }) else { return nil }
            t = String(t[t.index(after: colon)...])
        }
        guard let at = t.lastIndex(of: "@") else {
            // A local part alone (e.g. <MAILER-DAEMON>) is a path Pigeonhole accepts.
            return isLocalPart(Substring(t)) ? t : nil
        }
        let local = t[..<at]
        let domain = t[t.index(after: at)...]
        guard isLocalPart(local), isDomain(domain) else { return nil }
        return t
    }

    static func isLocalPart(_ local: Substring) -> Bool {
        if local.isEmpty { return false }
        if local.hasPrefix("\"") { return local.hasSuffix("\"") && local.count >= 2 }
        let atext = "!#$%&'*+-/=?^_`{|}~."
        return local.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || atext.unicodeScalars.contains($0) || $0.value > 127 }
    }

    static func isDomain(_ d: Substring) -> Bool {
        if d.hasPrefix("[") { return d.hasSuffix("]") && d.count > 2 }
        let labels = d.split(separator: ".", omittingEmptySubsequences: false)
        // Lenient like Pigeonhole: underscores and edge hyphens are seen in the wild.
        return !labels.isEmpty && labels.allSatisfy { label in
            !label.isEmpty
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0.value > 127 }
        }
    }

    /// Whether a string contains "${" (a byte scan: cheaper than a Foundation search).
    static func hasReference(_ s: String) -> Bool {
        var previous: UInt8 = 0
        for byte in s.utf8 {
            if previous == 0x24 && byte == 0x7B { return true }
            previous = byte
        }
        return false
    }

    static let protectedHeaders: Set<String> = ["received", "auto-submitted"]

    static func isFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }
    }

    func trace(_ state: State, _ text: String) {
        if tracing { state.result.trace.append(text) }
    }

    // MARK: - Tests

    func evaluate(_ test: SieveTest, _ script: SieveScript, _ state: State) throws -> Bool {
        let result = try evaluateInner(test, script, state)
        if tracing && !["allof", "anyof", "not", "true", "false"].contains(test.name) {
            trace(state, "line \(test.position.line): \(test.name) \(describe(test)) → \(result ? "true" : "false")")
        }
        return result
    }

    func describe(_ test: SieveTest) -> String {
        test.arguments.map { argument -> String in
            switch argument {
            case .tag(let t, _): return ":" + t
            case .number(let n, _): return String(n)
            case .strings(let s, _): return s.count == 1 ? "\"\(s[0])\"" : "[" + s.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
            }
        }.joined(separator: " ")
    }

    /// Limits on one regular expression: a pattern longer than this is a runtime error
    /// (the message is kept), and matching looks at most `maxRegexSubject` code
    /// points. The engine itself (SieveRegex, a Pike VM) is linear in the text.
    static let maxRegexPattern = 2048
    static let maxRegexSubject = 65536

    static func regexTooCostly(_ pattern: String) -> Bool {
        pattern.utf8.count > maxRegexPattern
    }

    func evaluateInner(_ test: SieveTest, _ script: SieveScript, _ state: State) throws -> Bool {
        let spec = Specs.tests[test.name]
        let args = arguments(test.arguments, spec: spec)
        if args.has("regex") {
            for key in strings(args.positional.last, script, state) where Self.regexTooCostly(key) {
                throw RuntimeError(message: "regular expression too costly: \(key.prefix(80))")
            }
        }
        switch test.name {
        case "true": return true
        case "false": return false
        case "not": return try !evaluate(test.tests[0], script, state)
        case "allof":
            for t in test.tests where try !evaluate(t, script, state) { return false }
            return true
        case "anyof":
            for t in test.tests where try evaluate(t, script, state) { return true }
            return false
        case "exists":
            let names = strings(args.positional.first, script, state)
            return names.allSatisfy { name in state.headers.contains { $0.name.lowercased() == name.lowercased() } }
        case "size":
            guard case .number(let limit, _)? = args.positional.first else { return false }
            return args.has("over") ? state.message.size > limit : state.message.size < limit
        case "header":
            let values = headerValues(strings(args.positional.first, script, state), args, state).map { $0 }
            return compare(values, strings(args.positional.last, script, state), args, state)
        case "address":
            var values: [String] = []
            for address in addresses(strings(args.positional.first, script, state), args, state) {
                if let part = addressPart(address, args, state) { values.append(part) }
            }
            return compare(values, strings(args.positional.last, script, state), args, state)
        case "envelope":
            var values: [String] = []
            for part in strings(args.positional.first, script, state) {
                let address: String?
                switch part.lowercased() {
                case "from": address = state.message.envelopeFrom
                case "to": address = state.message.envelopeTo
                case "orig_to": address = state.message.originalRecipient ?? state.message.envelopeTo
                default: address = nil
                }
                guard let raw = address else { continue }
                let normalised: String?
                if let cached = state.pathCache[raw] {
                    normalised = cached
                } else {
                    normalised = Self.normalisePath(raw)
                    state.pathCache[raw] = normalised
                }
                guard let address = normalised else { continue }
                if address.isEmpty {
                    // The null reverse path: every part is the empty string.
                    values.append("")
                    continue
                }
                if let value = addressPart(address, args, state) { values.append(value) }
            }
            return compare(values, strings(args.positional.last, script, state), args, state)
        case "string":
            let values = strings(args.positional.first, script, state)
            var stringArgs = args
            // Pigeonhole compares `string` with i;octet unless told otherwise.
            if stringArgs.tags["comparator"] == nil { stringArgs.tags["comparator"] = [.strings(["i;octet"], test.position)] }
            let filtered = Matcher(stringArgs, cache: state.cache).isCount ? values.filter { !$0.isEmpty } : values
            return compare(filtered, strings(args.positional.last, script, state), stringArgs, state)
        case "body":
            // The body test leaves match variables as they were (RFC 5173 section 5).
            let saved = state.matchVariables
            defer { state.matchVariables = saved }
            return compare(bodyValues(args, state), strings(args.positional.last, script, state), args, state)
        case "hasflag":
            let keys = strings(args.positional.last, script, state)
            var flags: [String]
            if args.positional.count == 2 {
                flags = flagList(strings(args.positional.first, script, state).map { state.variables[$0.lowercased()] ?? "" })
            } else {
                flags = state.flags
            }
            let matcher = Matcher(args, cache: state.cache)
            if matcher.isCount { return matcher.count(flags.count, keys) }
            return flags.contains { flag in keys.contains { key in flagList([key]).contains { matcher.match(flag, $0).0 } } }
        case "date", "currentdate":
            return try dateTest(test.name, args, script, state)
        case "mailboxexists":
            return true  // every mailbox name is a label in Postroom, which exists on demand
        case "ihave":
            return strings(args.positional.first, script, state).allSatisfy { Specs.supported.contains($0.lowercased()) }
        default:
            if let testsuite { return try testsuite.test(test, args, script, state, self) }
            throw RuntimeError(message: "test '\(test.name)' cannot run here")
        }
    }

    /// Decoded header values (RFC 2047, unfolded), honouring :index/:last.
    func headerValues(_ names: [String], _ args: Arguments, _ state: State) -> [String] {
        if args.number("index") != nil {
            return headerRaw(names, args, state).map { HeaderField(name: "", rawValue: $0).text }
        }
        var result: [String] = []
        for name in names {
            let key = name.lowercased()
            if let cached = state.headerCache[key] {
                result += cached
                continue
            }
            let values = state.headers.filter { $0.name.lowercased() == key }.map { HeaderField(name: "", rawValue: $0.raw).text }
            state.headerCache[key] = values
            result += values
        }
        return result
    }

    func addresses(_ names: [String], _ args: Arguments, _ state: State) -> [String] {
        if args.number("index") != nil {
            return headerRaw(names, args, state).flatMap { MailAddress.parseList($0).map(\.address) }
        }
        var result: [String] = []
        for name in names {
            let key = name.lowercased()
            if let cached = state.addressCache[key] {
                result += cached
                continue
            }
            let list = state.headers.filter { $0.name.lowercased() == key }.flatMap { MailAddress.parseList($0.raw).map(\.address) }
            state.addressCache[key] = list
            result += list
        }
        return result
    }

    func headerRaw(_ names: [String], _ args: Arguments, _ state: State) -> [[UInt8]] {
        var result: [[UInt8]] = []
        for name in names {
            var values = state.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.raw)
            if let index = args.number("index") {
                if args.has("last") { values.reverse() }
                values = index >= 1 && index <= values.count ? [values[index - 1]] : []
            }
            result += values
        }
        return result
    }

    /// :localpart / :domain / :all, and subaddress :user / :detail (separator "+").
    func addressPart(_ address: String, _ args: Arguments, _ state: State) -> String? {
        let at = address.lastIndex(of: "@")
        let local = at.map { String(address[..<$0]) } ?? address
        let domain = at.map { String(address[address.index(after: $0)...]) } ?? ""
        if args.has("localpart") { return local }
        if args.has("domain") { return domain }
        let separator = local.firstIndex { state.subaddressSeparators.contains($0) }
        if args.has("user") {
            return separator.map { String(local[..<$0]) } ?? local
        }
        if args.has("detail") {
            guard let separator else { return nil }
            return String(local[local.index(after: separator)...])
        }
        return address
    }

    func bodyValues(_ args: Arguments, _ state: State) -> [String] {
        let key = args.has("raw") ? "raw" : (args.strings("content").map { "content:" + $0.joined(separator: ",") } ?? "text")
        if let cached = state.bodyCache[key] { return cached }
        let values = computeBodyValues(args, state)
        state.bodyCache[key] = values
        return values
    }

    func computeBodyValues(_ args: Arguments, _ state: State) -> [String] {
        let parsed = state.message.parsed
        if args.has("raw") {
            // No body at all (no empty line after the headers) is no value, not "".
            guard parsed.root.bodyRange.lowerBound < parsed.raw.count else { return [] }
            return [String(decoding: parsed.raw[parsed.root.bodyRange], as: UTF8.self)]
        }
        let types = args.strings("content")?.map { $0.lowercased() }
        var values: [String] = []
        parsed.root.walk { part in
            guard part.children.isEmpty || types != nil else { return }
            let type = part.contentType.value
            // A malformed type ("text/plain/stupid") is no type at all.
            guard type.split(separator: "/", omittingEmptySubsequences: false).count == 2 else { return }
            if let types {
                guard types.contains(where: { t in
                    t.isEmpty || type == t || (!t.contains("/" as Character) && part.contentType.type == t)
                }) else { return }
                if part.isMultipart { return }
                values.append(part.text(in: parsed.raw).text)
            } else if part.contentType.type == "text" && !part.isMultipart {
                let text = part.text(in: parsed.raw).text
                values.append(type == "text/html" ? HTMLText.text(from: text) : text)
            }
        }
        return values.filter { !$0.isEmpty }
    }

    func compare(_ values: [String], _ keys: [String], _ args: Arguments, _ state: State) -> Bool {
        let matcher = Matcher(args, cache: state.cache)
        if matcher.isCount { return matcher.count(values.count, keys) }
        for value in values {
            for key in keys {
                let (matched, captures) = matcher.match(value, key)
                if matched {
                    if let captures { state.matchVariables = captures }
                    return true
                }
            }
        }
        return false
    }

    // MARK: date / currentdate (RFC 5260)

    func dateTest(_ name: String, _ args: Arguments, _ script: SieveScript, _ state: State) throws -> Bool {
        var seconds: Int64
        var offset: Int
        let zoneArg = args.string("zone").map { expand($0, script, state) }
        let partIndex: Int
        if name == "currentdate" {
            seconds = Int64(Date().timeIntervalSince1970)
            offset = TimeZone.current.secondsFromGMT() / 60
            partIndex = 0
        } else {
            let header = strings(args.positional.first, script, state).first ?? ""
            var values = headerValues([header], args, state)
            if values.isEmpty {
                let matcher = Matcher(args, cache: state.cache)
                return matcher.isCount ? matcher.count(0, strings(args.positional.last, script, state)) : false
            }
            if args.number("index") == nil { values = [values[0]] }
            guard let text = values.first, let parsed = MailDate.parse(text) else { return false }
            seconds = parsed
            offset = DateParts.originalOffset(text) ?? 0
            partIndex = 1
        }
        if let zoneArg {
            guard let z = DateParts.parseZone(zoneArg) else { return false }
            offset = z
        } else if name == "date" && !args.has("originalzone") {
            offset = TimeZone.current.secondsFromGMT() / 60
        }
        let part = (strings(args.positional[partIndex], script, state).first ?? "").lowercased()
        guard let value = DateParts.part(part, seconds: seconds, offsetMinutes: offset) else { return false }
        return compare([value], strings(args.positional.last, script, state), args, state)
    }
}

/// Hooks the conformance runner plugs in for vnd.dovecot.testsuite.
struct TestsuiteHooks {
    var command: (SieveCommand, Arguments, SieveScript, SieveInterpreter.State, SieveInterpreter) throws -> Void
    var test: (SieveTest, Arguments, SieveScript, SieveInterpreter.State, SieveInterpreter) throws -> Bool
}
