import ArgumentParser
import Config
import Dispatch
import Engine
import Foundation
import Logging
import Postgres
import Storage
import Synchronization
import TradingCore

/// `algotrader replay`: a strategy over stored ticks through the live pipeline (bars,
/// indicators, the strategy, risk and the market rules, the paper simulator, positions), into a
/// `backtest_runs` record and nowhere else. docs/strategies.md, "Replay and backtests".
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay stored ticks through a strategy and report its figures (a backtest).")

    @OptionGroup var options: ConfigOptions
    @Option(help: "The strategy: its id or name (active or not).") var strategy: String
    @Option(help: "Start, inclusive: RFC 3339 (2026-11-24T09:15:00+05:30), or a date (IST midnight).") var from: String
    @Option(help: "End, exclusive: as --from.") var to: String
    @Option(help: "max (as fast as possible), realtime, or a factor of real time (10 = ten times faster).") var speed: String = "max"
    @Option(help: "Parameters overriding the stored ones, a JSON object.") var params: String?
    @Option(help: "Write the equity curve as CSV here.") var equityCsv: String?
    @Option(help: "Draw the equity curve as PNG here (with gnuplot).") var equityPng: String?
    @Option(help: "Progress bar: auto (on a terminal), always, never.") var progress: ProgressMode = .auto

    func run() throws {
        let factor = try Self.speedFactor(speed)
        guard let start = Self.time(from) else { throw Admin.fail("--from: '\(from)' is not a time (RFC 3339) or a date (YYYY-MM-DD)") }
        guard let end = Self.time(to) else { throw Admin.fail("--to: '\(to)' is not a time (RFC 3339) or a date (YYYY-MM-DD)") }
        guard start < end else { throw Admin.fail("--from \(from) is not before --to \(to): the range is empty") }
        if let params {
            guard let object = try? JSONSerialization.jsonObject(with: Data(params.utf8)), object is [String: Any] else {
                throw Admin.fail("--params must be a JSON object, got \(params)")
            }
        }
        if equityPng != nil, Self.gnuplot() == nil {
            throw Admin.fail("--equity-png needs gnuplot (Debian: apt-get install gnuplot-nox)", status: ExitStatus.unavailable)
        }
        let config = try Admin.config(options)
        let db = try Admin.connect(config)
        defer { db.close() }

        let catalog = StrategyCatalog(connectionString: config.databaseURL)
        defer { catalog.close() }
        let rows = try catalog.load(only: strategy, parameterOverrides: params ?? "{}")
        guard !rows.isEmpty else { throw Admin.fail("no strategy '\(strategy)'") }
        guard rows.count == 1, let row = rows.first else {
            throw Admin.fail("strategy name '\(strategy)' is ambiguous: use its id (\(rows.map(\.identity.strategyID).joined(separator: ", ")))")
        }
        if let problem = row.problem { throw Admin.fail("strategy \(row.identity.name): \(problem)") }
        let calendar = SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes)
        let made: any TradingStrategy
        do {
            made = try StrategyFactory.make(type: row.type, identity: row.identity, parameters: row.parameters, calendar: calendar)
        } catch {
            throw Admin.fail("strategy \(row.identity.name): \(error)")
        }
        let symbol = made.symbol, exchange = made.exchange
        let range = [symbol, exchange, start.description, end.description]
        let total = Int(try db.query("""
            SELECT count(*) FROM market_data WHERE "interval" = 'tick' AND symbol = $1 AND exchange = $2
              AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
            """, range).scalar ?? "0") ?? 0
        guard total > 0 else { throw Admin.fail("no ticks of \(symbol)@\(exchange) from \(start) to \(end): the range is empty") }

        let runID = try db.query("""
            INSERT INTO backtest_runs (user_id, strategy_id, strategy_type, parameters, symbol, exchange, from_time, to_time, speed)
            SELECT user_id, strategy_id, strategy_type, parameters || $2::jsonb, $3, $4, $5::timestamptz, $6::timestamptz, $7
            FROM strategies WHERE strategy_id = $1::uuid RETURNING run_id::text
            """, [row.identity.strategyID, params ?? "{}", symbol, exchange, start.description, end.description, speed]).scalar!

        let engine = try ReplayEngine(config: config, row: row, db: db)
        var bar = ProgressBar(total: total, unit: "ticks", mode: progress)
        let began = monotonicNanoseconds()
        do {
            try engine.run(db: db, range: range, factor: factor) { done in bar.update(done) }
        } catch {
            _ = try? db.query("UPDATE backtest_runs SET status = 'failed', error = $2, finished_at = now() WHERE run_id = $1::uuid",
                              [runID, "\(error)"])
            throw Admin.fail("replay failed: \(error)", status: ExitStatus.unavailable)
        }
        bar.finish(engine.ledger.figures.ticks)
        let seconds = Double(monotonicNanoseconds() - began) / 1e9
        var ledger = engine.ledger
        let figures = ledger.finish()
        try BacktestRecord.store(db, runID: runID, figures: figures, orders: ledger.orders)
        if let equityCsv { try EquityCurve.writeCSV(ledger.curve, to: equityCsv) }
        if let equityPng {
            let csv = equityCsv ?? NSTemporaryDirectory() + "algotrader-equity-\(runID).csv"
            if equityCsv == nil { try EquityCurve.writeCSV(ledger.curve, to: csv) }
            defer { if equityCsv == nil { try? FileManager.default.removeItem(atPath: csv) } }
            try EquityCurve.plot(csv: csv, png: equityPng, title: "\(row.identity.name) \(symbol)@\(exchange)")
        }
        print(BacktestRecord.report(runID: runID, name: row.identity.name, symbol: symbol, exchange: exchange, from: start, to: end,
                                    figures: figures, seconds: seconds))
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

