import Foundation
public import Logging
public import Postgres

/// What makes one running engine the engine of its database.
public enum EngineInstance {
    /// Takes the one-engine-per-database lock: a session-level advisory lock held by `db` for
    /// the process's life (PostgreSQL releases it when the connection ends, however the process
    /// dies). False when another engine holds it.
    public static func tryLock(_ db: PostgresConnection) throws -> Bool {
        try db.query("SELECT pg_try_advisory_lock(7420610871245367)").scalar == "t"
    }

    /// The database's identity (made by the migrations): the local journal is kept per
    /// database, so it is never replayed into another one.
    public static func databaseID(_ db: PostgresConnection) throws -> String {
        try db.query("SELECT database_id::text FROM engine_identity").scalar ?? "unknown"
    }

    /// How `market_data` is laid out (a hypertable, partitions), as the migrations chose.
    public static func marketDataLayout(_ db: PostgresConnection) -> String? {
        (try? db.query("SELECT layout FROM market_data_layout").scalar) ?? nil
    }

    /// Connects, retrying for `retrySeconds` with backoff (the database may start after the
    /// engine); throws the last error when it never answered.
    public static func connect(_ url: String, retrySeconds: Int, logger: Logger) throws(PostgresError) -> PostgresConnection {
        let deadline = Date().addingTimeInterval(TimeInterval(retrySeconds))
        var delay = 0.2
        while true {
            do {
                return try PostgresConnection(connectionString: url)
            } catch {
                if Date() >= deadline { throw error }
                logger.warning("database not reachable yet; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }
}
