/// A configuration problem, always naming the offending key (or file), so an operator can fix
/// it from the message alone. `algotrader` exits 78 (EX_CONFIG) on it.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The dotted key path, or the file path when the file itself is the problem.
    public let key: String
    public let message: String

    public init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "configuration error: \(key): \(message)" }
}
