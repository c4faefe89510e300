import Foundation
import Storage
import TradingCore

/// A backtest run's results as `replay` prints them (Storage's `BacktestStore` keeps them).
enum BacktestReport {
    static func money(_ units: Int128) -> String { MoneyText.exact(units) }
    static func rupees(_ units: Int128) -> String { MoneyText.rupees(units) }

    /// `2026-11-24 09:15:00` in Asia/Kolkata time.
    static func ist(_ time: Timestamp) -> String {
        let shifted = Timestamp(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch + SessionCalendar.istOffsetSeconds * 1_000_000_000)
        return String(shifted.description.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    static func report(runID: String, name: String, symbol: String, exchange: String, from: Timestamp, to: Timestamp,
                       figures f: BacktestFigures, days: [StrategyDay], halts: [BacktestHalt] = [], seconds: Double) -> String {
        let closed = f.winning + f.losing
        var dayLine = "\(days.count) with fills"
        if days.count > 1, let best = days.map(\.totalPnL).max(), let worst = days.map(\.totalPnL).min() {
            dayLine += " (best \(rupees(best)), worst \(rupees(worst)); backtest_performance)"
        }
        return """
            backtest \(runID)
              strategy        \(name) on \(symbol)@\(exchange), \(ist(from)) to \(ist(to)) IST
              ticks           \(f.ticks) in \(String(format: "%.2f", seconds)) s (\(ProgressBar.grouped(Int(Double(f.ticks) / max(seconds, 1e-9)))) ticks/s)
              orders          \(f.orders) (\(f.rejected) rejected), \(f.fills) fills, \(closed) closing trades
              gross P&L       \(rupees(f.grossPnL))
              charges         \(rupees(f.charges))
              net P&L         \(rupees(f.netPnL)) realized after charges; unrealized \(rupees(f.unrealized)) on \(f.endPosition) open
              win rate        \(f.winRate.map { String(format: "%.2f%%", $0) } ?? "-") (\(f.winning) won, \(f.losing) lost)
              Sharpe ratio    \(f.sharpeRatio.map { String(format: "%.4f", $0) } ?? "-") (per trade)
              max drawdown    \(rupees(f.maxDrawdown))
              exposure        \(String(format: "%.2f%%", f.exposurePercent)) of the time in a position
              days            \(dayLine)
            """ + halts.map {
                // The loss a halt quotes is the day's at that moment; the figures above go on to
                // the end of the run (the exits after it included).
                "\n  halted          \(ist($0.time)) IST: \($0.reason)"
            }.joined()
    }
}
