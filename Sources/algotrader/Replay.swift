import ArgumentParser
import Config
import Dispatch
import Engine
import Foundation
import Logging
import Storage
import Synchronization
import TradingCore

/// `algotrader replay`: one strategy, or several on one desk, over stored ticks through the live
/// pipeline (bars, indicators, the strategies, risk and the market rules, the paper simulator,
/// positions), into a `backtest_runs` record per strategy and nowhere else. docs/strategies.md,
/// "Replay and backtests".
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
    @Option(help: "Draw the equity curve as PNG here, with gnuplot (one strategy).") var equityPng: String?
    @Option(help: "Progress bar: auto (on a terminal), always, never.") var progress: ProgressMode = .auto

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
        if strategy.count > 1 && (equityCsv != nil || equityPng != nil) {
            throw Admin.fail("--equity-csv and --equity-png draw one strategy's curve: give one --strategy")
        }
        if equityPng != nil, Self.gnuplot() == nil {
            throw Admin.fail("--equity-png needs gnuplot (Debian: apt-get install gnuplot-nox)", status: ExitStatus.unavailable)
        }
        let config = try Admin.config(options)
        let db = try Admin.connect(config)
        defer { db.close() }

        let catalog = StrategyCatalog(connectionString: config.databaseURL)
        defer { catalog.close() }
        let calendar = SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes)
        var strategies: [(row: StrategyRow, symbol: String, exchange: String)] = []
        for name in strategy {
            let rows = try catalog.load(only: name, parameterOverrides: params ?? "{}")
            guard !rows.isEmpty else { throw Admin.fail("no strategy '\(name)'") }
            guard rows.count == 1, let row = rows.first else {
                throw Admin.fail("strategy name '\(name)' is ambiguous: use its id (\(rows.map(\.identity.strategyID).joined(separator: ", ")))")
            }
            if let problem = row.problem { throw Admin.fail("strategy \(row.identity.name): \(problem)") }
            guard !strategies.contains(where: { $0.row.identity.strategyID == row.identity.strategyID }) else {
                throw Admin.fail("strategy \(row.identity.name) is given twice")
            }
            let made: any TradingStrategy
            do {
                made = try StrategyFactory.make(type: row.type, identity: row.identity, parameters: row.parameters, calendar: calendar)
            } catch {
                throw Admin.fail("strategy \(row.identity.name): \(error)")
            }
            strategies.append((row, made.symbol, made.exchange))
        }
        let instruments = Array(Set(strategies.map { "\($0.symbol)@\($0.exchange)" })).sorted()
        let total = try TickHistory.count(db, instruments: strategies.map { ($0.symbol, $0.exchange) }, from: start, to: end)
        guard total > 0 else { throw Admin.fail("no ticks of \(instruments.joined(separator: ", ")) from \(start) to \(end): the range is empty") }

        var runIDs: [String: String] = [:]
        for s in strategies {
            runIDs[s.row.identity.strategyID] = try BacktestStore.open(db, strategyID: s.row.identity.strategyID, parameterOverrides: params ?? "{}",
                                                                       symbol: s.symbol, exchange: s.exchange, from: start, to: end, speed: speed)
        }

        let engine = try ReplayEngine(config: config, strategies: strategies)
        var bar = ProgressBar(total: total, unit: "ticks", mode: progress)
        let began = monotonicNanoseconds()
        do {
            try engine.run(db: db, from: start, to: end, factor: factor) { done in bar.update(done) }
        } catch {
            for runID in runIDs.values {
                try? BacktestStore.fail(db, runID: runID, error: "\(error)")
            }
            throw Admin.fail("replay failed: \(error)", status: ExitStatus.unavailable)
        }
        bar.finish(engine.ticks)
        let seconds = Double(monotonicNanoseconds() - began) / 1e9
        var reports: [String] = []
        for s in strategies {
            let strategyID = s.row.identity.strategyID
            guard var ledger = engine.ledgers[strategyID], let runID = runIDs[strategyID] else { continue }
            let figures = ledger.finish()
            try BacktestStore.complete(db, runID: runID, figures: figures, orders: ledger.orders, days: ledger.dailyPerformance)
            if let equityCsv { try EquityCurve.writeCSV(ledger.curve, to: equityCsv) }
            if let equityPng {
                let csv = equityCsv ?? NSTemporaryDirectory() + "algotrader-equity-\(runID).csv"
                if equityCsv == nil { try EquityCurve.writeCSV(ledger.curve, to: csv) }
                defer { if equityCsv == nil { try? FileManager.default.removeItem(atPath: csv) } }
                try EquityCurve.plot(csv: csv, png: equityPng, title: "\(s.row.identity.name) \(s.symbol)@\(s.exchange)")
            }
            reports.append(BacktestReport.report(runID: runID, name: s.row.identity.name, symbol: s.symbol, exchange: s.exchange, from: start,
                                                 to: end, figures: figures, days: ledger.dailyPerformance, halts: ledger.halts,
                                                 seconds: seconds))
        }
        if strategies.count > 1 {
            reports.append("replayed \(engine.ticks) ticks of \(instruments.count) instrument(s) for \(strategies.count) strategies on one desk in \(String(format: "%.2f", seconds)) s")
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

    /// RFC 3339, or `YYYY-MM-DD` as that day's IST midnight.
    static func time(_ text: String) -> Timestamp? {
        if let t = Timestamp.parseRFC3339(text) { return t }
        guard let day = InstrumentCSVReader.date(text) else { return nil }
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
