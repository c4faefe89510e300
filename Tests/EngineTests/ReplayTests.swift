import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore
import Engine

/// Issue 9: `algotrader replay` streams stored ticks through the live pipeline and desk. The
/// same ticks give the same orders and fills as live trading did; runs are recorded apart from
/// the live tables; bad arguments are one line and a non-zero exit.
@Suite("Replay and backtests over stored ticks")
struct ReplayTests {
    static func trader(_ db: PostgresConnection) throws -> (ids: SampleRows.IDs, strategyID: String) {
        let ids = try SampleRows.userStrategyBrokerTrade(db)
        try db.query("UPDATE strategies SET is_active = false")
        try db.query("""
            INSERT INTO risk_settings (user_id, daily_loss_limit, max_position_size, max_drawdown_percent, max_risk_per_trade)
            VALUES ($1::uuid, 100000000, 100000000, 99, 50)
            """, [ids.userID])
        let id = try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters)
            VALUES ($1, 'cross', 'sma_crossover', '{"symbol": "RELIANCE", "exchange": "NSE", "fast": 5, "slow": 20, "quantity": 10}')
            RETURNING strategy_id::text
            """, [ids.userID]).scalar!
        return (ids, id)
    }

    static func replay(_ url: String, _ arguments: [String], environment: [String: String] = DaemonProcess.plainMarketRules) throws -> CommandRunner.Outcome {
        var env = environment
        env["ALGOTRADER_DATABASE_URL"] = url
        return try CommandRunner.algotrader(["replay"] + arguments + ["--config", Repository.shippedConfig], environment: env)
    }

    @Test func aReplayOfTheStoredTicksGivesTheOrdersAndFillsLiveTradingGaveAndTouchesNoLiveTable() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let (_, strategyID) = try Self.trader(db)
        let daemon = try DaemonProcess(databaseURL: url)
        #expect(try DaemonStrategyTests.waitFor(10) { try db.query("SELECT count(*) FROM strategies WHERE is_running").scalar == "1" })
        let pricesPath = "\(daemon.directory)/prices.json"
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "3000", "11", pricesPath]) == 0)
        let prices = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: pricesPath))).map { FixedDecimal($0)! }
        let expected = SMACrossoverModel.signals(prices: prices, fast: 5, slow: 20, quantity: 10).count
        #expect(expected > 10)
        #expect(try DaemonStrategyTests.waitFor(20) {
            try db.query("SELECT count(*) FROM trades WHERE strategy_id = $1::uuid AND status = 'FILLED'", [strategyID]).scalar == String(expected)
        })
        #expect(daemon.stop() == 0)
        let live = try db.query("""
            SELECT transaction_type, quantity::text, status, average_price::text, order_timestamp::text FROM trades
            WHERE strategy_id = $1::uuid ORDER BY order_timestamp, order_id
            """, [strategyID]).rows
        let liveCounts = try db.query("SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM bus_events), (SELECT count(*) FROM positions)").rows

        let from = Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch - 3_600_000_000_000).description
        let to = Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch + 60_000_000_000).description
        var runs: [[[String?]]] = []
        for _ in 0..<2 {
            let outcome = try Self.replay(url, ["--strategy", "cross", "--from", from, "--to", to])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            #expect(outcome.stdout.contains("ticks           3000") && outcome.stdout.contains("net P&L"), "\(outcome.stdout)")
            // The bars the daemon built from these ticks cover them: no note about bars left out.
            #expect(!outcome.stderr.contains("note:"), "\(outcome.stderr)")
            let run = try #require(try db.query("SELECT run_id::text FROM backtest_runs ORDER BY started_at DESC LIMIT 1").scalar)
            runs.append(try db.query("""
                SELECT transaction_type, quantity::text, status, average_price::text, order_timestamp::text FROM backtest_trades
                WHERE run_id = $1::uuid ORDER BY seq
                """, [run]).rows)
        }
        #expect(runs[0] == live, "the replay placed and filled exactly what live trading did")
        #expect(runs[1] == runs[0], "and does so again")
        #expect(try db.query("SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM bus_events), (SELECT count(*) FROM positions)").rows
                == liveCounts, "a replay writes no live table and publishes nothing")
        let stored = try db.query("SELECT status, ticks::text, fills::text, strategy_id::text FROM backtest_runs").rows
        #expect(stored.allSatisfy { $0 == ["completed", "3000", String(expected), strategyID] })
    }

    @Test func aDayOfFiftySymbolsReplaysWithItsFiguresEquityCurveAndMISSquareOff() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        _ = try Self.trader(db)
        // A trading day (Tuesday 2026-11-24, 09:15-15:30 IST), a tick every 5 s for 50 symbols.
        // (Its partition first, on the native layout: the schema makes them from today on.)
        if try db.query("SELECT layout FROM market_data_layout").scalar == "native" {
            try db.query("SELECT market_data_ensure_partitions('2026-11-24', '2026-11-25')")
        }
        try db.query("""
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            SELECT sym, 'NSE', ts, p, p, p, p, 1 + (i % 7), 'tick'
            FROM generate_series(0, 49) s,
                 LATERAL (SELECT CASE WHEN s = 0 THEN 'RELIANCE' ELSE 'SYM' || s END AS sym) n,
                 generate_series(0, 4499) i,
                 LATERAL (SELECT timestamptz '2026-11-24 09:15:00+05:30' + i * interval '5 seconds' AS ts,
                                 round((1000 + s * 10 + 15 * sin(i / 60.0 + s) + 4 * sin(i / 7.0))::numeric, 2) AS p) v
            """)
        #expect(try db.query("SELECT count(DISTINCT symbol), count(*) FROM market_data").rows.first == ["50", "225000"])
        let dir = NSTemporaryDirectory() + "algotrader-replay-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var env = DaemonProcess.plainMarketRules
        env["ALGOTRADER_CHARGES_ENABLED"] = "true"
        env["ALGOTRADER_MARKET_SESSION_ACTIONS"] = "true"
        let outcome = try Self.replay(url, ["--strategy", "cross", "--from", "2026-11-24", "--to", "2026-11-25", "--params", #"{"symbol": "SYM3", "fast": 10, "slow": 40}"#,
                                            "--equity-csv", dir + "/equity.csv", "--equity-png", dir + "/equity.png", "--progress", "always"],
                                      environment: env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for figure in ["ticks           4500", "gross P&L", "charges", "net P&L", "win rate", "Sharpe ratio", "max drawdown", "exposure"] {
            #expect(outcome.stdout.contains(figure), "reports \(figure): \(outcome.stdout)")
        }
        #expect(outcome.stderr.contains("100%") && outcome.stderr.contains("ticks/s") && outcome.stderr.contains("left"), "a progress bar with rate and time left")
        let run = try #require(try db.query("""
            SELECT fills, charges > 0, net_pnl = gross_pnl - charges, win_rate IS NOT NULL, max_drawdown >= 0, exposure_percent > 0,
                   parameters->>'fast'
            FROM backtest_runs WHERE status = 'completed'
            """).rows.first)
        #expect(Int(run[0] ?? "0") ?? 0 > 10 && run[1...] == ["t", "t", "t", "t", "t", "10"], "\(run)")
        // The day's performance row adds up to the run: every fill, the same net P&L and charges.
        let day = try db.query("""
            SELECT p.date::text, p.total_trades = r.fills, p.total_pnl = r.net_pnl, p.charges = r.charges,
                   p.gross_pnl - p.charges = p.total_pnl, p.win_rate = r.win_rate
            FROM backtest_performance p JOIN backtest_runs r USING (run_id)
            """).rows
        #expect(day == [["2026-11-24", "t", "t", "t", "t", "t"]], "\(day)")
        // SYM3 is rising into 15:20, so the strategy is long then: the desk's clock (tick time)
        // squares the MIS position off at 15:20 with a MARKET sell that says why.
        let squareOff = try db.query("""
            SELECT transaction_type, quantity::text, status FROM backtest_trades
            WHERE reason = 'MIS auto square-off at 15:20 IST' AND order_timestamp = timestamptz '2026-11-24 15:20:00+05:30'
            """).rows
        #expect(squareOff == [["SELL", "10", "FILLED"]])
        // Then the strategy knows it is flat (failed on 1106958: it kept believing it was long and
        // sold from flat until it was short): no SELL of its own after the square-off, and the
        // MIS entries it tries after the cut-off are refused.
        let soldAfter = try db.query("""
            SELECT count(*) FROM backtest_trades WHERE transaction_type = 'SELL' AND status = 'FILLED'
              AND order_timestamp > timestamptz '2026-11-24 15:20:00+05:30' AND reason <> 'MIS auto square-off at 15:20 IST'
            """).scalar
        #expect(soldAfter == "0")
        let net = try db.query("""
            SELECT coalesce(sum(CASE transaction_type WHEN 'BUY' THEN filled_quantity ELSE -filled_quantity END), 0) FROM backtest_trades
            """).scalar
        #expect(net == "0", "the long-only strategy ends flat, never short")
        let csv = try String(contentsOfFile: dir + "/equity.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "time,time_ist,equity,realized,unrealized,position" && csv.count > 300, "a point per minute and per fill")
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/equity.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "gnuplot drew a PNG")
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Several strategies replay on one desk, as live trading runs them: one user's daily loss
    /// spans all of that user's strategies. Strategy A loses 90 on SYM1 at 09:20; B's buy on
    /// SYM2 at 10:00 fills when B is replayed alone, and is refused (the user's daily loss limit
    /// of 50 is breached) when both are replayed together.
    @Test func strategiesReplayedTogetherShareTheirUsersDailyLossAsLiveTradingDoes() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let (ids, _) = try Self.trader(db)
        try db.query("UPDATE risk_settings SET daily_loss_limit = 50 WHERE user_id = $1::uuid", [ids.userID])
        for (name, symbol) in [("loses", "SYM1"), ("later", "SYM2")] {
            try db.query("""
                INSERT INTO strategies (user_id, name, strategy_type, parameters)
                VALUES ($1, $2, 'sma_crossover', jsonb_build_object('symbol', $3::text, 'exchange', 'NSE', 'fast', 2, 'slow', 3, 'quantity', 10))
                """, [ids.userID, name, symbol])
        }
        if try db.query("SELECT layout FROM market_data_layout").scalar == "native" {
            try db.query("SELECT market_data_ensure_partitions('2026-11-24', '2026-11-25')")
        }
        // SMA(2) over SMA(3): SYM1 buys at 103 and sells at 94 (-90); SYM2 buys at 101, later.
        let paths = [("SYM1", "09:20:00", [100, 100, 100, 100, 103, 106, 100, 94, 94, 94, 94, 94]),
                     ("SYM2", "10:00:00", [100, 100, 100, 100, 100, 100, 100, 100, 101, 103, 105, 107, 109, 111])]
        for (symbol, start, prices) in paths {
            try db.query("""
                INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
                SELECT $1, 'NSE', ($2 || '+05:30')::timestamptz + (i - 1) * interval '1 second', p, p, p, p, 1, 'tick'
                FROM unnest($3::numeric[]) WITH ORDINALITY AS t(p, i)
                """, [symbol, "2026-11-24 " + start, "{" + prices.map(String.init).joined(separator: ",") + "}"])
        }
        let range = ["--from", "2026-11-24", "--to", "2026-11-25"]
        func orders(_ strategy: String, run: String) throws -> [[String]] {
            try db.query("""
                SELECT t.transaction_type, t.status, coalesce(t.reason, '') FROM backtest_trades t JOIN backtest_runs r USING (run_id)
                JOIN strategies s USING (strategy_id) WHERE s.name = $1 AND r.run_id = $2::uuid ORDER BY t.seq
                """, [strategy, run]).rows.map { $0.map { $0 ?? "" } }
        }
        func latestRun(_ strategy: String) throws -> String {
            try #require(try db.query("""
                SELECT r.run_id::text FROM backtest_runs r JOIN strategies s USING (strategy_id) WHERE s.name = $1 AND r.status = 'completed'
                ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1
                """, [strategy]).scalar)
        }

        let alone = try Self.replay(url, ["--strategy", "later"] + range)
        #expect(alone.status == 0, "\(alone.stderr)")
        let aloneOrders = try orders("later", run: try latestRun("later"))
        #expect(aloneOrders.map { Array($0.prefix(2)) } == [["BUY", "FILLED"]], "alone, nothing stops its buy: \(aloneOrders)")

        let together = try Self.replay(url, ["--strategy", "loses", "--strategy", "later"] + range)
        #expect(together.status == 0, "\(together.stderr)")
        #expect(together.stdout.contains("for 2 strategies on one desk") && together.stdout.components(separatedBy: "backtest ").count == 3,
                "a report per strategy: \(together.stdout)")
        let losing = try orders("loses", run: try latestRun("loses"))
        #expect(losing.map { Array($0.prefix(2)) } == [["BUY", "FILLED"], ["SELL", "FILLED"]], "\(losing)")
        let refused = try orders("later", run: try latestRun("later"))
        #expect(refused.count == 1 && refused.first?[1] == "REJECTED" && refused.first?[2].contains("daily loss") == true,
                "together, the user's loss on SYM1 refuses the buy on SYM2: \(refused)")
        #expect(try db.query("SELECT count(*) FROM backtest_runs WHERE status = 'completed'").scalar == "3")
        #expect(try db.query("SELECT count(*) FROM trades WHERE order_timestamp IS NOT NULL").scalar == "0", "no live table touched")
    }

    @Test func aPacedReplayTakesAtLeastTheTapesTimeOverItsFactor() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        _ = try Self.trader(db)
        // 21 ticks 100 ms apart: 2 s of exchange time, today (a partition the schema made).
        let start = Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch - 60_000_000_000)
        if try db.query("SELECT layout FROM market_data_layout").scalar == "native" {
            try db.query("SELECT market_data_ensure_partitions($1::timestamptz - interval '1 day', $1::timestamptz + interval '1 day')", [start.description])
        }
        try db.query("""
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            SELECT 'RELIANCE', 'NSE', $1::timestamptz + i * interval '100 milliseconds', 2450 + i, 2450 + i, 2450 + i, 2450 + i, 1, 'tick'
            FROM generate_series(0, 20) i
            """, [start.description])
        let from = Timestamp(nanosecondsSinceEpoch: start.nanosecondsSinceEpoch - 1_000_000_000).description
        let to = SystemClock().now().description
        let began = Date()
        let paced = try Self.replay(url, ["--strategy", "cross", "--from", from, "--to", to, "--speed", "2"])
        let seconds = Date().timeIntervalSince(began)
        #expect(paced.status == 0 && paced.stdout.contains("ticks           21"), "\(paced.stderr)")
        #expect(seconds >= 1.0, "2 s of ticks at twice real time take at least 1 s, took \(seconds)")
        let stored = try db.query("SELECT speed FROM backtest_runs").scalar
        #expect(stored == "2")
    }

    @Test func badArgumentsAreOneLineAndANonZeroExit() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        _ = try Self.trader(db)
        let cases: [([String], String)] = [
            (["--strategy", "nope", "--from", "2026-11-24", "--to", "2026-11-25"], "no strategy 'nope'"),
            (["--strategy", "cross", "--from", "2026-11-25", "--to", "2026-11-24"], "is not before --to"),
            (["--strategy", "cross", "--from", "2026-11-24", "--to", "2026-11-25"], "the range is empty"),
            (["--strategy", "cross", "--from", "yesterday", "--to", "2026-11-25"], "--from: 'yesterday' is not a time"),
            // A date past 2262 trapped (found through the history reader's fuzzing).
            (["--strategy", "cross", "--from", "2026-11-24", "--to", "9999-01-01"], "--to: '9999-01-01' is not a time"),
            (["--strategy", "cross", "--from", "2026-11-24", "--to", "2026-11-25", "--speed", "fast"], "--speed must be max, realtime"),
            (["--strategy", "cross", "--from", "2026-11-24", "--to", "2026-11-25", "--params", "[1]"], "--params must be a JSON object"),
            (["--strategy", "cross", "--from", "2026-11-24", "--to", "2026-11-25", "--params", #"{"fast": 50}"#], "parameter 'fast'"),
            (["--from", "2026-11-24", "--to", "2026-11-25"], "--strategy is required"),
            (["--strategy", "cross", "--strategy", "cross", "--from", "2026-11-24", "--to", "2026-11-25"], "is given twice"),
            (["--strategy", "cross", "--strategy", "other", "--from", "2026-11-24", "--to", "2026-11-25", "--equity-csv", "/tmp/x.csv"],
             "give one --strategy"),
        ]
        for (arguments, message) in cases {
            let outcome = try Self.replay(url, arguments)
            #expect(outcome.status != 0, "\(arguments)")
            let lines = outcome.stderr.split(separator: "\n")
            #expect(lines.count == 1 && outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
        }
        #expect(try db.query("SELECT count(*) FROM backtest_runs").scalar == "0", "no run recorded for a refused replay")
    }
}
