import ArgumentParser
import Config
import Dispatch
import Engine
import Foundation
import Storage
import TradingCore

/// `algotrader replay`: one strategy, or several on one desk, over stored ticks (or, where the
/// range holds none, stored bars) through the live pipeline (bars, indicators, the strategies,
/// risk and the market rules, the paper simulator, positions), into a `backtest_runs` record
/// per strategy and nowhere else. docs/strategies.md, "Replay and backtests".
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay stored ticks through a strategy and report its figures (a backtest).")

    @OptionGroup var options: ConfigOptions
    @Option(help: ArgumentHelp("The strategy: its id or name (active or not). Repeat it to replay several together on one desk, as live trading runs them (a user's risk limits span all of that user's strategies).",
                               valueName: "id or name"))
    var strategy: [String] = []
    @Option(help: "Start, inclusive: RFC 3339 (2026-11-24T09:15:00+05:30), or a date (IST midnight).") var from: String
    @Option(help: "End, exclusive: as --from.") var to: String
    @Option(help: "max (as fast as possible), realtime, or a factor of real time (10 = ten times faster).") var speed: String = "max"
    @Option(help: "Parameters overriding the stored ones, a JSON object (every replayed strategy's).") var params: String?
    @Option(help: "Write the equity curve as CSV here (one strategy).") var equityCsv: String?
    @Option(help: "Write the trade list (every execution, with the P&L it realized) as CSV here (one strategy).") var tradesCsv: String?
    @Option(help: "Draw a chart as PNG here, with gnuplot: each instrument's price with the buys and sells, and the equity curve (one strategy).")
    var equityPng: String?
    @Option(help: "Progress bar: auto (on a terminal), always, never.") var progress: ProgressMode = .auto
    @Option(name: .customLong("run"), help: ArgumentHelp("Replay an external strategy with this program (run by /bin/sh), driven in lock step: each tick, bar, order and fill is answered before the next. It gets only PATH, HOME, LANG and the SDK's ALGOTRADER_STRATEGY_ENDPOINT (its own), ALGOTRADER_STRATEGY and ALGOTRADER_STRATEGY_TOKEN (a one-off secret).",
                               valueName: "command"))
    var process: String? = nil

    func run() throws {
        guard !strategy.isEmpty else { throw Admin.fail("--strategy is required: the id or name of the strategy to replay") }
        let factor = try Self.speedFactor(speed)
        guard let start = Self.time(from) else { throw Admin.fail("--from: '\(from)' is not a time (RFC 3339) or a date (YYYY-MM-DD)") }
        guard let end = Self.time(to) else { throw Admin.fail("--to: '\(to)' is not a time (RFC 3339) or a date (YYYY-MM-DD)") }
        guard start < end else { throw Admin.fail("--from \(from) is not before --to \(to): the range is empty") }
        if let params {
            guard let object = try? JSONSerialization.jsonObject(with: Data(params.utf8)), object is [String: Any] else {
                throw Admin.fail("--params must be a JSON object, got \(params)")
            }
        }
        if strategy.count > 1 && (equityCsv != nil || equityPng != nil || tradesCsv != nil) {
            throw Admin.fail("--equity-csv, --trades-csv and --equity-png are of one strategy: give one --strategy")
        }
        if equityPng != nil, Self.gnuplot() == nil {
            throw Admin.fail("--equity-png needs gnuplot (Debian: apt-get install gnuplot-nox)", status: ExitStatus.unavailable)
        }
        let config = try Admin.config(options)
        let db = try Admin.connect(config)
        defer { db.close() }
        let backtest: Backtest
        let outcome: (results: [Backtest.Result], ticks: Int, data: Backtest.Data, note: String?)
        var bar: ProgressBar?
        let began = monotonicNanoseconds()
        do {
            backtest = try Backtest(config: config, names: strategy, parameterOverrides: params ?? "{}", from: start, to: end, command: process)
            outcome = try backtest.run(db: db, parameterOverrides: params ?? "{}", speed: speed, factor: factor,
                                       started: { bar = ProgressBar(total: $0, unit: "ticks", mode: progress) },
                                       progress: { bar?.update($0) })
        } catch let problem as Backtest.Problem {
            throw Admin.fail(problem.message, status: problem.duringRun ? ExitStatus.unavailable : ExitStatus.usage)
        }
        bar?.finish(outcome.ticks)
        if let note = outcome.note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        let seconds = Double(monotonicNanoseconds() - began) / 1e9
        var reports: [String] = []
        for result in outcome.results {
            let e = result.entry
            if let equityCsv { try EquityCurve.writeCSV(result.curve, to: equityCsv) }
            if let tradesCsv { try EquityCurve.writeTrades(result.fills, to: tradesCsv) }
            if let equityPng {
                try EquityCurve.plot(result, png: equityPng, title: "\(e.row.identity.name): backtest \(result.runID)", sessions: config.tradingCalendar.sessions)
            }
            reports.append(BacktestReport.report(result, from: start, to: end, data: outcome.data, seconds: seconds))
        }
        if outcome.results.count > 1 {
            reports.append("replayed \(outcome.ticks) ticks of \(backtest.instruments.count) instrument(s) for \(outcome.results.count) strategies on one desk in \(String(format: "%.2f", seconds)) s")
        }
        print(reports.joined(separator: "\n"))
    }

    /// `max` -> nil (no waiting); `realtime` -> 1; a positive number -> itself.
    static func speedFactor(_ text: String) throws -> Double? {
        switch text {
        case "max": return nil
        case "realtime": return 1
        default:
            guard let factor = Double(text), factor > 0, factor.isFinite else {
                throw Admin.fail("--speed must be max, realtime or a positive factor, got '\(text)'")
            }
            return factor
        }
    }

    /// RFC 3339, or `YYYY-MM-DD` as that day's IST midnight (the years a history row may have:
    /// a date past 2262 trapped, as it does not fit a Timestamp).
    static func time(_ text: String) -> Timestamp? {
        if let t = Timestamp.parseRFC3339(text) { return t }
        guard let day = HistoryCSVReader.day(text) else { return nil }
        return TradingCalendar.instant(day: day, minutes: 0)
    }

    static func gnuplot() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