/// The pipeline's results during a replay: intents and fills are handed back synchronously
/// between batches, so the run is a pure function of the ticks.
final class ReplaySink: PipelineSink {
    let pending = Mutex<[OrderIntent]>([])
    let failure = Mutex<String?>(nil)
    func closedBars(_ bars: [ClosedBar]) {}
    func intents(_ intents: [OrderIntent]) { pending.withLock { $0 += intents } }
    func strategyFailed(_ identity: StrategyIdentity, error: String) { failure.withLock { $0 = error } }
    func processed(ticks: Int) {}
    func take() -> [OrderIntent] { pending.withLock { let out = $0; $0 = []; return out } }
}

/// The live components wired for one strategy: a one-shard ``StrategyPipeline`` and a paper
/// ``TradingDesk`` configured as `serve` configures it (risk, instruments, calendar, controls,
/// charges), with no database writes and no bus.
final class ReplayEngine {
    let pipeline: StrategyPipeline
    let sink = ReplaySink()
    var desk: TradingDesk
    var ledger = BacktestLedger()
    let strategyID: String

    init(config: EngineConfig, row: StrategyRow, db: PostgresConnection) throws {
        strategyID = row.identity.strategyID
        let calendar = SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes)
        var logger = Logger(label: "algotrader.replay")
        logger.logLevel = .error
        pipeline = StrategyPipeline(shardCount: 1, calendar: calendar, graceNanoseconds: Int64(config.barCloseGraceMilliseconds) * 1_000_000,
                                    sink: sink, logger: logger)
        pipeline.apply([StrategySpec(identity: row.identity, type: row.type, parameters: row.parameters)]) { spec in
            try StrategyFactory.make(type: spec.type, identity: spec.identity, parameters: spec.parameters, calendar: calendar)
        }
        pipeline.drain()
        desk = TradingDesk(ids: UUIDv7Generator(seed: 1))
        desk.riskSettings = try DeskState.riskSettings(config.databaseURL).filter { $0.key == row.identity.userID }
        desk.instruments = try DeskState.instruments(config.databaseURL)
        var trading = config.tradingCalendar
        trading.holidays = try DeskState.holidays(config.databaseURL)
        desk.calendar = trading
        desk.sessionActions = config.sessionActions
        desk.controls = config.orderControls
        desk.chargeSchedule = config.chargeSchedule
        desk.defaultProduct = config.defaultProduct
        desk.strategyPolicies[row.identity.strategyID] = try? StrategyOrderPolicy(parameters: row.parameters)
        desk.paperModel = config.paperModel
    }

    /// Streams the range in batches (a server-side cursor), each through the pipeline and then
    /// the desk, as the engine does: the desk sees the batch's ticks, then the intents they
    /// produced; fills go back to the strategy before the next batch.
    func run(db: PostgresConnection, range: [String], factor: Double?, progress: (Int) -> Void) throws {
        let batchSize = factor == nil ? 2_000 : 1
        var firstTickTime: Int64?
        let wallStart = monotonicNanoseconds()
        try db.transaction { conn in
            _ = try conn.query("""
                DECLARE replay_ticks NO SCROLL CURSOR FOR
                SELECT symbol, exchange, (extract(epoch FROM "timestamp") * 1000000)::bigint, close::text, volume, oi::text
                FROM market_data WHERE "interval" = 'tick' AND symbol = $1 AND exchange = $2
                  AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
                ORDER BY "timestamp", data_id
                """, range)
            while true {
                let rows = try conn.query("FETCH FORWARD \(factor == nil ? 20_000 : 1_000) FROM replay_ticks").rows
                if rows.isEmpty { break }
                var ticks: [Tick] = []
                ticks.reserveCapacity(rows.count)
                for r in rows {
                    guard let micros = r[2].flatMap({ Int64($0) }), let price = r[3].flatMap(FixedDecimal.init) else { continue }
                    ticks.append(Tick(symbol: r[0]!, exchange: r[1]!, timestamp: Timestamp(nanosecondsSinceEpoch: micros * 1_000), price: price,
                                      quantity: r[4].flatMap { Int64($0) } ?? 0, openInterest: r[5].flatMap(FixedDecimal.init)))
                }
                var index = 0
                while index < ticks.count {
                    // A batch spans at most 50 ms of exchange time (live, fills reach the strategy
                    // within milliseconds; a sparse feed so replays tick by tick) and batchSize ticks.
                    var stop = index + 1
                    let horizon = ticks[index].timestamp.nanosecondsSinceEpoch + 50_000_000
                    while stop < ticks.count && stop - index < batchSize && ticks[stop].timestamp.nanosecondsSinceEpoch <= horizon { stop += 1 }
                    let batch = Array(ticks[index..<stop])
                    index = stop
                    if let factor {
                        // Paced: wait until this tick's exchange time, scaled, has passed on the wall clock.
                        let first = firstTickTime ?? batch[0].timestamp.nanosecondsSinceEpoch
                        firstTickTime = first
                        let due = wallStart + UInt64(Double(batch[0].timestamp.nanosecondsSinceEpoch - first) / factor)
                        let now = monotonicNanoseconds()
                        if due > now { Thread.sleep(forTimeInterval: Double(due - now) / 1e9) }
                    }
                    try step(batch)
                    progress(ledger.figures.ticks)
                }
            }
            _ = try conn.execute("CLOSE replay_ticks")
        }
        pipeline.stop()
    }

    private func step(_ batch: [Tick]) throws {
        pipeline.submit(batch)
        pipeline.drain()
        if let failure = sink.failure.withLock({ $0 }) { throw ReplayFailure(message: "the strategy failed: \(failure)") }
        // The desk sees each tick, then the intents that tick produced (their time is its time).
        let intents = sink.take().enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        var next = 0
        var records: [DeskRecord] = []
        for tick in batch {
            records += desk.advance(to: tick.timestamp)
            records += desk.onTick(tick)
            while next < intents.count && intents[next].time <= tick.timestamp {
                records += desk.submit(intents[next], now: intents[next].time)
                next += 1
            }
            absorb(&records)
            ledger.tick(tick)
        }
        for intent in intents[next...] { records += desk.submit(intent, now: intent.time) }
        absorb(&records)
    }

    /// Records go to the ledger; fill and order events go back to the strategies, as the bus
    /// does live.
    private func absorb(_ records: inout [DeskRecord]) {
        guard !records.isEmpty else { return }
        let mine = records.filter {
            switch $0 {
            case .order(let o): o.intent.strategyID == strategyID
            case .event(let e): e.order.intent.strategyID == strategyID
            case .performance(let d): d.strategyID == strategyID
            default: false
            }
        }
        ledger.record(mine)
        let events = records.compactMap { if case .event(let e) = $0 { e } else { nil } }
        if !events.isEmpty {
            pipeline.ordersUpdated(events)
            pipeline.drain()
        }
        records = []
    }
}

struct ReplayFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
