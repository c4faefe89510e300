public import Config
import Foundation
public import Storage
public import TradingCore

/// One backtest as `algotrader replay` runs it: the strategies resolved from the catalog, a
/// `backtest_runs` record opened for each, the stored ticks replayed through the live pipeline
/// and a paper desk (`ReplayEngine`), and the records completed (or marked failed with the cause).
public struct Backtest {
    /// A strategy to replay, with the instrument it trades (the first, for an `external` one:
    /// the run's `symbol` and `exchange`; `instruments` names them all), every instrument it
    /// receives, and the bar intervals it asks for.
    public struct Entry: Sendable {
        public let row: StrategyRow
        public let symbol: String, exchange: String
        public let instruments: [(symbol: String, exchange: String)]
        public let barIntervals: Set<BarInterval>
        /// An `external` strategy's declaration.
        let external: ExternalStrategyConfig?
    }

    /// One strategy's results.
    public struct Result {
        public let entry: Entry
        public let runID: String
        public let figures: BacktestFigures
        public let days: [StrategyDay]
        public let halts: [BacktestHalt]
        public let curve: [EquityPoint]
        /// The executions, and each instrument's price per minute.
        public let fills: [BacktestFill]
        public let prices: [String: [PricePoint]]
    }

    /// What a run replayed: stored ticks, or (when the range holds none) stored bars as ticks.
    public enum Data: Sendable, Equatable {
        case ticks
        case bars([String: BarInterval])

        /// `ticks`, or `1min bars` (`1min+5min bars` when instruments differ).
        public var text: String {
            switch self {
            case .ticks: "ticks"
            case .bars(let chosen): Set(chosen.values).sorted().map(\.rawValue).joined(separator: "+") + " bars"
            }
        }
    }

    /// Why a backtest cannot run: a message for the operator (the command line's exit 64), or a
    /// failure during the run (exit 69).
    public struct Problem: Error, CustomStringConvertible {
        public let message: String
        public let duringRun: Bool
        public var description: String { message }
    }

    public let config: EngineConfig
    public let entries: [Entry]
    public let from: Timestamp, to: Timestamp
    /// `--run`: the command of the process an `external` strategy is replayed with.
    public let command: String?

