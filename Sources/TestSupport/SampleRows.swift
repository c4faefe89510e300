public import Postgres

/// Minimal related rows (user, paper broker, strategy, trade) for tests that need foreign keys.
public enum SampleRows {
    public struct IDs: Sendable {
        public let userID: String
        public let brokerID: String
        public let strategyID: String
        public let tradeID: String
    }

    public static func userStrategyBrokerTrade(_ db: PostgresConnection, username: String = "trader1") throws -> IDs {
        let user = try db.query(
            "INSERT INTO users (username, email, password_hash, role) VALUES ($1::text, $1::text || '@example.com', 'x', 'trader') RETURNING user_id",
            [username]
        ).scalar!
        let broker = try db.query(
            "INSERT INTO brokers (user_id, name, api_type, api_credentials_encrypted) VALUES ($1, 'paper', 'zerodha', '{}') RETURNING broker_id",
            [user]
        ).scalar!
        let strategy = try db.query(
            "INSERT INTO strategies (user_id, name, strategy_type) VALUES ($1, 's1', 'sma_crossover') RETURNING strategy_id",
            [user]
        ).scalar!
        let trade = try db.query("""
            INSERT INTO trades (strategy_id, broker_id, symbol, exchange, instrument_type, order_type, transaction_type, quantity, status)
            VALUES ($1, $2, 'INFY', 'NSE', 'EQ', 'MARKET', 'BUY', 10, 'PENDING') RETURNING trade_id
            """, [strategy, broker]).scalar!
        return IDs(userID: user, brokerID: broker, strategyID: strategy, tradeID: trade)
    }

    /// A user with a row in every user-owned table (migrations 1-8): risk settings, a session, a
    /// position and its history, a trade log, performance, a halt, and a backtest run with a
    /// trade and a day of performance. Returns the user's id.
    public static func userOwnedRows(_ db: PostgresConnection, username name: String) throws -> String {
        let ids = try userStrategyBrokerTrade(db, username: name)
        try db.query("""
            INSERT INTO risk_settings (user_id, daily_loss_limit, max_position_size, max_drawdown_percent, max_risk_per_trade)
            VALUES ($1::uuid, 1000, 100000, 10, 2)
            """, [ids.userID])
        try db.query("INSERT INTO user_sessions (user_id, token_hash, expires_at) VALUES ($1::uuid, md5($1::text), now() + interval '1 hour')", [ids.userID])
        let position = try db.query("""
            INSERT INTO positions (trade_id, user_id, symbol, exchange, instrument_type, quantity, average_price, status, opened_at)
            VALUES ($1::uuid, $2::uuid, 'INFY', 'NSE', 'EQ', 10, 1500, 'OPEN', now()) RETURNING position_id
            """, [ids.tradeID, ids.userID]).scalar!
        try db.query("INSERT INTO position_history (position_id, price, quantity, pnl, action, \"timestamp\") VALUES ($1::uuid, 1500, 10, 0, 'OPEN', now())", [position])
        try db.query("INSERT INTO trade_logs (trade_id, log_level, message) VALUES ($1::uuid, 'INFO', 'placed')", [ids.tradeID])
        try db.query("INSERT INTO strategy_performance (strategy_id, date, total_trades) VALUES ($1::uuid, current_date, 1)", [ids.strategyID])
        try db.query("INSERT INTO halts (user_id, reason, source) VALUES ($1::uuid, 'test', 'operator')", [ids.userID])
        let run = try db.query("""
            INSERT INTO backtest_runs (user_id, strategy_id, strategy_type, parameters, symbol, exchange, from_time, to_time, speed)
            VALUES ($1::uuid, $2::uuid, 'sma_crossover', '{}', 'INFY', 'NSE', now() - interval '1 day', now(), 'max') RETURNING run_id
            """, [ids.userID, ids.strategyID]).scalar!
        try db.query("""
            INSERT INTO backtest_trades (run_id, seq, order_id, symbol, exchange, transaction_type, order_type, product, quantity, status,
                                         filled_quantity, order_timestamp)
            VALUES ($1::uuid, 1, 'o1', 'INFY', 'NSE', 'BUY', 'MARKET', 'MIS', 10, 'FILLED', 10, now())
            """, [run])
        try db.query("INSERT INTO backtest_performance (run_id, date, total_trades) VALUES ($1::uuid, current_date, 1)", [run])
        try db.query("""
            INSERT INTO history_imports (file_name, file_sha256, kind, "interval", instruments, first_time, last_time, rows_read,
                                         rows_imported, rows_adopted)
            VALUES ('infy.csv', repeat('0', 64), 'bars', '1min', ARRAY['NSE:INFY'], now() - interval '1 year', now() - interval '1 year', 1, 1, 0)
            """)
        return ids.userID
    }
}
