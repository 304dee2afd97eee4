import Foundation
import Yams

/// Layers defaults, the YAML file, the environment and flags into a `PostroomConfig`,
/// stopping at the first mistake with its location and key.
public enum ConfigLoader {
    /// - Parameters:
    ///   - file: path of a YAML config file, or nil
    ///   - environment: usually `ProcessInfo.processInfo.environment`
    ///   - flags: key name → value from command-line flags, applied last
    public static func load(
        file: String?, environment: [String: String], flags: [(key: String, value: String)] = []
    ) throws(ConfigError) -> PostroomConfig {
        try loadValues(file: file, environment: environment, flags: flags).config
    }

    /// The configuration, and the text each key was finally given (by the file, the
    /// environment or a flag; keys left at their default are absent): what a reload
    /// compares to tell which keys changed.
    public static func loadValues(
        file: String?, environment: [String: String], flags: [(key: String, value: String)] = []
    ) throws(ConfigError) -> (config: PostroomConfig, values: [String: String]) {
        var config = PostroomConfig()
        var values: [String: String] = [:]
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigError(location: file, key: "", message: "cannot read config file (\(error.localizedDescription))")
            }
            try apply(yaml: text, file: file, to: &config, values: &values)
        }
        for key in ConfigKey.all {
            if let value = environment[key.environmentName] {
                if let problem = key.apply(&config, value) {
                    throw ConfigError(location: "environment \(key.environmentName)", key: key.name, message: problem)
                }
                values[key.name] = value
            }
        }
        for (name, value) in flags {
            guard let key = ConfigKey.named(name) else {
                throw ConfigError(location: "--\(name)", key: name, message: "unknown key")
            }
            if let problem = key.apply(&config, value) {
                throw ConfigError(location: "--\(name.split(separator: ".").last ?? "")", key: name, message: problem)
            }
            values[name] = value
        }
        try validate(config)
        return (config, values)
    }

    public static func apply(yaml: String, file: String, to config: inout PostroomConfig) throws(ConfigError) {
        var values: [String: String] = [:]
        try apply(yaml: yaml, file: file, to: &config, values: &values)
    }

    static func apply(yaml: String, file: String, to config: inout PostroomConfig, values: inout [String: String]) throws(ConfigError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(location: file, key: "", message: "not valid YAML: \(error)")
        } catch {
            throw ConfigError(location: file, key: "", message: "not valid YAML: \(error)")
        }
        guard let root else { return }  // empty file: all defaults
        guard case .mapping(let mapping) = root else {
            throw ConfigError(location: location(file, root), key: "", message: "expected a mapping of keys to values at the top")
        }
        try walk(mapping, prefix: "", file: file, config: &config, values: &values)
    }

    static func walk(
        _ mapping: Node.Mapping, prefix: String, file: String, config: inout PostroomConfig, values: inout [String: String]
    ) throws(ConfigError) {
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigError(location: location(file, keyNode), key: prefix, message: "keys must be plain names")
            }
            let name = prefix.isEmpty ? keyScalar.string : "\(prefix).\(keyScalar.string)"
            switch valueNode {
            case .mapping(let nested):
                guard ConfigKey.all.contains(where: { $0.name.hasPrefix(name + ".") }) else {
                    throw ConfigError(location: location(file, keyNode), key: name, message: unknownKeyMessage(name))
                }
                try walk(nested, prefix: name, file: file, config: &config, values: &values)
            case .scalar(let scalar):
                guard let key = ConfigKey.named(name) else {
                    throw ConfigError(location: location(file, keyNode), key: name, message: unknownKeyMessage(name))
                }
                if let problem = key.apply(&config, scalar.string) {
                    throw ConfigError(location: location(file, valueNode), key: name, message: problem)
                }
                values[name] = scalar.string
            default:
                throw ConfigError(location: location(file, valueNode), key: name, message: "expected a single value, not a list")
            }
        }
    }

    static func unknownKeyMessage(_ name: String) -> String {
        let close = ConfigKey.all.map(\.name).filter { editDistance($0, name) <= 2 }
        if close.isEmpty { return "unknown key (postroom config keys lists them all)" }
        return "unknown key (did you mean \(close.joined(separator: " or "))?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    static func location(_ file: String, _ node: Node) -> String {
        if let mark = node.mark { return "\(file):\(mark.line):\(mark.column)" }
        return file
    }

    /// Checks that span keys.
    static func validate(_ config: PostroomConfig) throws(ConfigError) {
        if (config.tlsCertificate == nil) != (config.tlsKey == nil) {
            throw ConfigError(
                location: "configuration", key: config.tlsCertificate == nil ? "smtp.tls-certificate" : "smtp.tls-key",
                message: "smtp.tls-certificate and smtp.tls-key must be set together")
        }
        for (key, path) in [("smtp.tls-certificate", config.tlsCertificate), ("smtp.tls-key", config.tlsKey), ("mailboxes.ca-file", config.mailboxCAFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ConfigError(location: "configuration", key: key, message: "cannot read '\(path)'")
            }
        }
        if config.maxTextLine > config.maxMessageSize {
            throw ConfigError(location: "configuration", key: "smtp.max-text-line", message: "larger than smtp.max-message-size")
        }
    }
}