    /// Resolves each of `names` (a strategy's id or name, active or not) to a runnable strategy
    /// with `parameterOverrides` (a JSON object) applied; a name that is unknown, ambiguous,
    /// repeated or not runnable is a problem naming it.
    /// `command` (`--run`) replays the one `external` strategy named with that process, in lock step.
    public init(config: EngineConfig, names: [String], parameterOverrides: String, from: Timestamp, to: Timestamp,
                command: String? = nil) throws {
        if command != nil && names.count != 1 {
            throw Problem(message: "--run replays one strategy (an external one): give one --strategy", duringRun: false)
        }
        let catalog = StrategyCatalog(connectionString: config.databaseURL)
        defer { catalog.close() }
        let calendar = SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes)
        var entries: [Entry] = []
        for name in names {
            let rows = try catalog.load(only: name, parameterOverrides: parameterOverrides)
            guard !rows.isEmpty else { throw Problem(message: "no strategy '\(name)'", duringRun: false) }
            guard rows.count == 1, let row = rows.first else {
                throw Problem(message: "strategy name '\(name)' is ambiguous: use its id (\(rows.map(\.identity.strategyID).joined(separator: ", ")))",
                              duringRun: false)
            }
            if let problem = row.problem { throw Problem(message: "strategy \(row.identity.name): \(problem)", duringRun: false) }
            guard !entries.contains(where: { $0.row.identity.strategyID == row.identity.strategyID }) else {
                throw Problem(message: "strategy \(row.identity.name) is given twice", duringRun: false)
            }
            if row.type == ExternalStrategyConfig.type {
                guard command != nil else {
                    throw Problem(message: "strategy \(row.identity.name) is external (run by a process of its own): replay it with --run \"COMMAND\"",
                                  duringRun: false)
                }
                let declared: ExternalStrategyConfig
                do { declared = try ExternalStrategyConfig(parameters: row.parameters) } catch {
                    throw Problem(message: "strategy \(row.identity.name): \(error)", duringRun: false)
                }
                guard let first = declared.instruments.first else {
                    throw Problem(message: "strategy \(row.identity.name) declares no instruments", duringRun: false)
                }
                entries.append(Entry(row: row, symbol: first.symbol, exchange: first.exchange,
                                     instruments: declared.instruments.map { ($0.symbol, $0.exchange) }, barIntervals: declared.intervals,
                                     external: declared))
                continue
            }
            if command != nil {
                throw Problem(message: "--run replays an external strategy; \(row.identity.name) is of the built-in type \(row.type): replay it without --run",
                              duringRun: false)
            }
            let made: any TradingStrategy
            do {
                made = try StrategyFactory.make(type: row.type, identity: row.identity, parameters: row.parameters, calendar: calendar)
            } catch {
                throw Problem(message: "strategy \(row.identity.name): \(error)", duringRun: false)
            }
            entries.append(Entry(row: row, symbol: made.symbol, exchange: made.exchange, instruments: [(made.symbol, made.exchange)],
                                 barIntervals: made.barIntervals, external: nil))
        }
        self.command = command
        self.config = config
        self.entries = entries
        self.from = from
        self.to = to
    }

    /// Every instrument replayed, as `EXCHANGE:SYMBOL`, sorted.
    public var instruments: [String] {
        Array(Set(entries.flatMap { $0.instruments.map { BacktestLedger.key($0.symbol, $0.exchange) } })).sorted()
    }

    /// What the range holds for the run: its ticks, or else the bars it can replay on (a range
    /// with neither, or with bars the strategies cannot be fed from, is a problem), and how
    /// many ticks that makes.
    func data(db: DatabaseConnection) throws -> (data: Data, ticks: Int, note: String?) {
        var unique: [(symbol: String, exchange: String)] = []
        var needs: [String: Set<BarInterval>] = [:]
        for e in entries {
            for i in e.instruments {
                let key = BacktestLedger.key(i.symbol, i.exchange)
                if needs[key] == nil { unique.append(i) }
                needs[key, default: []].formUnion(e.barIntervals)
            }
        }
        let ticks = try TickHistory.count(db, instruments: unique, from: from, to: to)
        if ticks > 0 {
            // Ticks win for the whole run; say so when bars were stored where the ticks are not
            // (a year of imported bars and the last 30 days of live ticks replays those days).
            guard let span = try TickHistory.span(db, instruments: unique, from: from, to: to) else { return (.ticks, ticks, nil) }
            let outside = try BarHistory.outside(db, instruments: unique, from: from, to: to, first: span.first, last: span.last)
            guard outside > 0 else { return (.ticks, ticks, nil) }
            return (.ticks, ticks, "note: the range holds ticks from \(span.first) to \(span.last), so the replay is of ticks only; "
                    + "\(outside) stored bar\(outside == 1 ? "" : "s") outside that span \(outside == 1 ? "is" : "are") not replayed (a range without ticks replays on bars)")
        }
        var stored: [String: [BarInterval: Int]] = [:]
        for row in try BarHistory.available(db, instruments: unique, from: from, to: to) {
            stored[BacktestLedger.key(row.symbol, row.exchange), default: [:]][row.interval] = row.count
        }
        guard !stored.isEmpty else {
            throw Problem(message: "no ticks or bars of \(instruments.joined(separator: ", ")) from \(from) to \(to): the range is empty "
                          + "(downloaded history is loaded with algotrader history import FILE)", duringRun: false)
        }
        var chosen: [String: BarInterval] = [:]
        var count = 0
        var missing: [String] = []
        for key in instruments {
            switch BarReplayPlan.choose(needs: needs[key] ?? [], stored: Set((stored[key] ?? [:]).keys), instrument: key) {
            case .bars(let interval):
                chosen[key] = interval
                count += 4 * (stored[key]?[interval] ?? 0)
            case .missing(let why):
                missing.append(why)
            }
        }
        guard missing.isEmpty else {
            throw Problem(message: "no ticks from \(from) to \(to), and a replay on bars cannot run: \(missing.joined(separator: "; "))", duringRun: false)
        }
        return (.bars(chosen), count, nil)
    }

    /// Runs it: `started` is told how many ticks the range holds (a range without any is a
    /// problem), `progress` how many were replayed so far. Returns each strategy's results
    /// (in the order named), the ticks replayed, and what they were.
    public func run(db: DatabaseConnection, parameterOverrides: String, speed: String, factor: Double?, started: (Int) -> Void,
                    progress: (Int) -> Void) throws -> (results: [Result], ticks: Int, data: Data, note: String?) {
        let (data, total, note) = try self.data(db: db)
        started(total)
        var runIDs: [String: String] = [:]
        for e in entries {
            runIDs[e.row.identity.strategyID] = try BacktestStore.open(
                db, strategyID: e.row.identity.strategyID, parameterOverrides: parameterOverrides, symbol: e.symbol, exchange: e.exchange,
                instruments: e.instruments.map { BacktestLedger.key($0.symbol, $0.exchange) }, data: data.text, from: from, to: to, speed: speed)
        }
        let engine: ReplayEngine
        do {
            var process: LockStepProcess?
            if let command, let e = entries.first, let declared = e.external {
                LockStepProcess.interruptOnSignals()
                process = try LockStepProcess(command: command, entry: StrategyServer.Entry(identity: e.row.identity, config: declared,
                                                                                           parameters: e.row.parameters, tokenHash: nil))
            }
            engine = try ReplayEngine(config: config, strategies: entries.map { ($0.row, $0.instruments) }, process: process)
            var bars: [(symbol: String, exchange: String, interval: BarInterval)]?
            if case .bars(let chosen) = data {
                bars = entries.flatMap(\.instruments).compactMap { i in chosen[BacktestLedger.key(i.symbol, i.exchange)].map { (i.symbol, i.exchange, $0) } }
            }
            try engine.run(db: db, from: from, to: to, factor: factor, bars: bars, progress: progress)
        } catch {
            for runID in runIDs.values { try? BacktestStore.fail(db, runID: runID, error: "\(error)") }
            throw Problem(message: "replay failed: \(error)", duringRun: true)
        }
        var results: [Result] = []
        for e in entries {
            let strategyID = e.row.identity.strategyID
            guard var ledger = engine.ledgers[strategyID], let runID = runIDs[strategyID] else { continue }
            let figures = ledger.finish()
            try BacktestStore.complete(db, runID: runID, figures: figures, orders: ledger.orders, days: ledger.dailyPerformance)
            results.append(Result(entry: e, runID: runID, figures: figures, days: ledger.dailyPerformance, halts: ledger.halts, curve: ledger.curve,
                                  fills: ledger.fills, prices: ledger.prices))
        }
        return (results, engine.ticks, data, note)
    }
}
