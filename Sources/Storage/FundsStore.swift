public import Postgres
import TradingCore

/// What each broker account's fills realized, read at start so its cash goes on from it.
public enum FundsStore {
    /// Broker id -> realized P&L less charges of every position row opened on it (open and
    /// closed: `positions.realized_pnl` is net of the row's charges), exactly.
    public static func settled(_ db: PostgresConnection) throws -> [String: Int128] {
        var out: [String: Int128] = [:]
        for row in try db.query("""
            SELECT t.broker_id::text, sum(p.realized_pnl)::text FROM positions p JOIN trades t ON t.trade_id = p.trade_id
            GROUP BY t.broker_id
            """).rows {
            if let broker = row[0], let amount = row[1].flatMap(WideDecimal.init) { out[broker] = amount.units }
        }
        return out
    }
}
