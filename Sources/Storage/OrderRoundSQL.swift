import Foundation
import Postgres
import TradingCore

/// The SQL of a round (`OrderRoundStore`): one transaction, in a handful of statements however
/// many fills it holds: the latest state of each order, position and strategy day (rows repeat
/// within a round as an order moves), then the append-only rows in bulk (`unnest`), then the
/// events with their `seq`. Foreign keys are satisfied by that order.
enum OrderRoundSQL {
    /// The round's rows, gathered: each order, position and day once (its latest state).
    struct Rows {
        var orders: [DeskOrder] = []
        var positions: [PositionRecord] = []
        var days: [StrategyDay] = []
        var logs = Array(repeating: [String?](), count: 4)
        var history = Array(repeating: [String?](), count: 6)
        var marks: [(String, FixedDecimal)] = []
        var halts: [(String, String)] = []
        var strategyHalts: [(strategyID: String, userID: String, reason: String, breach: String)] = []
        var dayStarts: [(time: Timestamp, lifting: [String])] = []
        var reconciliations: [Reconciliation] = []
        var events = Array(repeating: [String?](), count: 5)

        init(_ round: OrderRound) {
            var orders: [String: DeskOrder] = [:], orderOrder: [String] = []
            var positions: [String: PositionRecord] = [:], positionOrder: [String] = []
            var days: [String: StrategyDay] = [:], dayOrder: [String] = []
            var published = round.published.makeIterator()
            for record in round.records {
                switch record {
                case .order(let order):
                    if orders.updateValue(order, forKey: order.tradeID) == nil { orderOrder.append(order.tradeID) }
                case .position(let position):
                    if positions.updateValue(position, forKey: position.positionID) == nil { positionOrder.append(position.positionID) }
                case .performance(let day):
                    let key = "\(day.strategyID)|\(day.day)"
                    if days.updateValue(day, forKey: key) == nil { dayOrder.append(key) }
                case .tradeLog(let tradeID, let level, let message, let data):
                    for (i, v) in [tradeID, level, message, data].enumerated() { logs[i].append(v) }
                case .positionHistory(let h):
                    for (i, v) in [h.positionID, h.price.description, String(h.quantity), OrderRecords.decimal(h.pnl), h.action.rawValue,
                                   h.time.description].enumerated() { history[i].append(v) }
                case .mark(let positionID, let price):
                    marks.append((positionID, price))
                case .halt(let userID, let reason):
                    halts.append((userID, reason))
                case .strategyHalt(let strategyID, let userID, let reason, let breach):
                    strategyHalts.append((strategyID, userID, reason, breach))
                case .dayStart(_, let time, let lifting):
                    dayStarts.append((time, lifting))
                case .reconciliation(let result, _):
                    reconciliations.append(result)
                case .gatewayRequest, .gatewayAck:
                    break
                case .event:
                    guard let (seq, event, payload) = published.next() else { continue }
                    for (i, v) in [String(seq), event.topic, event.kind.rawValue, event.order.tradeID, payload].enumerated() { events[i].append(v) }
                }
            }
            self.orders = orderOrder.map { orders[$0]! }
            self.positions = positionOrder.map { positions[$0]! }
            self.days = dayOrder.map { days[$0]! }
        }
    }

