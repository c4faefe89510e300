public import Postgres

/// A user's trading history as the web API and `ctl` page through it: orders, fills, each
/// strategy's day and the equity curve. Every query runs under row-level security as the one user
/// it is for (`UserScope`), so it can return nothing of anyone else's; an admin's view across
/// users is one such query per user, merged by the caller (docs/web.md).
///
/// Pages go newest first by a key of (time, id), and `before` is the key of the last row seen,
/// so a page never repeats or skips a row that shares its time with another.
public enum AccountHistory {
    /// Where a page starts: rows strictly older than (time, id).
    public struct Cursor: Sendable, Equatable {
        /// RFC 3339 time (or a `YYYY-MM-DD` date for days).
        public var time: String
        public var id: String
        public init(time: String, id: String) {
            self.time = time
            self.id = id
        }
    }

    /// What a list asks for, beyond the user.
    public struct Filter: Sendable, Equatable {
        public var strategyID: String?
        public var status: String?
        /// RFC 3339 times (dates for days), inclusive `from`, exclusive `to`.
        public var from: String?
        public var to: String?
        public var before: Cursor?
        public var limit: Int
        public init(strategyID: String? = nil, status: String? = nil, from: String? = nil, to: String? = nil, before: Cursor? = nil,
                    limit: Int = 100) {
            self.strategyID = strategyID
            self.status = status
            self.from = from
            self.to = to
            self.before = before
            self.limit = limit
        }
    }

    /// One row: its columns by name (text as PostgreSQL gives it; nil for NULL) and its page key.
    public struct Row: Sendable, Equatable {
        public var fields: [(String, String?)]
        public var cursor: Cursor
        public subscript(_ name: String) -> String? { fields.first { $0.0 == name }?.1 ?? nil }
        public static func == (a: Row, b: Row) -> Bool {
            a.cursor == b.cursor && a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        }
    }

    /// RFC 3339 in UTC with microseconds, as every time in the API is written.
    static let utc = #"to_char(%@ AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#
    static func utc(_ column: String) -> String { utc.replacingOccurrences(of: "%@", with: column) }

    /// Runs `sql` (whose columns are `names`, the last two the page key) as `userID`.
    private static func page(_ db: PostgresConnection, userID: String, sql: String, names: [String], _ parameters: [String?]) throws -> [Row] {
        try UserScope.run(db, userID: userID) { conn in try conn.query(sql, parameters).rows }.map { r in
            let count = names.count
            return Row(fields: (0..<count).map { (names[$0], r[$0]) }, cursor: Cursor(time: r[count] ?? "", id: r[count + 1] ?? ""))
        }
    }

    /// The user's orders (one `trades` row each), newest first, with the reason a rejection or
    /// cancellation gave.
    public static func orders(_ db: PostgresConnection, userID: String, _ f: Filter) throws -> [Row] {
        let time = "coalesce(t.order_timestamp, t.created_at)"
        let sql = """
            SELECT t.trade_id::text, t.order_id, t.parent_order_id, s.user_id::text, t.strategy_id::text, t.broker_id::text, t.symbol,
                   t.exchange, t.transaction_type, t.order_type, t.product, t.validity, t.quantity::text, t.filled_quantity::text,
                   t.price::text, t.trigger_price::text, t.stoploss::text, t.target::text, t.average_price::text, t.status,
                   t.metadata->>'reason', t.charges::text, \(utc(time)), \(utc("t.updated_at")),
                   \(utc(time)), t.trade_id::text
            FROM trades t JOIN strategies s USING (strategy_id)
            WHERE ($1::uuid IS NULL OR t.strategy_id = $1::uuid) AND ($2::text IS NULL OR t.status = $2)
              AND ($3::timestamptz IS NULL OR \(time) >= $3::timestamptz) AND ($4::timestamptz IS NULL OR \(time) < $4::timestamptz)
              AND ($5::timestamptz IS NULL OR (\(time), t.trade_id) < ($5::timestamptz, $6::uuid))
            ORDER BY \(time) DESC, t.trade_id DESC LIMIT $7::int
            """
        return try page(db, userID: userID, sql: sql, names: [
            "trade_id", "order_id", "parent_order_id", "user_id", "strategy_id", "broker_id", "symbol", "exchange", "transaction_type",
            "order_type", "product", "validity", "quantity", "filled_quantity", "price", "trigger_price", "stoploss", "target",
            "average_price", "status", "reason", "charges", "ts", "updated_at",
        ], [f.strategyID, f.status, f.from, f.to, f.before?.time, f.before?.id, String(f.limit)])
    }

