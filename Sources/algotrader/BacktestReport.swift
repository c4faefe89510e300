import Engine
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

    /// The days printed one per line, at most (a longer run's days are in backtest_performance).
    static let maxDayLines = 31
    /// The executions printed, at most (all of them: --trades-csv).
    static let maxTradeLines = 20

    static func report(_ result: Backtest.Result, from: Timestamp, to: Timestamp, data: Backtest.Data, seconds: Double) -> String {
        let f = result.figures, days = result.days, e = result.entry
        let closed = f.winning + f.losing
        var dayLine = "\(days.count) with fills"
        if days.count > 1, let best = days.map(\.totalPnL).max(), let worst = days.map(\.totalPnL).min() {
            dayLine += " (best \(rupees(best)), worst \(rupees(worst)); backtest_performance)"
        }
        let instruments = e.instruments.map { BacktestLedger.key($0.symbol, $0.exchange) }.joined(separator: ", ")
        let rate = "in \(String(format: "%.2f", seconds)) s (\(ProgressBar.grouped(Int(Double(f.ticks) / max(seconds, 1e-9)))) ticks/s)"
        let replayed: String = switch data {
        case .ticks: "ticks           \(f.ticks) \(rate)"
        case .bars: "bars            \(f.ticks / 4) \(data.text), 4 ticks each (the range holds no ticks) \(rate)"
        }
        var text = """
            backtest \(result.runID)
              strategy        \(e.row.identity.name) on \(instruments), \(ist(from)) to \(ist(to)) IST
              \(replayed)
              orders          \(f.orders) (\(f.rejected) rejected), \(f.fills) fills, \(closed) closing trades
              gross P&L       \(rupees(f.grossPnL))
              charges         \(rupees(f.charges))
              net P&L         \(rupees(f.netPnL)) realized after charges; unrealized \(rupees(f.unrealized)) on \(f.endPosition) open
              win rate        \(f.winRate.map { String(format: "%.2f%%", $0) } ?? "-") (\(f.winning) won, \(f.losing) lost)
              Sharpe ratio    \(f.sharpeRatio.map { String(format: "%.4f", $0) } ?? "-") (per trade)
              max drawdown    \(rupees(f.maxDrawdown))
              exposure        \(String(format: "%.2f%%", f.exposurePercent)) of the time in a position
              days            \(dayLine)
            """ + result.halts.map {
                // The loss a halt quotes is the day's at that moment; the figures above go on to
                // the end of the run (the exits after it included).
                "\n  halted          \(ist($0.time)) IST: \($0.reason)"
            }.joined()
        if !days.isEmpty && days.count <= maxDayLines {
            text += "\n  per day (IST)   date        trades  won  lost        gross      charges          net"
            for d in days {
                let (y, m, dd) = CivilCalendar.civil(fromDays: d.day)
                text += "\n                  " + String(format: "%04d-%02d-%02d", Int(y), Int(m), Int(dd))
                    + String(d.trades).leftPadded(8) + String(d.winning).leftPadded(5) + String(d.losing).leftPadded(6)
                    + rupees(d.grossPnL).leftPadded(13) + rupees(d.charges).leftPadded(13) + rupees(d.totalPnL).leftPadded(13)
            }
        }
        if !result.fills.isEmpty {
            text += "\n  trades (IST)    time                 side   quantity         price     realized  position"
            for fill in result.fills.prefix(maxTradeLines) {
                text += "\n                  " + ist(fill.time) + "  " + fill.side.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0)
                    + String(fill.quantity).leftPadded(11) + fill.price.description.leftPadded(14) + rupees(fill.realized).leftPadded(13)
                    + String(fill.position).leftPadded(10) + (e.instruments.count > 1 ? "  " + BacktestLedger.key(fill.symbol, fill.exchange) : "")
            }
            if result.fills.count > maxTradeLines {
                text += "\n                  ... \(result.fills.count - maxTradeLines) more (--trades-csv FILE writes them all)"
            }
        }
        return text
    }
}
