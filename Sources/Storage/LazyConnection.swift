public import Postgres

/// A connection made on first use and made again after it broke: the shape every background
/// writer here needs (they retry whole batches themselves).
public final class LazyConnection {
    private let connectionString: String
    private var connection: PostgresConnection?

    public init(connectionString: String) {
        self.connectionString = connectionString
    }

    /// The open connection, connecting if there is none or the last one broke.
    public func get() throws(PostgresError) -> PostgresConnection {
        if let connection, connection.isConnected { return connection }
        connection?.close()
        let fresh = try PostgresConnection(connectionString: connectionString)
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