    /// The user's executions (the `trade_logs` rows of fills), newest first, with their order's
    /// fields. `ts` is the execution's time (rows written before it was kept: when stored).
    public static func fills(_ db: PostgresConnection, userID: String, _ f: Filter) throws -> [Row] {
        let time = "l.created_at"
        let sql = """
            SELECT l.log_id::text, t.trade_id::text, t.order_id, t.parent_order_id, s.user_id::text, t.strategy_id::text,
                   t.broker_id::text, t.symbol, t.exchange, t.transaction_type, t.order_type, t.product, t.quantity::text,
                   l.data->>'fill_quantity', l.data->>'fill_price', l.data->>'charges', l.data->>'realized_pnl', l.data->>'exec_id',
                   coalesce(l.data->>'ts', \(utc(time))),
                   \(utc(time)), l.log_id::text
            FROM trade_logs l JOIN trades t USING (trade_id) JOIN strategies s ON s.strategy_id = t.strategy_id
            WHERE l.data ? 'fill_price' AND ($1::uuid IS NULL OR t.strategy_id = $1::uuid)
              AND ($2::timestamptz IS NULL OR \(time) >= $2::timestamptz) AND ($3::timestamptz IS NULL OR \(time) < $3::timestamptz)
              AND ($4::timestamptz IS NULL OR (\(time), l.log_id) < ($4::timestamptz, $5::uuid))
            ORDER BY \(time) DESC, l.log_id DESC LIMIT $6::int
            """
        return try page(db, userID: userID, sql: sql, names: [
            "fill_id", "trade_id", "order_id", "parent_order_id", "user_id", "strategy_id", "broker_id", "symbol", "exchange",
            "transaction_type", "order_type", "product", "quantity", "fill_quantity", "fill_price", "charges", "realized_pnl", "exec_id", "ts",
        ], [f.strategyID, f.from, f.to, f.before?.time, f.before?.id, String(f.limit)])
    }

    /// Each of the user's strategies' IST days (`strategy_performance`), newest first: gross
    /// P&L, charges and net, exact where the desk kept the exact figures.
    public static func days(_ db: PostgresConnection, userID: String, _ f: Filter) throws -> [Row] {
        let sql = """
            SELECT p.strategy_id::text, s.name, s.user_id::text, p.date::text,
                   coalesce(p.metrics->>'gross_pnl_exact', p.gross_pnl::text, p.total_pnl::text),
                   coalesce(p.metrics->>'charges_exact', p.charges::text, '0'),
                   coalesce(p.metrics->>'total_pnl_exact', p.total_pnl::text), p.total_trades::text, p.winning_trades::text,
                   p.losing_trades::text, coalesce(p.metrics->>'max_drawdown_exact', p.max_drawdown::text),
                   p.date::text, p.strategy_id::text
            FROM strategy_performance p JOIN strategies s USING (strategy_id)
            WHERE ($1::uuid IS NULL OR p.strategy_id = $1::uuid)
              AND ($2::date IS NULL OR p.date >= $2::date) AND ($3::date IS NULL OR p.date < $3::date)
              AND ($4::date IS NULL OR (p.date, p.strategy_id) < ($4::date, $5::uuid))
            ORDER BY p.date DESC, p.strategy_id DESC LIMIT $6::int
            """
        return try page(db, userID: userID, sql: sql, names: [
            "strategy_id", "name", "user_id", "date", "gross_pnl", "charges", "net_pnl", "trades", "winning_trades", "losing_trades",
            "max_drawdown",
        ], [f.strategyID, f.from, f.to, f.before?.time, f.before?.id, String(f.limit)])
    }