    /// Runs inside the caller's transaction; with `deduplicate`, a round applied before is skipped.
    static func apply(_ source: OrderRound, deduplicate: Bool, _ conn: PostgresConnection) throws {
        let round = Rows(source)
        let logs = round.logs, history = round.history, events = round.events
        if deduplicate {
            let fresh = try conn.query("INSERT INTO event_journal_rounds (round_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING",
                                       [source.roundID]).affectedRows
            if fresh == 0 { return }
        }
        for (positionID, price) in round.marks {
            try conn.query("UPDATE positions SET current_price = $2::numeric WHERE position_id = $1::uuid AND status <> 'CLOSED'",
                           [positionID, price.description])
        }
        for order in round.orders { try OrderRecords.upsert(order, conn) }
        for position in round.positions { try OrderRecords.upsert(position, conn) }
        if !logs[0].isEmpty {
            try conn.query("""
                INSERT INTO trade_logs (trade_id, log_level, message, data)
                SELECT t, l, m, d::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS x(t, l, m, d)
                """, logs.map { PostgresArrayLiteral.text($0) })
        }
        if !history[0].isEmpty {
            try conn.query("""
                INSERT INTO position_history (position_id, price, quantity, pnl, action, "timestamp")
                SELECT * FROM unnest($1::uuid[], $2::numeric[], $3::int[], $4::numeric[], $5::text[], $6::timestamptz[])
                """, history.map { PostgresArrayLiteral.text($0) })
        }
        for day in round.days { try OrderRecords.upsert(day, conn) }
        for (time, lifting) in round.dayStarts {
            // A new IST day: the halts of the breaches it lifts, raised before it, are lifted
            // (with audit rows, through the engine's one audit path, as every audit row).
            try conn.query("""
                WITH r AS (
                    UPDATE halts SET resumed_at = now(), resumed_by = 'engine:day-start'
                    WHERE resumed_at IS NULL AND breach = ANY($2::text[]) AND created_at < $1::timestamptz
                    RETURNING user_id, strategy_id, reason)
                SELECT audit_log_append('engine:day-start', NULL, 'resume', user_id,
                                        CASE WHEN strategy_id IS NULL THEN 'user' ELSE 'strategy' END,
                                        jsonb_build_object('reason', reason, 'strategy_id', strategy_id), NULL) FROM r
                """, [time.description, PostgresArrayLiteral.text(lifting)])
        }
        for h in round.strategyHalts {
            try conn.query("""
                WITH h AS (
                    INSERT INTO halts (user_id, strategy_id, reason, source, created_by, breach)
                    SELECT $1::uuid, $2::uuid, $3, 'breach', 'breaker', $4 WHERE NOT EXISTS
                        (SELECT 1 FROM halts WHERE strategy_id = $2::uuid AND resumed_at IS NULL)
                    RETURNING user_id)
                SELECT audit_log_append('engine:breaker', NULL, 'halt', user_id, 'strategy',
                                        jsonb_build_object('reason', $3::text, 'strategy_id', $2::text, 'breach', $4::text), NULL) FROM h
                """, [h.userID, h.strategyID, h.reason, h.breach])
        }
        for result in round.reconciliations {
            // What it found, with what it applied (docs/protocol.md, "Reconciliation").
            try conn.query("INSERT INTO system_logs (component, log_level, message, data) VALUES ('reconcile', $1, $2, $3::jsonb)",
                           [result.level, result.summary, result.json()])
            guard !result.isClean else { continue }
            // Every strategy trading through the broker: its resolved broker (docs/strategies.md:
            // the `broker_id` parameter, else the one it first ran with, else its user's only
            // active broker) or a working order there. Lifted only by an operator's resume.
            try conn.query("""
                WITH h AS (
                    INSERT INTO halts (user_id, strategy_id, reason, source, created_by, breach)
                    SELECT s.user_id, s.strategy_id, $2, 'breach', 'reconcile', 'reconcile' FROM strategies s
                    WHERE (lower(coalesce(s.parameters->>'broker_id', s.broker_id::text,
                                          (SELECT CASE WHEN count(*) = 1 THEN min(b.broker_id::text) END FROM brokers b
                                           WHERE b.user_id = s.user_id AND b.is_active))) = lower($1)
                           OR EXISTS (SELECT 1 FROM trades t WHERE t.strategy_id = s.strategy_id AND t.broker_id = $1::uuid
                                      AND t.status IN ('PENDING', 'OPEN', 'PARTIALLY_FILLED')))
                      AND NOT EXISTS (SELECT 1 FROM halts x WHERE x.strategy_id = s.strategy_id AND x.resumed_at IS NULL)
                    RETURNING user_id, strategy_id)
                SELECT audit_log_append('engine:reconcile', NULL, 'halt', user_id, 'strategy',
                                        jsonb_build_object('reason', $2::text, 'strategy_id', strategy_id, 'breach', 'reconcile'), NULL) FROM h
                """, [result.brokerID, result.summary])
        }
        for (userID, reason) in round.halts {
            // The halt and its audit row together (docs/security.md).
            try conn.query("""
                WITH h AS (
                    INSERT INTO halts (user_id, reason, source, created_by, breach)
                    SELECT $1::uuid, $2, 'breach', 'risk', CASE WHEN $2 LIKE 'daily loss%' THEN 'daily_loss' ELSE 'drawdown' END
                    WHERE NOT EXISTS
                        (SELECT 1 FROM halts WHERE user_id = $1::uuid AND strategy_id IS NULL AND resumed_at IS NULL)
                    RETURNING user_id)
                SELECT audit_log_append('engine:risk', NULL, 'halt', user_id, 'user',
                                        jsonb_build_object('reason', $2::text, 'source', 'breach'), NULL) FROM h
                """, [userID, reason])
        }
        if !events[0].isEmpty {
            try conn.query("""
                INSERT INTO bus_events (seq, topic, event, trade_id, payload)
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::uuid[], $5::text[])
                """, events.map { PostgresArrayLiteral.text($0) })
        }
    }
}

