public import Postgres

/// The halts in force (`halts` rows not yet resumed), as the engine applies them, and the
/// channel that tells it they changed: every change to `halts` notifies `algotrader_halts`
/// (migration 12's trigger), whoever makes it (`algotrader halt`, the control socket, a breach
/// another engine recorded), so the engine reads them when they change instead of polling.
public enum HaltStore {
    public static let channel = "algotrader_halts"

    public struct Active: Sendable, Equatable {
        /// Users halted (no strategy named).
        public var users: Set<String> = []
        /// Strategies halted.
        public var strategies: Set<String> = []
        /// The whole engine (neither named).
        public var engine = false

        public init() {}

        /// Users, strategies, plus 1 for an engine-wide halt.
        public var count: Int { users.count + strategies.count + (engine ? 1 : 0) }
    }

    /// The halts in force now.
    public static func active(_ db: PostgresConnection) throws(PostgresError) -> Active {
        var out = Active()
        for row in try db.query("SELECT user_id::text, strategy_id::text FROM halts WHERE resumed_at IS NULL").rows {
            switch (row[0], row[1]) {
            case (_, .some(let strategy)): out.strategies.insert(strategy)
            case (.some(let user), nil): out.users.insert(user)
            case (nil, nil): out.engine = true
            }
        }
        return out
    }

    /// The listening connection's `application_name`, so `pg_stat_activity` tells it apart.
    public static let applicationName = "algotrader halts"

    /// Subscribes the connection to the channel (again after every reconnect).
    public static func listen(_ db: PostgresConnection) throws(PostgresError) {
        _ = try db.execute("SET application_name = '\(applicationName)'")
        _ = try db.execute("LISTEN " + channel)
    }
}
