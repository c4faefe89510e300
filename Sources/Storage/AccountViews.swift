public import Postgres

/// What a user (or an admin) may see and steer of an account through the control socket: its
/// strategies, open positions, orders and halts. Every read of a user's rows runs under row-level
/// security as that user (`UserScope`), so a query can show nothing of anyone else's.
public enum AccountViews {
    public struct Strategy: Sendable, Equatable {
        public var strategyID: String?
        public var name: String
        public var type: String
        public var isActive: Bool
        public var isRunning: Bool
        public var parameters: String
    }

    public struct Position: Sendable, Equatable {
        public var positionID: String?
        public var symbol: String
        public var exchange: String
        public var quantity: Int64
        public var averagePrice: String?
        public var currentPrice: String?
        public var unrealizedPnL: String?
        public var realizedPnL: String?
        public var status: String
    }

    public struct Order: Sendable, Equatable {
        public var orderID: String?
        public var tradeID: String?
        public var symbol: String
        public var exchange: String
        public var side: String
        public var type: String
        public var quantity: Int64
        public var filledQuantity: Int64
        public var price: String?
        public var averagePrice: String?
        public var status: String
        public var orderTimestamp: String
    }

    public struct Halt: Sendable, Equatable {
        /// nil: engine-wide.
        public var userID: String?
        public var strategyID: String?
        public var reason: String
        public var source: String
    }

    /// The id of the user named by username or id, or nil.
    public static func userID(_ db: PostgresConnection, named: String) throws -> String? {
        try db.query("SELECT user_id::text FROM users WHERE username = $1 OR user_id::text = lower($1)", [named]).scalar
    }

    /// The owner of a strategy not deleted, or nil.
    public static func strategyOwner(_ db: PostgresConnection, strategyID: String) throws -> String? {
        try db.query("SELECT user_id::text FROM strategies WHERE strategy_id = $1::uuid AND deleted_at IS NULL", [strategyID]).scalar
    }

    /// The strategies (not deleted) named `name`, of `owner` only when given: (id, owner). Names
    /// are unique per user (migration 14), so with an owner there is at most one.
    public static func strategies(_ db: PostgresConnection, named name: String, owner: String?) throws -> [(id: String, owner: String)] {
        try db.query("""
            SELECT strategy_id::text, user_id::text FROM strategies
            WHERE name = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR user_id = $2::uuid) ORDER BY strategy_id
            """, [name, owner]).rows.compactMap { r in r[0].flatMap { id in r[1].map { (id, $0) } } }
    }

    /// The user's strategies (not deleted), by name.
    public static func strategies(_ db: PostgresConnection, userID: String) throws -> [Strategy] {
        try UserScope.run(db, userID: userID) { conn in
            try conn.query("""
                SELECT strategy_id::text, name, strategy_type, is_active, coalesce(is_running, false), parameters::text
                FROM strategies WHERE deleted_at IS NULL ORDER BY name
                """).rows
        }.map { r in
            Strategy(strategyID: r[0], name: r[1] ?? "", type: r[2] ?? "", isActive: r[3] == "t", isRunning: r[4] == "t", parameters: r[5] ?? "{}")
        }
    }

    /// Turns a strategy on or off as its owner, with `audit` in the same transaction.
    public static func setStrategyActive(_ db: PostgresConnection, strategyID: String, owner: String, active: Bool,
                                         audit: (PostgresConnection) throws -> Void) throws {
        try UserScope.run(db, userID: owner) { conn in
            try conn.query("UPDATE strategies SET is_active = $2::boolean WHERE strategy_id = $1::uuid", [strategyID, active ? "true" : "false"])
            try audit(conn)
        }
    }

    /// The user's open positions, by symbol and exchange.
    public static func openPositions(_ db: PostgresConnection, userID: String) throws -> [Position] {
        try UserScope.run(db, userID: userID) { conn in
            try conn.query("""
                SELECT position_id::text, symbol, exchange, quantity, average_price::text, current_price::text,
                       unrealized_pnl::text, realized_pnl::text, status
                FROM positions WHERE status <> 'CLOSED' ORDER BY symbol, exchange
                """).rows
        }.map { r in
            Position(positionID: r[0], symbol: r[1] ?? "", exchange: r[2] ?? "", quantity: Int64(r[3] ?? "0") ?? 0, averagePrice: r[4],
                     currentPrice: r[5], unrealizedPnL: r[6], realizedPnL: r[7], status: r[8] ?? "")
        }
    }

    /// The user's latest orders (optionally of one status), newest first.
    public static func orders(_ db: PostgresConnection, userID: String, status: String?, limit: Int) throws -> [Order] {
        try UserScope.run(db, userID: userID) { conn in
            try conn.query("""
                SELECT order_id, trade_id::text, symbol, exchange, transaction_type, order_type, quantity, filled_quantity,
                       price::text, average_price::text, status, order_timestamp::text
                FROM trades WHERE $1::text IS NULL OR status = $1 ORDER BY order_timestamp DESC LIMIT $2::int
                """, [status, String(limit)]).rows
        }.map { r in
            Order(orderID: r[0], tradeID: r[1], symbol: r[2] ?? "", exchange: r[3] ?? "", side: r[4] ?? "", type: r[5] ?? "",
                  quantity: Int64(r[6] ?? "0") ?? 0, filledQuantity: Int64(r[7] ?? "0") ?? 0, price: r[8], averagePrice: r[9],
                  status: r[10] ?? "", orderTimestamp: r[11] ?? "")
        }
    }

    /// Whether the user (nil: an admin, who sees all) can see the order.
    public static func orderVisible(_ db: PostgresConnection, orderID: String, to userID: String?) throws -> Bool {
        guard let userID else { return true }
        return try UserScope.run(db, userID: userID) { conn in
            try conn.query("SELECT 1 FROM trades WHERE order_id = $1", [orderID]).rows.count == 1
        }
    }

    /// The user whose strategy placed the order, or nil.
    public static func orderOwner(_ db: PostgresConnection, orderID: String) throws -> String? {
        try db.query("SELECT s.user_id::text FROM trades t JOIN strategies s USING (strategy_id) WHERE t.order_id = $1", [orderID]).scalar
    }

    /// The halts in force, with their reasons.
    public static func activeHalts(_ db: PostgresConnection) throws -> [Halt] {
        try db.query("SELECT user_id::text, reason, source, strategy_id::text FROM halts WHERE resumed_at IS NULL").rows.map { r in
            Halt(userID: r[0], strategyID: r[3], reason: r[1] ?? "", source: r[2] ?? "")
        }
    }

    /// Strategies running and in all (not deleted): every user's for an admin (nil), else the user's.
    public static func strategyCounts(_ db: PostgresConnection, userID: String?) throws -> (running: Int64, all: Int64) {
        let sql = "SELECT count(*) FILTER (WHERE is_running), count(*) FROM strategies WHERE deleted_at IS NULL"
        let row = try userID.map { id in try UserScope.run(db, userID: id) { try $0.query(sql).rows.first } } ?? db.query(sql).rows.first
        return (Int64(row?[0] ?? "0") ?? 0, Int64(row?[1] ?? "0") ?? 0)
    }
}
