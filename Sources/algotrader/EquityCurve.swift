import Engine
import Foundation
import TradingCore

/// A backtest's exports: the equity curve and the trade list as CSV, and a chart (PNG, drawn by
/// gnuplot) with a price panel per instrument, its buys and sells marked, above the equity.
enum EquityCurve {
    static func writeCSV(_ curve: [EquityPoint], to path: String) throws {
        var text = "time,time_ist,equity,realized,unrealized,position\n"
        for p in curve {
            text += "\(p.time),\(BacktestReport.ist(p.time)),\(BacktestReport.rupees(p.equity)),\(BacktestReport.rupees(p.realized)),"
                + "\(BacktestReport.rupees(p.unrealized)),\(p.position)\n"
        }
        try write(text, to: path, option: "--equity-csv")
    }

    /// One row per execution: `realized` is the gross P&L it closed (0 when it opened or added),
    /// `position` the instrument's position after it. Charges are per order, in backtest_trades.
    static func writeTrades(_ fills: [BacktestFill], to path: String) throws {
        var text = "time,time_ist,order_id,symbol,exchange,side,quantity,price,realized,position\n"
        for f in fills {
            text += "\(f.time),\(BacktestReport.ist(f.time)),\(f.orderID),\(csv(f.symbol)),\(csv(f.exchange)),\(f.side.rawValue),\(f.quantity),"
                + "\(f.price),\(BacktestReport.rupees(f.realized)),\(f.position)\n"
        }
        try write(text, to: path, option: "--trades-csv")
    }

    /// A field quoted when it holds a comma or a quote (symbols never should; names might).
    private static func csv(_ text: String) -> String {
        text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    private static func write(_ text: String, to path: String, option: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw Admin.fail("\(option): cannot write '\(path)': \(error.localizedDescription)")
        }
    }

    /// The instruments drawn with a price panel each, at most.
    static let maxPricePanels = 4

    /// Draws `result` into `png`: a price panel per instrument (the first four) with buys (green
    /// triangles up) and sells (red triangles down) at their fill prices, and the equity (net of
    /// charges) and realized P&L below, on one time axis of session time in Asia/Kolkata
    /// (``ChartAxis``: nights and weekends left out, so a week of sessions fills the width).
    static func plot(_ result: Backtest.Result, png: String, title: String, sessions: [String: TradingCalendar.Session]) throws {
        guard let gnuplot = Replay.gnuplot() else { throw Admin.fail("--equity-png needs gnuplot", status: ExitStatus.unavailable) }
        let dir = NSTemporaryDirectory() + "algotrader-chart-\(result.runID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let instruments = Array(result.entry.instruments.map { BacktestLedger.key($0.symbol, $0.exchange) }.prefix(maxPricePanels))
        var times = result.curve.map(\.time)
        for key in instruments { times += (result.prices[key] ?? []).map(\.time) }
        // The axis spans every instrument's session (NSE with MCX: 09:00-23:30).
        let own = Set(result.entry.instruments.map(\.exchange)).map { sessions[$0] ?? TradingCalendar.Session(open: 555, close: 930) }
        let session = TradingCalendar.Session(open: own.map(\.open).min() ?? 555, close: own.map(\.close).max() ?? 930)
        let axis = ChartAxis(times: times, session: session)
        try write("x,equity,realized\n" + result.curve.map { "\(axis.x($0.time)),\(BacktestReport.rupees($0.equity)),\(BacktestReport.rupees($0.realized))\n" }.joined(),
                  to: dir + "/equity.csv", option: "--equity-png")
        for (i, key) in instruments.enumerated() {
            try write("x,price\n" + (result.prices[key] ?? []).map { "\(axis.x($0.time)),\($0.price)\n" }.joined(), to: "\(dir)/price\(i).csv", option: "--equity-png")
            for side in [OrderSide.buy, .sell] {
                let fills = result.fills.filter { BacktestLedger.key($0.symbol, $0.exchange) == key && $0.side == side }
                try write("x,price\n" + fills.map { "\(axis.x($0.time)),\($0.price)\n" }.joined(), to: "\(dir)/\(side.rawValue)\(i).csv", option: "--equity-png")
            }
        }
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        // Double quotes, where a newline is "\n" (labels of two lines).
        func gnuplotString(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
        let equityShare = instruments.isEmpty ? 0.85 : 0.3
        let priceShare = (0.85 - equityShare) / Double(max(instruments.count, 1))
        var script = """
            set terminal pngcairo size 1200,\(300 + 200 * (instruments.count + 1)) noenhanced
            set output \(quoted(png))
            set datafile separator ','
            set grid
            set lmargin at screen 0.08
            set rmargin at screen 0.97
            set key top left opaque
            set xrange [0:\(axis.width)]
            set xtics (\(axis.tics.map { "\"\" \($0.x)" }.joined(separator: ", ")))
            \(axis.dayBreaks.map { "set arrow from \($0), graph 0 to \($0), graph 1 nohead linecolor rgb '#999999' dashtype 2" }.joined(separator: "\n"))
            set multiplot title \(quoted(title + " (times in Asia/Kolkata; nights and weekends left out)"))

            """
        var top = 0.92
        for (i, key) in instruments.enumerated() {
            let hasBuys = result.fills.contains { BacktestLedger.key($0.symbol, $0.exchange) == key && $0.side == .buy }
            let hasSells = result.fills.contains { BacktestLedger.key($0.symbol, $0.exchange) == key && $0.side == .sell }
            var plots = ["\(quoted("\(dir)/price\(i).csv")) using 1:2 every ::1 with lines linecolor rgb '#4a6fa5' title \(quoted(key))"]
            if hasBuys {
                plots.append("\(quoted("\(dir)/BUY\(i).csv")) using 1:2 every ::1 with points pointtype 9 pointsize 1.6 linecolor rgb '#1a9850' title 'buy'")
            }
            if hasSells {
                plots.append("\(quoted("\(dir)/SELL\(i).csv")) using 1:2 every ::1 with points pointtype 11 pointsize 1.6 linecolor rgb '#d73027' title 'sell'")
            }
            script += """
                set tmargin at screen \(top)
                set bmargin at screen \(top - priceShare + 0.01)
                set ylabel 'price (Rs)'
                plot \(plots.joined(separator: ", "))

                """
            top -= priceShare
        }
        script += """
            set tmargin at screen \(top)
            set bmargin at screen 0.12
            set xtics (\(axis.tics.map { "\(gnuplotString($0.label)) \($0.x)" }.joined(separator: ", ")))
            set ylabel 'P&L net of charges (Rs)'
            plot \(quoted(dir + "/equity.csv")) using 1:2 every ::1 with lines linewidth 2 title 'equity', '' using 1:3 every ::1 with lines title 'realized'
            unset multiplot

            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gnuplot)
        let input = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        try input.fileHandleForWriting.close()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Admin.fail("gnuplot could not draw '\(png)': \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
