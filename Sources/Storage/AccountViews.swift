public import Postgres

/// What a user (or an admin) may see and steer of an account through the control socket: who owns
/// a strategy or order, and the halts (the lists are `AccountHistory`). Every read of a user's rows runs under row-level
/// security as that user (`UserScope`), so a query can show nothing of anyone else's.
public enum AccountViews {
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

    /// Turns a strategy on or off as its owner, with `audit` in the same transaction.
    public static func setStrategyActive(_ db: PostgresConnection, strategyID: String, owner: String, active: Bool,
                                         audit: (PostgresConnection) throws -> Void) throws {
        try UserScope.run(db, userID: owner) { conn in
            try conn.query("UPDATE strategies SET is_active = $2::boolean WHERE strategy_id = $1::uuid", [strategyID, active ? "true" : "false"])
            try audit(conn)
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