    /// The changes of the user's net P&L in time order from `from` (inclusive) to `to`: each
    /// execution's realized P&L less its charges, as (time, change in 1/10,000 rupee text).
    /// Executions stored before the desk kept their realized P&L count their charges only.
    public static func equityChanges(_ db: PostgresConnection, userID: String, strategyID: String?, from: String, to: String?,
                                     limit: Int) throws -> [(time: String, change: String)] {
        try UserScope.run(db, userID: userID) { conn in
            try conn.query("""
                SELECT \(utc("coalesce((l.data->>'ts')::timestamptz, l.created_at)")),
                       (coalesce(l.data->>'realized_pnl', '0')::numeric - coalesce(l.data->>'charges', '0')::numeric)::text
                FROM trade_logs l JOIN trades t USING (trade_id)
                WHERE l.data ? 'fill_price' AND ($1::uuid IS NULL OR t.strategy_id = $1::uuid)
                  AND l.created_at >= $2::timestamptz AND ($3::timestamptz IS NULL OR l.created_at < $3::timestamptz)
                ORDER BY l.created_at, l.log_id LIMIT $4::int
                """, [strategyID, from, to, String(limit)]).rows
        }.map { ($0[0] ?? "", $0[1] ?? "0") }
    }

    /// Every user's id, for an admin's reads across users (each then read as that user).
    public static func userIDs(_ db: PostgresConnection) throws -> [String] {
        try db.query("SELECT user_id::text FROM users ORDER BY user_id").rows.compactMap { $0[0] }
    }

    /// The user's strategies (not deleted), newest first.
    public static func strategies(_ db: PostgresConnection, userID: String, _ f: Filter) throws -> [Row] {
        let time = "coalesce(s.created_at, 'epoch'::timestamptz)"
        let sql = """
            SELECT s.strategy_id::text, s.user_id::text, s.name, s.strategy_type, coalesce(s.is_active, true)::text, coalesce(s.is_running, false)::text,
                   s.parameters::text, s.broker_id::text, \(utc(time)),
                   \(utc(time)), s.strategy_id::text
            FROM strategies s
            WHERE s.deleted_at IS NULL AND ($1::uuid IS NULL OR s.strategy_id = $1::uuid)
              AND ($2::timestamptz IS NULL OR (\(time), s.strategy_id) < ($2::timestamptz, $3::uuid))
            ORDER BY \(time) DESC, s.strategy_id DESC LIMIT $4::int
            """
        return try page(db, userID: userID, sql: sql, names: [
            "strategy_id", "user_id", "name", "strategy_type", "is_active", "is_running", "parameters", "broker_id", "created_at",
        ], [f.strategyID, f.before?.time, f.before?.id, String(f.limit)])
    }

    /// The open positions of the user, each with the strategy that last traded it.
    public static func positions(_ db: PostgresConnection, userID: String, _ f: Filter) throws -> [Row] {
        let sql = """
            SELECT p.position_id::text, p.user_id::text, t.strategy_id::text, p.symbol, p.exchange, p.product, p.quantity::text,
                   p.average_price::text, p.current_price::text,
                   ((p.current_price - p.average_price) * p.quantity)::text, p.realized_pnl::text, p.charges::text, p.status,
                   \(utc("p.opened_at")),
                   \(utc("p.opened_at")), p.position_id::text
            FROM positions p JOIN trades t ON t.trade_id = p.trade_id
            WHERE p.status <> 'CLOSED' AND ($1::uuid IS NULL OR t.strategy_id = $1::uuid)
              AND ($2::timestamptz IS NULL OR (p.opened_at, p.position_id) < ($2::timestamptz, $3::uuid))
            ORDER BY p.opened_at DESC, p.position_id DESC LIMIT $4::int
            """
        return try page(db, userID: userID, sql: sql, names: [
            "position_id", "user_id", "strategy_id", "symbol", "exchange", "product", "quantity", "average_price", "current_price",
            "unrealized_pnl", "realized_pnl", "charges", "status", "opened_at",
        ], [f.strategyID, f.before?.time, f.before?.id, String(f.limit)])
    }
}
