public import Config
import Foundation
public import Storage
public import TradingCore

/// One backtest as `algotrader replay` runs it: the strategies resolved from the catalog, a
/// `backtest_runs` record opened for each, the stored ticks replayed through the live pipeline
/// and a paper desk (`ReplayEngine`), and the records completed (or marked failed with the cause).
public struct Backtest {
    /// A strategy to replay, with the instrument it trades (the first, for an `external` one:
    /// the run's record names it) and every instrument it receives.
    public struct Entry: Sendable {
        public let row: StrategyRow
        public let symbol: String, exchange: String
        public let instruments: [(symbol: String, exchange: String)]
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
                guard declared.instruments.count == 1, let first = declared.instruments.first else {
                    throw Problem(message: "strategy \(row.identity.name) declares \(declared.instruments.count) instruments: a replay with --run takes a strategy of one instrument",
                                  duringRun: false)
                }
                entries.append(Entry(row: row, symbol: first.symbol, exchange: first.exchange,
                                     instruments: declared.instruments.map { ($0.symbol, $0.exchange) }, external: declared))
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
            entries.append(Entry(row: row, symbol: made.symbol, exchange: made.exchange, instruments: [(made.symbol, made.exchange)], external: nil))
        }
        self.command = command
        self.config = config
        self.entries = entries
        self.from = from
        self.to = to
    }

    /// The instruments replayed, as `SYMBOL@EXCHANGE`, sorted.
    public var instruments: [String] { Array(Set(entries.map { "\($0.symbol)@\($0.exchange)" })).sorted() }

    /// Runs it: `started` is told how many ticks the range holds (a range without any is a
    /// problem), `progress` how many were replayed so far. Returns each strategy's results
    /// (in the order named) and the ticks replayed.
    public func run(db: DatabaseConnection, parameterOverrides: String, speed: String, factor: Double?, started: (Int) -> Void,
                    progress: (Int) -> Void) throws -> (results: [Result], ticks: Int) {
        let total = try TickHistory.count(db, instruments: entries.flatMap(\.instruments), from: from, to: to)
        guard total > 0 else {
            throw Problem(message: "no ticks of \(instruments.joined(separator: ", ")) from \(from) to \(to): the range is empty", duringRun: false)
        }
        started(total)
        var runIDs: [String: String] = [:]
        for e in entries {
            runIDs[e.row.identity.strategyID] = try BacktestStore.open(db, strategyID: e.row.identity.strategyID, parameterOverrides: parameterOverrides,
                                                                       symbol: e.symbol, exchange: e.exchange, from: from, to: to, speed: speed)
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
            try engine.run(db: db, from: from, to: to, factor: factor, progress: progress)
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
            results.append(Result(entry: e, runID: runID, figures: figures, days: ledger.dailyPerformance, halts: ledger.halts, curve: ledger.curve))
        }
        return (results, engine.ticks)
    }
}