/// SQL for the desk's rows.
enum OrderRecords {
    static func upsert(_ order: DeskOrder, _ conn: PostgresConnection) throws {
        let i = order.intent
        var metadata = JSONObjectWriter()
        if let reason = order.reason { metadata.add("reason", reason) }
        metadata.add("intent", i.reason)
        // What a restart needs to take the order up again (WorkingOrderStore).
        if i.placedByEngine { metadata.add("placed_by_engine", true) }
        if let client = i.clientOrderID { metadata.add("client_order_id", client) }
        if let brokerage = order.brokerage { metadata.add("brokerage_units", brokerage) }
        metadata.add("reference_price", i.referencePrice)
        try conn.query("""
            INSERT INTO trades (trade_id, strategy_id, broker_id, symbol, exchange, instrument_type, order_type, transaction_type,
                                quantity, price, trigger_price, stoploss, target, status, order_id, parent_order_id,
                                order_timestamp, execution_timestamp, average_price, filled_quantity, metadata,
                                product, validity, algo_id, charges)
            VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $21, $6, $7, $8::int, $9::numeric, $10::numeric, $11::numeric, $12::numeric,
                    $13, $14, $15, $16::timestamptz, $17::timestamptz, $18::numeric, $19::int, $20::jsonb, $22, $23, $24, $25::numeric)
            ON CONFLICT (trade_id) DO UPDATE SET status = EXCLUDED.status, quantity = EXCLUDED.quantity, price = EXCLUDED.price,
                trigger_price = EXCLUDED.trigger_price, execution_timestamp = EXCLUDED.execution_timestamp,
                average_price = EXCLUDED.average_price, filled_quantity = EXCLUDED.filled_quantity, metadata = EXCLUDED.metadata,
                charges = EXCLUDED.charges
            """, [order.tradeID, i.strategyID, i.brokerID, i.symbol, i.exchange, i.type.rawValue, i.side.rawValue,
                  String(order.state.quantity), order.state.price?.description, order.state.triggerPrice?.description,
                  i.stoploss?.description, i.target?.description, order.state.status.rawValue, order.orderID, order.parentOrderID,
                  order.orderTime.description, order.executionTime?.description, order.state.averagePrice?.description,
                  String(order.state.filledQuantity), metadata.text, order.instrumentType ?? "EQ", (order.product ?? .mis).rawValue,
                  (order.validity ?? .day).rawValue, order.algoID, FixedDecimal(units: order.charges ?? 0).description])
    }

