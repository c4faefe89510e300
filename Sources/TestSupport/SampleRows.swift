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
}
