import Postgres

/// The strategy secrets' hashes as they are now in `strategies.token_hash`, for the strategy
/// socket: `algotrader strategy token` changes them in the database alone (no running daemon
/// needed), so a hello is checked against the stored hash, and connected processes whose secret
/// was replaced are found, without waiting for a reload. On a connection of its own, with short
/// bounds: its caller is the strategy socket's thread, which carries every process's ticks, so
/// a database that stops answering may cost it about two seconds, not TCP's minutes.
public final class StrategyTokenStore {
    private let connection: LazyConnection
    static let bounds = [("connect_timeout", "2"), ("tcp_user_timeout", "2000"), ("keepalives", "1"), ("keepalives_idle", "5"),
                         ("keepalives_interval", "1"), ("keepalives_count", "2"), ("options", "-c statement_timeout=1000")]

    public init(connectionString: String) {
        connection = LazyConnection(connectionString: connectionString, options: Self.bounds)
    }

    /// Each strategy's current hash (a strategy without a secret, or not found, is left out).
    public func currentHashes(_ strategyIDs: [String]) throws -> [String: String] {
        guard !strategyIDs.isEmpty else { return [:] }
        let rows: [[String?]]
        do {
            rows = try connection.get().query(
            "SELECT strategy_id::text, token_hash FROM strategies WHERE strategy_id = ANY($1::uuid[]) AND token_hash IS NOT NULL",
            [PostgresArrayLiteral.text(strategyIDs)]).rows
        } catch {
            connection.close()  // a timed-out statement leaves the connection unsure: a new one next time
            throw error
        }
        var out: [String: String] = [:]
        for row in rows { if let id = row[0], let hash = row[1] { out[id] = hash } }
        return out
    }

    public func close() { connection.close() }
}
