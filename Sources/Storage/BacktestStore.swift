import Foundation
public import Postgres
public import TradingCore

/// A backtest's records: its run (`backtest_runs`, one per strategy replayed), its days
/// (`backtest_performance`) and its orders (`backtest_trades`). Nothing else is written by a
/// replay.
public enum BacktestStore {
    /// Opens a run for `strategyID` with its stored parameters overridden by `parameterOverrides`
    /// (a JSON object); returns its `run_id`. `symbol` and `exchange` are its first instrument,
    /// `instruments` all of them (`EXCHANGE:SYMBOL`); `data` says what it replays (`ticks`,
    /// `1min bars`).
    public static func open(_ db: PostgresConnection, strategyID: String, parameterOverrides: String, symbol: String, exchange: String,
                            instruments: [String], data: String, from: Timestamp, to: Timestamp, speed: String) throws -> String {
        guard let runID = try db.query("""
            INSERT INTO backtest_runs (user_id, strategy_id, strategy_type, parameters, symbol, exchange, from_time, to_time, speed,
                                       instruments, data_source)
            SELECT user_id, strategy_id, strategy_type, parameters || $2::jsonb, $3, $4, $5::timestamptz, $6::timestamptz, $7,
                   $8::text[], $9
            FROM strategies WHERE strategy_id = $1::uuid RETURNING run_id::text
            """, [strategyID, parameterOverrides, symbol, exchange, from.description, to.description, speed,
                  PostgresArrayLiteral.text(instruments), data]).scalar else {
            throw PostgresError(code: .unexpectedResult, message: "strategy \(strategyID) is gone: no backtest run was opened")
        }
        return runID
    }

    /// Marks a run failed with its cause.
    public static func fail(_ db: PostgresConnection, runID: String, error: String) throws {
        try db.query("UPDATE backtest_runs SET status = 'failed', error = $2, finished_at = now() WHERE run_id = $1::uuid",
                     [runID, error])
    }

    /// Completes a run with its figures, its days and its orders, in one transaction.
    public static func complete(_ db: PostgresConnection, runID: String, figures f: BacktestFigures, orders: [DeskOrder],
                                days: [StrategyDay]) throws {
        try db.transaction { conn in
            _ = try conn.query("""
                UPDATE backtest_runs SET status = 'completed', finished_at = now(), ticks = $2::bigint, orders = $3::int,
                    rejected = $4::int, fills = $5::int, winning_trades = $6::int, losing_trades = $7::int,
                    gross_pnl = $8::numeric, charges = $9::numeric, net_pnl = $10::numeric, unrealized_pnl = $11::numeric,
                    end_position = $12::int, win_rate = $13::numeric, sharpe_ratio = $14::numeric, max_drawdown = $15::numeric,
                    exposure_percent = $16::numeric
                WHERE run_id = $1::uuid
                """, [runID, String(f.ticks), String(f.orders), String(f.rejected), String(f.fills), String(f.winning), String(f.losing),
                      money(f.grossPnL), money(f.charges), money(f.netPnL), money(f.unrealized), String(f.endPosition),
                      f.winRate.map { String(format: "%.2f", $0) }, f.sharpeRatio.map { String(format: "%.4f", $0) },
                      money(f.maxDrawdown), String(format: "%.2f", f.exposurePercent)])
            if !days.isEmpty {
                var columns = Array(repeating: [String?](), count: 10)
                for d in days {
                    let (y, m, dd) = CivilCalendar.civil(fromDays: d.day)
                    let values: [String?] = [String(format: "%04d-%02d-%02d", Int(y), Int(m), Int(dd)), String(d.trades), String(d.winning),
                                             String(d.losing), money(d.totalPnL), money(d.grossPnL), money(d.charges), money(d.maxDrawdown),
                                             d.sharpeRatio.map { String(format: "%.4f", $0) }, d.winRate.map { String(format: "%.2f", $0) }]
                    for (i, v) in values.enumerated() { columns[i].append(v) }
                }
                _ = try conn.query("""
                    INSERT INTO backtest_performance (run_id, date, total_trades, winning_trades, losing_trades, total_pnl, gross_pnl,
                        charges, max_drawdown, sharpe_ratio, win_rate)
                    SELECT $1::uuid, * FROM unnest($2::date[], $3::int[], $4::int[], $5::int[], $6::numeric[], $7::numeric[],
                        $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[])
                    """, [runID] + columns.map { PostgresArrayLiteral.text($0) })
            }
            guard !orders.isEmpty else { return }
            var columns = Array(repeating: [String?](), count: 18)
            for (seq, o) in orders.enumerated() {
                let values: [String?] = [
                    String(seq + 1), o.orderID, o.parentOrderID, o.intent.symbol, o.intent.exchange, o.intent.side.rawValue,
                    o.intent.type.rawValue, (o.product ?? .mis).rawValue, String(o.state.quantity), o.state.price?.description,
                    o.state.triggerPrice?.description, o.state.status.rawValue, String(o.state.filledQuantity),
                    o.state.averagePrice?.description, FixedDecimal(units: o.charges ?? 0).description, o.reason ?? o.intent.reason,
                    o.orderTime.description, o.executionTime?.description,
                ]
                for (i, v) in values.enumerated() { columns[i].append(v) }
            }
            _ = try conn.query("""
                INSERT INTO backtest_trades (run_id, seq, order_id, parent_order_id, symbol, exchange, transaction_type, order_type,
                    product, quantity, price, trigger_price, status, filled_quantity, average_price, charges, reason,
                    order_timestamp, execution_timestamp)
                SELECT $1::uuid, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                    $9::text[], $10::int[], $11::numeric[], $12::numeric[], $13::text[], $14::int[], $15::numeric[], $16::numeric[],
                    $17::text[], $18::timestamptz[], $19::timestamptz[])
                """, [runID] + columns.map { PostgresArrayLiteral.text($0) })
        }
    }

    private static func money(_ units: Int128) -> String { MoneyText.exact(units) }
}
