/// A failed libpq operation, with the server's SQLSTATE and message when the server sent one.
///
/// The description names the operation, the SQLSTATE and the server's primary message; it never
/// includes the connection string (which may hold a password) or query parameters.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// `PQconnectdb` did not produce a usable connection.
        case connectionFailed
        /// The connection broke (server gone, network cut); the statement's outcome may be unknown.
        case connectionLost
        /// The server rejected a statement; see ``PostgresError/sqlState``.
        case serverError
        /// A `COPY` could not be started, fed or finished.
        case copyFailed
        /// libpq returned something the wrapper did not expect.
        case unexpectedResult
    }

    public let code: Code
    /// Five-character SQLSTATE (`23505` unique violation, `40001` serialization failure, ...).
    public let sqlState: String?
    /// The server's primary message, or libpq's `PQerrorMessage`.
    public let message: String
    public let detail: String?
    public let hint: String?
    public let constraint: String?

    public init(
        code: Code, sqlState: String? = nil, message: String,
        detail: String? = nil, hint: String? = nil, constraint: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
    }

    public var description: String {
        var text = "postgres \(code.rawValue)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail { text += " (\(detail))" }
        return text
    }
}
