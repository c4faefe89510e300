public import Postgres

/// A connection made on first use and made again after it broke: the shape every background
/// writer here needs (they retry whole batches themselves).
public final class LazyConnection {
    private let connectionString: String
    private let options: [(String, String)]
    private var connection: PostgresConnection?

    /// `options`: libpq parameters added to the string's own (timeouts, keepalives).
    public init(connectionString: String, options: [(String, String)] = []) {
        self.connectionString = connectionString
        self.options = options
    }

    /// The open connection, connecting if there is none or the last one broke.
    public func get() throws(PostgresError) -> PostgresConnection {
        if let connection, connection.isConnected { return connection }
        connection?.close()
        let fresh = options.isEmpty ? try PostgresConnection(connectionString: connectionString)
                                    : try PostgresConnection(connectionString: connectionString, options: options)
        connection = fresh
        return fresh
    }

    /// Whether the next `get()` will reuse a connection.
    public var isOpen: Bool { connection?.isConnected == true }

    public func close() {
        connection?.close()
        connection = nil
    }
}
