/// A parameter value from `strategies.parameters` (JSON), numbers kept as their text so that
/// prices parse exactly.
public enum ParameterValue: Sendable, Equatable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    /// An array or an object, as parsed (an external strategy's `instruments`, say).
    case json(JSONValue)
    case other

    /// A member of a `jsonb` object as PostgreSQL gives it: its `jsonb_typeof` and its text
    /// (`value #>> '{}'`).
    public static func fromJSONB(type: String?, text: String?) -> ParameterValue {
        switch type {
        case "string": return .string(text ?? "")
        case "number": return .number(text ?? "")
        case "boolean": return .bool(text == "true")
        case "null": return .null
        case "array", "object":
            guard let text, let value = try? JSONValue.parse(Array(text.utf8)) else { return .other }
            return .json(value)
        default: return .other
        }
    }

    /// The value as JSON (for handing a strategy process its parameters).
    public var jsonValue: JSONValue {
        switch self {
        case .string(let s): .string(s)
        case .number(let n): .number(n)
        case .bool(let b): .bool(b)
        case .null, .other: .null
        case .json(let v): v
        }
    }
}

/// Why a strategy row cannot start: the parameter and the problem (written to `system_logs`).
public struct StrategyConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let parameter: String
    public let problem: String

    public init(parameter: String, _ problem: String) {
        self.parameter = parameter
        self.problem = problem
    }

    public var description: String { "parameter '\(parameter)': \(problem)" }
}

/// Typed access to a strategy's parameters, each failure naming the parameter.
public struct StrategyParameters: Sendable {
    public let values: [String: ParameterValue]

    public init(_ values: [String: ParameterValue]) { self.values = values }

    public func string(_ name: String, default defaultValue: String? = nil) throws(StrategyConfigurationError) -> String {
        switch values[name] {
        case .string(let s)? where !s.isEmpty: return s
        case nil, .null?:
            guard let defaultValue else { throw StrategyConfigurationError(parameter: name, "is required") }
            return defaultValue
        default: throw StrategyConfigurationError(parameter: name, "must be a non-empty string")
        }
    }

    public func optionalString(_ name: String) throws(StrategyConfigurationError) -> String? {
        switch values[name] {
        case nil, .null?: return nil
        case .string(let s)? where !s.isEmpty: return s
        default: throw StrategyConfigurationError(parameter: name, "must be a non-empty string")
        }
    }

    public func integer(_ name: String, default defaultValue: Int64? = nil, in range: ClosedRange<Int64>) throws(StrategyConfigurationError) -> Int64 {
        switch values[name] {
        case .number(let text)?:
            guard let n = Int64(text) else { throw StrategyConfigurationError(parameter: name, "must be a whole number, got \(text)") }
            guard range.contains(n) else { throw StrategyConfigurationError(parameter: name, "must be in \(range.lowerBound)...\(range.upperBound), got \(n)") }
            return n
        case nil, .null?:
            guard let defaultValue else { throw StrategyConfigurationError(parameter: name, "is required") }
            return defaultValue
        default: throw StrategyConfigurationError(parameter: name, "must be a number")
        }
    }

    public func decimal(_ name: String, default defaultValue: FixedDecimal? = nil) throws(StrategyConfigurationError) -> FixedDecimal {
        switch values[name] {
        case .number(let text)?:
            guard let value = FixedDecimal(text) else { throw StrategyConfigurationError(parameter: name, "must be a number with at most 4 decimals, got \(text)") }
            return value
        case nil, .null?:
            guard let defaultValue else { throw StrategyConfigurationError(parameter: name, "is required") }
            return defaultValue
        default: throw StrategyConfigurationError(parameter: name, "must be a number")
        }
    }

    public func interval(_ name: String, default defaultValue: BarInterval) throws(StrategyConfigurationError) -> BarInterval {
        switch values[name] {
        case nil, .null?: return defaultValue
        case .string(let s)?:
            guard let interval = BarInterval(rawValue: s) else {
                throw StrategyConfigurationError(parameter: name, "must be one of \(BarInterval.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return interval
        default: throw StrategyConfigurationError(parameter: name, "must be a string such as \"5min\"")
        }
    }

    /// `"HH:MM"` as minutes after midnight.
    public func timeOfDay(_ name: String) throws(StrategyConfigurationError) -> Int64? {
        guard let text = try optionalString(name) else { return nil }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let h = Int64(parts[0]), let m = Int64(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else {
            throw StrategyConfigurationError(parameter: name, "must be a time of day \"HH:MM\", got \(text)")
        }
        return h * 60 + m
    }

    /// A list of strings, nil when absent.
    public func stringList(_ name: String) throws(StrategyConfigurationError) -> [String]? {
        switch values[name] {
        case nil, .null?: return nil
        case .json(.array(let items))?:
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item, !s.isEmpty else { throw StrategyConfigurationError(parameter: name, "must be a list of non-empty strings") }
                out.append(s)
            }
            return out
        default: throw StrategyConfigurationError(parameter: name, "must be a list of strings such as [\"NSE:RELIANCE\"]")
        }
    }

    /// `product`, `validity`, `max_loss`: how any strategy's orders are placed.
    public static let orderParameters: Set<String> = ["product", "validity", "max_loss"]

    /// Rejects parameters the strategy does not know (a typo must not silently use a default).
    /// The order parameters every type takes (``StrategyOrderPolicy``) count as known.
    public func onlyKnown(_ known: Set<String>) throws(StrategyConfigurationError) {
        let known = known.union(Self.orderParameters)
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw StrategyConfigurationError(parameter: unknown, "is not a parameter of this strategy type (known: \(known.sorted().joined(separator: ", ")))")
        }
    }
}
