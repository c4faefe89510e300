/// Why the daemon could not start (or run): the kind decides the exit status
/// (configuration 78, database unreachable 69, schema 65), the message says what to fix.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// A configuration key's value cannot be used (a socket already bound, a file unreadable).
        case configuration
        /// The database cannot be reached, or another engine holds it.
        case unavailable
        /// The schema is older or newer than this binary.
        case schema
    }

    public let kind: Kind
    /// One line, without the program's name: `configuration error: bus.bind: cannot bind ...`.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func configuration(_ message: String) -> DaemonError { DaemonError(.configuration, "configuration error: " + message) }
    public static func database(_ error: any Error) -> DaemonError { DaemonError(.unavailable, "database: \(error)") }

    public var description: String { message }
}
