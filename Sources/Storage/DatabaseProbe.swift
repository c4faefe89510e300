import Postgres

/// Asks PostgreSQL whether it answers (`SELECT 1` on a connection of its own), for the
/// `algotrader_database_up` metric: writers only learn it when they write, and a feed that has
/// gone quiet would leave their last answer standing for ever. One owner thread.
public final class DatabaseProbe {
    private let connection: LazyConnection

    public init(connectionString: String) {
        connection = LazyConnection(connectionString: connectionString)
    }

    /// Whether PostgreSQL answered now.
    public func check() -> Bool {
        do {
            _ = try connection.get().query("SELECT 1")
            return true
        } catch {
            connection.close()
            return false
        }
    }

    public func close() { connection.close() }
}
