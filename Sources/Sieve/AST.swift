/// A Sieve argument as written: a string list (a single string is a list of one), a
/// number, or a tag.
public enum SieveArgument: Sendable, Equatable {
    case strings([String], SourcePosition)
    case number(Int, SourcePosition)
    case tag(String, SourcePosition)

    public var position: SourcePosition {
        switch self {
        case .strings(_, let p), .number(_, let p), .tag(_, let p): return p
        }
    }
}

public struct SieveTest: Sendable, Equatable {
    public var name: String
    public var arguments: [SieveArgument]
    public var tests: [SieveTest]
    public var position: SourcePosition
}

public struct SieveCommand: Sendable, Equatable {
    public var name: String
    public var arguments: [SieveArgument]
    public var tests: [SieveTest]
    public var block: [SieveCommand]?
    public var position: SourcePosition
}

/// A parsed and validated script.
public struct SieveScript: Sendable {
    public var name: String
    public var commands: [SieveCommand]
    public var extensions: Set<String>
}

/// Arguments split into tags (with their values) and positional arguments, the way
/// every command and test reads them.
struct Arguments {
    var tags: [String: [SieveArgument]] = [:]
    var tagOrder: [String] = []
    var positional: [SieveArgument] = []

    func has(_ tag: String) -> Bool { tags[tag] != nil }

    func string(_ tag: String) -> String? {
        if case .strings(let s, _)? = tags[tag]?.first { return s.first }
        return nil
    }

    func strings(_ tag: String) -> [String]? {
        if case .strings(let s, _)? = tags[tag]?.first { return s }
        return nil
    }

    func number(_ tag: String) -> Int? {
        if case .number(let n, _)? = tags[tag]?.first { return n }
        return nil
    }

    func positionalStrings(_ i: Int) -> [String] {
        guard i < positional.count, case .strings(let s, _) = positional[i] else { return [] }
        return s
    }
}
