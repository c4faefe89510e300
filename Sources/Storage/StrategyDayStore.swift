public import Postgres
public import TradingCore

/// The day's results as `strategy_performance` holds them, read back at start so the desk goes
/// on from them (docs/risk.md): the daily loss limit and each strategy's `max_loss` count the
/// trading before a restart, and the day's performance rows keep it.
public enum StrategyDayStore {
    /// Every strategy's row for IST day `day` (days since 1970-01-01), with its user.
    public static func load(_ db: PostgresConnection, day: Int64) throws -> [(userID: String, day: StrategyDay)] {
        let (y, m, d) = CivilCalendar.civil(fromDays: day)
        let date = String(format: "%04d-%02d-%02d", Int(y), Int(m), Int(d))
        let rows = try db.query("""
            SELECT p.strategy_id::text, s.user_id::text, p.total_trades, p.winning_trades, p.losing_trades,
                   coalesce(p.metrics->>'gross_pnl_exact', p.gross_pnl::text, p.total_pnl::text),
                   coalesce(p.metrics->>'charges_exact', p.charges::text, '0'),
                   coalesce(p.metrics->>'max_drawdown_exact', p.max_drawdown::text, '0'),
                   p.metrics->>'peak_exact', coalesce(p.metrics->'closed_pnl', '[]')::text
            FROM strategy_performance p JOIN strategies s USING (strategy_id)
            WHERE p.date = $1::date
            """, [date]).rows
        return rows.compactMap { r in
            guard let strategy = r[0], let user = r[1] else { return nil }
            func money(_ text: String?) -> Int128 { text.flatMap(WideDecimal.init)?.units ?? 0 }
            var closed: [Int128] = []
            if case .array(let values)? = try? JSONValue.parse(Array((r[9] ?? "[]").utf8)) {
                closed = values.compactMap { if case .number(let text) = $0 { WideDecimal(text)?.units } else { nil } }
            }
            let gross = money(r[5]), charges = money(r[6])
            // Rows written before the peak was stored: the peak of the closed executions' running sum.
            var running: Int128 = 0, peak: Int128 = 0
            for pnl in closed { running += pnl; peak = max(peak, running) }
            return (user, StrategyDay(restoring: strategy, day: day, trades: Int(r[2] ?? "0") ?? 0, winning: Int(r[3] ?? "0") ?? 0,
                                      losing: Int(r[4] ?? "0") ?? 0, grossPnL: gross, charges: charges, maxDrawdown: money(r[7]),
                                      peak: r[8].map { money($0) } ?? peak, closedPnLs: closed))
        }
    }
}