    static func upsert(_ p: PositionRecord, _ conn: PostgresConnection) throws {
        try conn.query("""
            INSERT INTO positions (position_id, trade_id, user_id, symbol, exchange, instrument_type, quantity, average_price,
                                   current_price, realized_pnl, status, opened_at, closed_at, product, charges, gross_realized_pnl)
            VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $13, $6::int, $7::numeric, $8::numeric, $9::numeric, $10,
                    $11::timestamptz, $12::timestamptz, $14, $15::numeric, $16::numeric)
            ON CONFLICT (position_id) DO UPDATE SET quantity = EXCLUDED.quantity, average_price = EXCLUDED.average_price,
                current_price = EXCLUDED.current_price, realized_pnl = EXCLUDED.realized_pnl, status = EXCLUDED.status,
                closed_at = EXCLUDED.closed_at, product = EXCLUDED.product, charges = EXCLUDED.charges,
                gross_realized_pnl = EXCLUDED.gross_realized_pnl
            """, [p.positionID, p.openingTradeID, p.userID, p.symbol, p.exchange, String(p.quantity), p.averagePrice.description,
                  p.currentPrice.description, decimal(p.realizedPnL), p.status.rawValue, p.openedAt.description, p.closedAt?.description,
                  p.instrumentType ?? "EQ", p.product?.rawValue, decimal(p.charges ?? 0), decimal(p.grossRealizedPnL ?? p.realizedPnL)])
    }

    static func upsert(_ d: StrategyDay, _ conn: PostgresConnection) throws {
        let (y, m, dd) = CivilCalendar.civil(fromDays: d.day)
        let date = String(format: "%04d-%02d-%02d", Int(y), Int(m), Int(dd))
        var metrics = JSONObjectWriter()
        metrics.add("closed_trades", d.closedPnLs.count)
        metrics.add("total_pnl_exact", money: d.totalPnL)
        metrics.add("gross_pnl_exact", money: d.grossPnL)
        metrics.add("charges_exact", money: d.charges)
        metrics.add("closed_pnl", money: d.closedPnLs)
        metrics.add("max_drawdown_exact", money: d.maxDrawdown)
        metrics.add("peak_exact", money: d.netPeak)
        try conn.query("""
            INSERT INTO strategy_performance (strategy_id, date, total_trades, winning_trades, losing_trades, total_pnl,
                                              max_drawdown, sharpe_ratio, win_rate, metrics, gross_pnl, charges)
            VALUES ($1::uuid, $2::date, $3::int, $4::int, $5::int, round($6::numeric, 2), round($7::numeric, 2),
                    $8::numeric, $9::numeric, $10::jsonb, round($11::numeric, 2), round($12::numeric, 2))
            ON CONFLICT (strategy_id, date) DO UPDATE SET total_trades = EXCLUDED.total_trades,
                winning_trades = EXCLUDED.winning_trades, losing_trades = EXCLUDED.losing_trades, total_pnl = EXCLUDED.total_pnl,
                max_drawdown = EXCLUDED.max_drawdown, sharpe_ratio = EXCLUDED.sharpe_ratio, win_rate = EXCLUDED.win_rate,
                metrics = EXCLUDED.metrics, gross_pnl = EXCLUDED.gross_pnl, charges = EXCLUDED.charges
            """, [d.strategyID, date, String(d.trades), String(d.winning), String(d.losing), decimal(d.totalPnL),
                  decimal(d.maxDrawdown), d.sharpeRatio.map { String(format: "%.4f", $0) }, d.winRate.map { String(format: "%.2f", $0) },
                  metrics.text,
                  decimal(d.grossPnL), decimal(d.charges)])
    }

    /// 1/10,000 units as decimal text.
    static func decimal(_ units: Int128) -> String { MoneyText.exact(units) }
}
