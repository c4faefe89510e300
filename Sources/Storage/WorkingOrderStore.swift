public import Postgres
public import TradingCore

/// Orders still working when the engine stopped (PENDING, OPEN or PARTIALLY_FILLED in `trades`), rebuilt
/// as the desk held them so a restart takes them up again: a paper order goes back to the venue,
/// a live order's later reports are applied. Their executions come from `trade_logs` (exec id,
/// quantity, price, in order), so a repeated report is still recognised.
public enum WorkingOrderStore {
    public static func load(_ db: PostgresConnection) throws -> [DeskOrder] {
        try orders(db, where: "t.status IN ('PENDING', 'OPEN', 'PARTIALLY_FILLED') AND t.order_id IS NOT NULL", [])
    }

    /// The orders of live broker `brokerID` that ended since `since` (FILLED, CANCELLED,
    /// REJECTED), as a reconciliation compares them with the broker's list of today's orders.
    public static func endedLive(_ db: PostgresConnection, brokerID: String, since: Timestamp) throws -> [DeskOrder] {
        try orders(db, where: """
            t.broker_id = $1::uuid AND t.status IN ('FILLED', 'CANCELLED', 'REJECTED') AND t.order_id IS NOT NULL
            AND t.order_timestamp >= $2::timestamptz AND \(executedLive)
            """, [brokerID, since.description])
    }

    /// Per instrument ("SYMBOL|EXCHANGE"), the net of the fills of the broker's orders placed
    /// since `since` (the start of the IST day) that a gateway executed (not those of its paper
    /// days): the engine's view of the broker's day positions. (An order placed on an earlier day
    /// and filled today is not counted: a DAY or IOC order cannot be.)
    public static func liveNets(_ db: PostgresConnection, brokerID: String, since: Timestamp) throws -> [String: Int64] {
        var nets: [String: Int64] = [:]
        for row in try db.query("""
            SELECT t.symbol, t.exchange, sum(CASE t.transaction_type WHEN 'BUY' THEN t.filled_quantity ELSE -t.filled_quantity END)::bigint
            FROM trades t WHERE t.broker_id = $1::uuid AND t.filled_quantity > 0 AND t.order_timestamp >= $2::timestamptz AND \(executedLive)
            GROUP BY t.symbol, t.exchange
            """, [brokerID, since.description]).rows {
            if let symbol = row[0], let exchange = row[1], let net = row[2].flatMap({ Int64($0) }) { nets[symbol + "|" + exchange] = net }
        }
        return nets
    }

    /// An order a gateway handled: one of its reports (or a reconciliation) is in its trade log.
    static let executedLive = "EXISTS (SELECT 1 FROM trade_logs g WHERE g.trade_id = t.trade_id AND (g.data ? 'report_id' OR g.data ? 'reconcile_id'))"

    private static func orders(_ db: PostgresConnection, where condition: String, _ parameters: [String?]) throws -> [DeskOrder] {
        let rows = try db.query("""
            SELECT t.trade_id::text, t.order_id, t.parent_order_id, t.strategy_id::text, s.user_id::text, t.broker_id::text, t.symbol,
                   t.exchange, t.transaction_type, t.order_type, t.quantity, t.price::text, t.trigger_price::text, t.stoploss::text,
                   t.target::text, t.status, (extract(epoch FROM t.order_timestamp) * 1000000)::bigint, t.metadata::text,
                   t.product, t.validity, t.instrument_type, t.algo_id, t.charges::text,
                   (SELECT json_agg(json_build_array(l.data->>'exec_id', l.data->>'fill_quantity', l.data->>'fill_price')
                                    ORDER BY l.created_at, l.log_id)::text
                    FROM trade_logs l WHERE l.trade_id = t.trade_id AND l.data ? 'exec_id'),
                   (SELECT l.data->>'broker_order_id' FROM trade_logs l
                    WHERE l.trade_id = t.trade_id AND l.data->>'broker_order_id' IS NOT NULL ORDER BY l.created_at DESC, l.log_id DESC LIMIT 1)
            FROM trades t JOIN strategies s USING (strategy_id)
            WHERE \(condition)
            ORDER BY t.order_timestamp, t.trade_id
            """, parameters).rows
        return rows.compactMap { r -> DeskOrder? in
            guard let tradeID = r[0], let orderID = r[1], let strategy = r[3], let user = r[4], let symbol = r[6], let exchange = r[7],
                  let side = r[8].flatMap(OrderSide.init(rawValue:)), let type = r[9].flatMap(OrderType.init(rawValue:)),
                  let quantity = r[10].flatMap({ Int64($0) }), let micros = r[16].flatMap({ Int64($0) }) else { return nil }
            let metadata = (try? JSONValue.parse(Array((r[17] ?? "{}").utf8))) ?? .object([])
            let price = r[11].flatMap(FixedDecimal.init), trigger = r[12].flatMap(FixedDecimal.init)
            let time = Timestamp(nanosecondsSinceEpoch: micros * 1_000)
            var intent = OrderIntent(strategyID: strategy, userID: user, brokerID: r[5], symbol: symbol, exchange: exchange, side: side, type: type,
                                     quantity: quantity, limitPrice: price, triggerPrice: trigger, stoploss: r[13].flatMap(FixedDecimal.init),
                                     target: r[14].flatMap(FixedDecimal.init),
                                     referencePrice: metadata["reference_price"]?.fixedDecimalValue ?? price ?? trigger ?? .zero, time: time,
                                     reason: metadata["intent"]?.stringValue ?? "", product: r[18].flatMap(Product.init(rawValue:)),
                                     validity: r[19].flatMap(Validity.init(rawValue:)))
            if case .bool(true)? = metadata["placed_by_engine"] { intent.placedByEngine = true }
            var state = OrderState(quantity: quantity, price: price, triggerPrice: trigger)
            if r[15] != "PENDING" { _ = try? state.apply(.accepted) }
            let ended = r[15].flatMap(OrderStatus.init(rawValue:)).flatMap { $0.isTerminal ? $0 : nil }
            // Exec ids are the broker's text: read as JSON, never split on a character they may hold.
            if case .array(let executions)? = try? JSONValue.parse(Array((r[23] ?? "[]").utf8)) {
                for case .array(let parts) in executions where parts.count == 3 {
                    guard let id = parts[0].stringValue, let q = parts[1].stringValue.flatMap({ Int64($0) }),
                          let p = parts[2].stringValue.flatMap(FixedDecimal.init) else { continue }
                    _ = try? state.apply(.filled(executionID: id, quantity: q, price: p))
                }
            }
            // An ended order ends as it did, after its executions (a FILLED one is filled by them).
            switch ended {
            case .cancelled?: _ = try? state.apply(.cancelled(reason: metadata["reason"]?.stringValue ?? "cancelled"))
            case .rejected?: _ = try? state.apply(.rejected(reason: metadata["reason"]?.stringValue ?? "rejected"))
            default: break
            }
            var order = DeskOrder(tradeID: tradeID, orderID: orderID, parentOrderID: r[2], intent: intent, state: state, orderTime: time,
                                  executionTime: nil, reason: metadata["reason"]?.stringValue, product: intent.product, validity: intent.validity,
                                  instrumentType: r[20], algoID: r[21], charges: r[22].flatMap(FixedDecimal.init)?.units,
                                  brokerage: metadata["brokerage_units"]?.int64Value)
            order.brokerOrderID = r[24]
            return order
        }
    }
}
