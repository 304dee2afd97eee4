import Foundation
import MailMessage

/// Runs Pigeonhole's `.svtest` files (vnd.dovecot.testsuite): `test` blocks, `test_fail`,
/// `test_set` for the message and envelope, `test_result_reset`, and compiling and
/// running further scripts with `test_script_compile` / `test_script_run` /
/// `test_result_action` / `test_error`.
public struct TestsuiteRunner {
    public struct Outcome: Sendable {
        public var file: String
        public var passed: [String] = []
        public var failed: [(name: String, reason: String)] = []
        /// Set when the file could not run at all (and why).
        public var notRun: String?
        /// Whether the file uses only test, test_fail and test_set.
        public var basic = true
    }

    struct TestFailure: Error { var reason: String }

    public init() {}

    static let basicCommands: Set<String> = ["test", "test_fail", "test_set"]

    public func run(file: String) -> Outcome {
        var outcome = Outcome(file: file)
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) ?? String(contentsOfFile: file, encoding: .isoLatin1) else {
            outcome.notRun = "cannot read the file"
            return outcome
        }
        let script: SieveScript
        do {
            script = try Sieve.compile(text, name: (file as NSString).lastPathComponent, allowTestsuite: true)
        } catch {
            outcome.notRun = "does not compile here: \(error.message)"
            return outcome
        }
        outcome.basic = usesOnlyBasic(script.commands)
        let directory = (file as NSString).deletingLastPathComponent
        let context = Context(directory: directory)
        var interpreter = SieveInterpreter(resolver: DirectoryResolver(
            personal: (directory as NSString).appendingPathComponent("included"),
            global: (directory as NSString).appendingPathComponent("included-global")))
        interpreter.testsuite = hooks(context)
        let message = SieveMessage(raw: Array("From: stephan@example.org\r\nTo: sirius@example.org\r\nSubject: Frop!\r\n\r\nFrop!\r\n".utf8), envelopeFrom: "sender@example.com", envelopeTo: "recipient@example.net")
        let state = SieveInterpreter.State(message: message)
        // Top level: run every command; each `test` block is one test. Runs of other
        // commands execute together, so if/elsif/else chains keep their meaning.
        var pending: [SieveCommand] = []
        func flush() -> String? {
            defer { pending = [] }
            guard !pending.isEmpty else { return nil }
            do {
                try interpreter.execute(pending, script: script, state)
            } catch {
                return "top-level commands failed: \(error)"
            }
            return nil
        }
        for command in script.commands {
            if command.name != "test" {
                pending.append(command)
                continue
            }
            if let problem = flush() {
                outcome.notRun = problem
                return outcome
            }
            if command.name == "test" {
                let name = command.arguments.first.flatMap { if case .strings(let s, _) = $0 { return s.first } else { return nil } } ?? "?"
                let saved = (state.result, state.variables, state.flags, state.headers)
                do {
                    try interpreter.execute(command.block ?? [], script: script, state)
                    outcome.passed.append(name)
                } catch let failure as TestFailure {
                    outcome.failed.append((name, failure.reason))
                } catch is SieveInterpreter.Stop {
                    outcome.passed.append(name)
                } catch let error as SieveInterpreter.RuntimeError {
                    outcome.failed.append((name, "runtime error: \(error.message)"))
                } catch {
                    outcome.failed.append((name, "\(error)"))
                }
                (state.result, state.variables, state.flags, state.headers) = saved
                state.headerCache = [:]
                state.addressCache = [:]
                state.result = SieveResult()
                continue
            }
        }
        if let problem = flush() { outcome.notRun = problem }
        return outcome
    }

    func usesOnlyBasic(_ commands: [SieveCommand]) -> Bool {
        for command in commands {
            if command.name.hasPrefix("test") && !Self.basicCommands.contains(command.name) { return false }
            if !testsOnlyBasic(command.tests) { return false }
            if let block = command.block, !usesOnlyBasic(block) { return false }
        }
        return true
    }

    func testsOnlyBasic(_ tests: [SieveTest]) -> Bool {
        tests.allSatisfy { !$0.name.hasPrefix("test_") && testsOnlyBasic($0.tests) }
    }

    final class Context {
        let directory: String
        var compiled: SieveScript?
        var errors: [String] = []
        var lastResult = SieveResult()
        /// What executing the last result produced: mail sent (redirect, vacation,
        /// reject notices) and messages stored per folder.
        var outgoing: [(from: String, to: String, raw: [UInt8])] = []
        var folders: [String: [[UInt8]]] = [:]

        init(directory: String) {
            self.directory = directory
        }
    }

    func hooks(_ context: Context) -> TestsuiteHooks {
        TestsuiteHooks(
            command: { command, args, script, state, interpreter in
                let values = args.positional.map { argument -> String in
                    if case .strings(let s, _) = argument { return interpreter.expand(s.first ?? "", script, state) }
                    return ""
                }
                switch command.name {
                case "test_fail":
                    throw TestFailure(reason: values.first ?? "")
                case "test_set":
                    let (key, value) = (values[0].lowercased(), values.count > 1 ? values[1] : "")
                    switch key {
                    case "message":
                        state.message = SieveMessage(
                            raw: Array(value.utf8), envelopeFrom: state.message.envelopeFrom, envelopeTo: state.message.envelopeTo,
                            originalRecipient: state.message.originalRecipient)
                        state.headers = state.message.parsed.headers.fields.map { ($0.name, $0.rawValue) }
                        state.headerCache = [:]
                        state.addressCache = [:]
                        state.bodyCache = [:]
                    case "envelope.from": state.message.envelopeFrom = value
                    case "envelope.to": state.message.envelopeTo = value
                    case "envelope.orig_to": state.message.originalRecipient = value
                    default: break
                    }
                case "test_result_reset":
                    state.result = SieveResult()
                    context.lastResult = SieveResult()
                    context.outgoing = []
                    context.folders = [:]
                case "test_message":
                    if !Self.selectMessage(args, context, state) {
                        throw TestFailure(reason: "no such message (test_message)")
                    }
                case "test_config_set":
                    let (key, value) = (values[0], values.count > 1 ? values[1] : "")
                    switch key {
                    case "sieve_subaddress_sep", "recipient_delimiter":
                        state.subaddressSeparators = Set(value.isEmpty ? "+" : value)
                    case "sieve_variables_max_variable_size":
                        state.maxVariableSize = Int(value) ?? Variables.maxSize
                    case "sieve_max_redirects":
                        state.maxRedirects = Int(value)
                    default:
                        break  // keys for extensions Postroom does not have
                    }
                case "test_config_unset":
                    switch values.first ?? "" {
                    case "sieve_subaddress_sep", "recipient_delimiter": state.subaddressSeparators = ["+"]
                    case "sieve_variables_max_variable_size": state.maxVariableSize = Variables.maxSize
                    case "sieve_max_redirects": state.maxRedirects = nil
                    default: break
                    }
                case "test_config_reload":
                    break
                case "test":
                    try interpreter.execute(command.block ?? [], script: script, state)
                default:
                    throw SieveInterpreter.RuntimeError(message: "testsuite command '\(command.name)' is not implemented")
                }
            },
            test: { test, args, script, state, interpreter in
                func positional(_ i: Int) -> [String] {
                    guard i < args.positional.count, case .strings(let s, _) = args.positional[i] else { return [] }
                    return s.map { interpreter.expand($0, script, state) }
                }
                switch test.name {
                case "test_script_compile":
                    let name = positional(0).first ?? ""
                    let path = (context.directory as NSString).appendingPathComponent(name)
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        context.errors = ["cannot read \(name)"]
                        return false
                    }
                    do {
                        context.compiled = try Sieve.compile(text, name: name)
                        context.errors = []
                        return true
                    } catch let error as SieveError {
                        context.compiled = nil
                        context.errors = [error.message]
                        return false
                    }
                case "test_script_run":
                    guard let compiled = context.compiled else { return false }
                    var inner = SieveInterpreter()
                    inner.maxRedirects = interpreter.maxRedirects
                    let result = inner.run(compiled, on: state.message)
                    if result.runtimeError != nil {
                        context.errors = [result.runtimeError!]
                        return false
                    }
                    if args.has("append_result") {
                        context.lastResult.actions += result.actions
                        context.lastResult.implicitKeep = context.lastResult.implicitKeep && result.implicitKeep
                    } else {
                        context.lastResult = result
                    }
                    return true
                case "test_result_execute":
                    // Without test_script_run the result is the current script's own.
                    let result = context.compiled == nil ? state.result : context.lastResult
                    guard result.runtimeError == nil else { return false }
                    Self.execute(result, original: state.message, context)
                    return true
                case "test_message":
                    return Self.selectMessage(args, context, state)
                case "test_result_action":
                    let names = context.lastResult.actions.map(Self.actionName) + (context.lastResult.implicitKeep ? ["keep"] : [])
                    let keys = positional(0)
                    if let index = args.number("index") {
                        guard index >= 1 && index <= names.count else { return false }
                        return interpreter.compare([names[index - 1]], keys, args, state)
                    }
                    return interpreter.compare(names, keys, args, state)
                case "test_error":
                    let keys = positional(0)
                    if let index = args.number("index") {
                        guard index >= 1 && index <= context.errors.count else { return false }
                        return interpreter.compare([context.errors[index - 1]], keys, args, state)
                    }
                    return interpreter.compare(context.errors, keys, args, state)
                default:
                    throw SieveInterpreter.RuntimeError(message: "testsuite test '\(test.name)' is not implemented")
                }
            })
    }

    /// `include` for the test suite: scripts in the folders beside the test file.
    struct DirectoryResolver: SieveScriptResolver {
        let personal: String
        let global: String

        func script(named name: String, global isGlobal: Bool) throws -> SieveScript? {
            let path = ((isGlobal ? global : personal) as NSString).appendingPathComponent(name + ".sieve")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return try Sieve.compile(text, name: name + ".sieve", allowTestsuite: true)
        }
    }

    /// Carries out a result the way a delivery would, so test_message can look at what
    /// was sent and stored.
    static func execute(_ result: SieveResult, original: SieveMessage, _ context: Context) {
        let raw = original.parsed.raw
        var stored: [String] = []
        for action in result.actions {
            switch action {
            case .keep: stored.append("INBOX")
            case .fileinto(let mailbox, _, _, _): stored.append(mailbox)
            case .redirect(let address, _):
                context.outgoing.append((original.envelopeFrom, address, raw))
            case .vacation(let v):
                context.outgoing.append(("", original.envelopeFrom, vacationReply(v, to: original)))
            case .reject(let reason, _):
                let text = "From: Postmaster <postmaster@example.com>\r\nTo: <\(original.envelopeFrom)>\r\nSubject: Automatically rejected mail\r\nAuto-Submitted: auto-replied (rejected)\r\n\r\n\(reason)\r\n"
                context.outgoing.append(("", original.envelopeFrom, Array(text.utf8)))
            default: break
            }
        }
        if result.implicitKeep { stored.append("INBOX") }
        for folder in stored { context.folders[folder, default: []].append(raw) }
    }

    /// An RFC 5230 section 5 reply: to the sender, "Auto:" subject unless :subject,
    /// In-Reply-To/References, Auto-Submitted: auto-replied.
    static func vacationReply(_ v: SieveAction.Vacation, to original: SieveMessage) -> [UInt8] {
        let headers = original.parsed.headers
        let subject = v.subject ?? "Auto: " + (headers["Subject"] ?? "")
        var lines = [
            "From: \(v.from ?? "<\(original.envelopeTo)>")",
            "To: <\(original.envelopeFrom)>",
            "Subject: \(subject)",
            "Auto-Submitted: auto-replied (vacation)",
            "Precedence: bulk",
            "MIME-Version: 1.0",
        ]
        if let id = original.parsed.messageID {
            lines.append("In-Reply-To: <\(id)>")
            lines.append("References: " + (original.parsed.references + [id]).map { "<\($0)>" }.joined(separator: " "))
        }
        if !v.mime { lines.append("Content-Type: text/plain; charset=utf-8") }
        return Array((lines.joined(separator: "\r\n") + "\r\n" + (v.mime ? "" : "\r\n") + v.reason + "\r\n").utf8)
    }

    /// test_message :smtp N / :folder NAME N: makes that message the current one.
    static func selectMessage(_ args: Arguments, _ context: Context, _ state: SieveInterpreter.State) -> Bool {
        guard case .number(let index, _)? = args.positional.first else { return false }
        let message: SieveMessage
        if let folder = args.string("folder") {
            guard let list = context.folders[folder], index < list.count else { return false }
            message = SieveMessage(raw: list[index], envelopeFrom: state.message.envelopeFrom, envelopeTo: state.message.envelopeTo)
        } else {
            guard index < context.outgoing.count else { return false }
            let sent = context.outgoing[index]
            message = SieveMessage(raw: sent.raw, envelopeFrom: sent.from, envelopeTo: sent.to)
        }
        state.message = message
        state.headers = message.parsed.headers.fields.map { ($0.name, $0.rawValue) }
        state.headerCache = [:]
        state.addressCache = [:]
        state.bodyCache = [:]
        state.pathCache = [:]
        return true
    }

    static func actionName(_ action: SieveAction) -> String {
        switch action {
        case .keep: return "keep"
        case .fileinto: return "store"
        case .redirect: return "redirect"
        case .reject: return "reject"
        case .discard: return "discard"
        case .vacation: return "vacation"
        case .postroom: return "postroom"
        }
    }
}
