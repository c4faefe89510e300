public import Postgres
public import TradingCore

/// The open positions as `positions` holds them, read at start so the desk goes on from them.
public enum OpenPositionStore {
    /// Every open row with the strategy, broker account and product of the trade that opened it,
    /// and its realized P&L and charges so far (exact).
    public static func load(_ db: PostgresConnection) throws -> [RestoredPosition] {
        try db.query("""
            SELECT p.position_id::text, p.trade_id::text, p.user_id::text, p.symbol, p.exchange, p.quantity, p.average_price::text,
                   (extract(epoch FROM p.opened_at) * 1000000)::bigint, t.strategy_id::text, t.broker_id::text,
                   coalesce(p.product, t.product), p.gross_realized_pnl::text, p.charges::text
            FROM positions p LEFT JOIN trades t USING (trade_id) WHERE p.status <> 'CLOSED' AND p.quantity <> 0
            ORDER BY p.position_id
            """).rows.compactMap { r in
            guard let id = r[0], let trade = r[1], let user = r[2], let symbol = r[3], let exchange = r[4],
                  let quantity = r[5].flatMap({ Int64($0) }), let average = r[6].flatMap(FixedDecimal.init),
                  let micros = r[7].flatMap({ Int64($0) }) else { return nil }
            return RestoredPosition(positionID: id, openingTradeID: trade, userID: user, symbol: symbol, exchange: exchange,
                                    quantity: quantity, averagePrice: average, openedAt: Timestamp(nanosecondsSinceEpoch: micros * 1_000),
                                    strategyID: r[8], brokerID: r[9], product: r[10].flatMap(Product.init(rawValue:)),
                                    grossRealized: r[11].flatMap(WideDecimal.init)?.units ?? 0,
                                    charges: r[12].flatMap(WideDecimal.init)?.units ?? 0)
        }
    }
}
