public import Postgres
public import TradingCore

/// Orders still working when the engine stopped (PENDING, OPEN or PARTIALLY_FILLED in `trades`), rebuilt
/// as the desk held them so a restart takes them up again: a paper order goes back to the venue,
/// a live order's later reports are applied. Their executions come from `trade_logs` (exec id,
/// quantity, price, in order), so a repeated report is still recognised.
public enum WorkingOrderStore {
    public static func load(_ db: PostgresConnection) throws -> [DeskOrder] {
        let rows = try db.query("""
            SELECT t.trade_id::text, t.order_id, t.parent_order_id, t.strategy_id::text, s.user_id::text, t.broker_id::text, t.symbol,
                   t.exchange, t.transaction_type, t.order_type, t.quantity, t.price::text, t.trigger_price::text, t.stoploss::text,
                   t.target::text, t.status, (extract(epoch FROM t.order_timestamp) * 1000000)::bigint, t.metadata::text,
                   t.product, t.validity, t.instrument_type, t.algo_id, t.charges::text,
                   (SELECT json_agg(json_build_array(l.data->>'exec_id', l.data->>'fill_quantity', l.data->>'fill_price')
                                    ORDER BY l.created_at, l.log_id)::text
                    FROM trade_logs l WHERE l.trade_id = t.trade_id AND l.data ? 'exec_id')
            FROM trades t JOIN strategies s USING (strategy_id)
            WHERE t.status IN ('PENDING', 'OPEN', 'PARTIALLY_FILLED') AND t.order_id IS NOT NULL
            ORDER BY t.order_timestamp, t.trade_id
            """).rows
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
            // Exec ids are the broker's text: read as JSON, never split on a character they may hold.
            if case .array(let executions)? = try? JSONValue.parse(Array((r[23] ?? "[]").utf8)) {
                for case .array(let parts) in executions where parts.count == 3 {
                    guard let id = parts[0].stringValue, let q = parts[1].stringValue.flatMap({ Int64($0) }),
                          let p = parts[2].stringValue.flatMap(FixedDecimal.init) else { continue }
                    _ = try? state.apply(.filled(executionID: id, quantity: q, price: p))
                }
            }
            return DeskOrder(tradeID: tradeID, orderID: orderID, parentOrderID: r[2], intent: intent, state: state, orderTime: time,
                             executionTime: nil, reason: metadata["reason"]?.stringValue, product: intent.product, validity: intent.validity,
                             instrumentType: r[20], algoID: r[21], charges: r[22].flatMap(FixedDecimal.init)?.units,
                             brokerage: metadata["brokerage_units"]?.int64Value)
        }
    }
}
