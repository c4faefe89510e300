import Foundation
import Yams

/// Reads the YAML file, applies `ALGOTRADER_*` environment overrides, checks every value against
/// ``ConfigKey/all`` and returns the resolved values.
public struct ConfigLoader: Sendable {
    public let keys: [ConfigKey]

    public init(keys: [ConfigKey] = ConfigKey.all) {
        self.keys = keys
    }

    /// Loads `file` (may be `nil`: defaults and environment only) with `environment` overrides.
    /// `purpose` `.migrate` needs only the database keys; `.serve` needs the feed and bus too.
    public func load(file: String?, environment: [String: String], purpose: EngineConfig.Purpose = .serve) throws(ConfigError) -> EngineConfig {
        var fileValues: [String: ConfigValue] = [:]
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigError(key: file, "cannot read the configuration file")
            }
            fileValues = try parse(yaml: text, file: file)
        }
        var resolved: [String: ConfigValue] = [:]
        for key in keys {
            if let raw = environment[key.environmentVariable] {
                resolved[key.path] = try value(fromEnvironment: raw, for: key)
            } else if let value = fileValues[key.path] {
                resolved[key.path] = value
            } else if let value = key.defaultValue {
                resolved[key.path] = value
            }
        }
        return try EngineConfig(values: resolved, purpose: purpose)
    }

    /// Parses YAML text into key-path values; unknown keys and wrong types are errors.
    public func parse(yaml text: String, file: String = "<config>") throws(ConfigError) -> [String: ConfigValue] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(key: file, "not valid YAML: \(error)")
        }
        guard let root else { return [:] }
        guard case .mapping = root else { throw ConfigError(key: file, "the top level must be a mapping of sections") }
        var flat: [String: Node] = [:]
        try flatten(root, prefix: "", into: &flat)
        let byPath = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })
        var values: [String: ConfigValue] = [:]
        for (path, node) in flat {
            guard let key = byPath[path] else { throw ConfigError(key: path, "unknown key") }
            if case .scalar(let scalar) = node, scalar.string == "~" || (scalar.string.isEmpty && scalar.style == .plain) || scalar.string == "null" {
                continue  // explicit null: keep the default
            }
            values[path] = try value(fromYAML: node, for: key)
        }
        return values
    }

    private func flatten(_ node: Node, prefix: String, into flat: inout [String: Node]) throws(ConfigError) {
        guard case .mapping(let mapping) = node else {
            flat[prefix] = node
            return
        }
        for (keyNode, child) in mapping {
            guard let name = keyNode.string else { throw ConfigError(key: prefix.isEmpty ? "<root>" : prefix, "keys must be strings") }
            let path = prefix.isEmpty ? name : prefix + "." + name
            if case .mapping = child, !keys.contains(where: { $0.path == path }) {
                try flatten(child, prefix: path, into: &flat)
            } else {
                flat[path] = child
            }
        }
    }

    private func value(fromYAML node: Node, for key: ConfigKey) throws(ConfigError) -> ConfigValue {
        switch key.kind {
        case .stringList:
            if case .sequence(let sequence) = node {
                var list: [String] = []
                for item in sequence {
                    guard case .scalar(let scalar) = item else { throw ConfigError(key: key.path, "expected a list of strings") }
                    list.append(scalar.string)
                }
                return .stringList(list)
            }
            guard case .scalar(let scalar) = node else { throw ConfigError(key: key.path, "expected a list of strings") }
            return try value(fromEnvironment: scalar.string, for: key)
        default:
            guard case .scalar(let scalar) = node else { throw ConfigError(key: key.path, "expected a single value, not a list or mapping") }
            return try value(fromText: scalar.string, for: key)
        }
    }

    private func value(fromEnvironment raw: String, for key: ConfigKey) throws(ConfigError) -> ConfigValue {
        if case .stringList = key.kind {
            let items = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return .stringList(items)
        }
        return try value(fromText: raw, for: key)
    }

    private func value(fromText text: String, for key: ConfigKey) throws(ConfigError) -> ConfigValue {
        switch key.kind {
        case .string:
            return .string(text)
        case .integer(let range):
            let cleaned = text.replacingOccurrences(of: "_", with: "")
            guard let n = Int(cleaned) else { throw ConfigError(key: key.path, "expected an integer, got '\(text)'") }
            guard range.contains(n) else {
                throw ConfigError(key: key.path, "\(n) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return .integer(n)
        case .boolean:
            switch text.lowercased() {
            case "true", "yes", "on", "1": return .boolean(true)
            case "false", "no", "off", "0": return .boolean(false)
            default: throw ConfigError(key: key.path, "expected true or false, got '\(text)'")
            }
        case .choice(let options):
            guard options.contains(text) else {
                throw ConfigError(key: key.path, "'\(text)' is not one of \(options.joined(separator: ", "))")
            }
            return .string(text)
        case .stringList:
            return .stringList([text])
        case .byteSize(let range):
            guard let n = Self.byteSize(text) else {
                throw ConfigError(key: key.path, "expected a size in bytes (e.g. 268435456 or 256MiB), got '\(text)'")
            }
            guard range.contains(n) else {
                throw ConfigError(key: key.path, "\(text) is outside \(range.lowerBound)...\(range.upperBound) bytes")
            }
            return .integer(n)
        }
    }

    /// `"256MiB"` -> 268435456; a bare integer is bytes. Units are powers of 1024; `K`/`KB`,
    /// `M`/`MB`, ... are read the same way (what `df -h` and systemd mean).
    static func byteSize(_ text: String) -> Int? {
        let trimmed = text.replacingOccurrences(of: "_", with: "").trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard let value = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let shifts: [String: Int] = ["": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
                                     "g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40]
        guard let shift = shifts[unit] else { return nil }
        let (result, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : result
    }
}
