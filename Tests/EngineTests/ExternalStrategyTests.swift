import Foundation
import Glibc
import Postgres
import TestSupport
import Testing
import TradingCore
import Engine

/// Users' own strategies, end to end: the real daemon, a pyzmq tick publisher, and strategy
/// processes on the Python SDK (or speaking the protocol with plain pyzmq) connected to its
/// strategy socket.
@Suite("External strategies against a live daemon")
struct ExternalStrategyTests {
    static let parameters = #"{"instruments": ["NSE:RELIANCE"], "fast": 5, "slow": 20, "quantity": 10}"#

    /// A user with a paper broker and one `external` strategy (the sample's built-in one off),
    /// and the strategy's secret from `algotrader strategy token`.
    static func externalStrategy(_ db: PostgresConnection, url: String, name: String = "my-sma",
                                 username: String = "trader1") throws -> (ids: SampleRows.IDs, strategyID: String, token: String) {
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: username)
        try db.query("UPDATE strategies SET is_active = false WHERE user_id = $1::uuid", [ids.userID])
        let strategyID = try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters) VALUES ($1, $2, 'external', $3::jsonb) RETURNING strategy_id
            """, [ids.userID, name, parameters]).scalar!
        let issued = try CommandRunner.algotrader(["strategy", "token", strategyID, "--config", Repository.shippedConfig],
                                                  environment: ["ALGOTRADER_DATABASE_URL": url])
        #expect(issued.status == 0, "strategy token: \(issued.stderr)")
        let token = issued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.count == 64 && !token.contains("\n"), "the secret alone on one line")
        return (ids, strategyID, token)
    }

    static func endpoint(_ daemon: DaemonProcess) -> String { "ipc://\(daemon.directory)/strategies.ipc" }

    /// A fresh database with the one external strategy `my-sma`, and a daemon serving it.
    static func serving(environment: [String: String] = [:]) throws
        -> (url: String, db: PostgresConnection, made: (ids: SampleRows.IDs, strategyID: String, token: String), daemon: DaemonProcess) {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let made = try externalStrategy(db, url: url)
        let daemon = try DaemonProcess(databaseURL: url, environment: environment)
        #expect(daemon.waitUntilStarted())
        return (url, db, made, daemon)
    }

    /// The built-in sma_crossover with the SDK example's parameters, inactive (for replays).
    static func addBuiltInTwin(_ db: PostgresConnection, userID: String) throws {
        try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters, is_active)
            VALUES ($1, 'built-in', 'sma_crossover', '{"symbol": "RELIANCE", "exchange": "NSE", "fast": 5, "slow": 20, "quantity": 10}', false)
            """, [userID])
    }

    static func isRunning(_ db: PostgresConnection, _ strategyID: String) throws -> Bool {
        try db.query("SELECT is_running FROM strategies WHERE strategy_id = $1::uuid", [strategyID]).scalar == "t"
    }

    @Test func theSDKsSMACrossoverFillsWhereAModelSaysLiveAndAgainInLockStepReplayAsTheBuiltInDoes() throws {
        let (url, db, made, daemon) = try Self.serving()
        defer { _ = daemon.stop() }
        #expect(try !Self.isRunning(db, made.strategyID), "not running before a process connects")
        let sdk = try StrategyProcess(script: "sdk/python/examples/sma_crossover.py", endpoint: Self.endpoint(daemon),
                                      strategy: "my-sma", token: made.token, directory: daemon.directory)
        defer { sdk.kill() }
        #expect(try DaemonStrategyTests.waitFor(30) { try Self.isRunning(db, made.strategyID) }, "is_running once connected: \(sdk.stderr)")

        // One tick every 5 ms, and 300 ms more after each tick the model trades on (worked out
        // first from the same seed's path): the process answers those before the next tick even
        // on a loaded machine, so each order fills at the tick that caused it (the contract's
        // "keeps up with its feed"; one that lags gets a later tick's price, live as designed).
        let pricesPath = "\(daemon.directory)/prices.json", pausesPath = "\(daemon.directory)/pauses.json"
        #expect(try DaemonProcess.python("publish_price_path.py", ["-", "RELIANCE", "NSE", "600", "7", pricesPath]) == 0)
        let planned = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: pricesPath))).map { FixedDecimal($0)! }
        try JSONEncoder().encode(SMACrossoverModel.signals(prices: planned, fast: 5, slow: 20, quantity: 10).map(\.index))
            .write(to: URL(fileURLWithPath: pausesPath))
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "600", "7", pricesPath, "5", pausesPath]) == 0)
        let prices = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: pricesPath))).map { FixedDecimal($0)! }
        #expect(prices == planned, "the dry run's path is the published one")
        let model = SMACrossoverModel.signals(prices: prices, fast: 5, slow: 20, quantity: 10)
        #expect(model.count >= 6)
        #expect(try DaemonStrategyTests.waitFor(60) {
            try db.query("SELECT count(*) FROM trades WHERE strategy_id = $1::uuid AND status = 'FILLED'", [made.strategyID]).scalar == "\(model.count)"
        }, "fills: \(sdk.stderr)")
        Thread.sleep(forTimeInterval: 0.5)  // nothing more comes
        let fills = try db.query("""
            SELECT transaction_type, filled_quantity, average_price::text, status, metadata->>'client_order_id'
            FROM trades WHERE strategy_id = $1::uuid ORDER BY order_timestamp, created_at
            """, [made.strategyID]).rows
        #expect(fills.count == model.count, "only the model's orders")
        for (row, signal) in zip(fills, model) {
            #expect(row[0] == signal.side && Int64(row[1]!) == signal.quantity)
            #expect(FixedDecimal(row[2]!) == prices[signal.index], "filled at the tick the model says (\(signal.index))")
        }
        let net = model.reduce(Int64(0)) { $0 + ($1.side == "BUY" ? $1.quantity : -$1.quantity) }
        let held = try db.query("SELECT COALESCE(sum(p.quantity), 0) FROM positions p JOIN trades t USING (trade_id) WHERE t.strategy_id = $1::uuid AND p.status <> 'CLOSED'", [made.strategyID]).scalar
        #expect(held == "\(net)", "the desk's position is the model's")
        #expect(try db.query("SELECT count(*) FROM system_logs WHERE message LIKE 'strategy request refused%'").scalar == "0")
        // Stopping the strategy tells the process to stop: it ends by itself.
        try db.query("UPDATE strategies SET is_active = false WHERE strategy_id = $1::uuid", [made.strategyID])
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(DaemonStrategyTests.waitFor(30) { !sdk.process.isRunning }, "the process ends when its strategy is stopped")
        #expect(sdk.process.terminationStatus == 0)
        #expect(try DaemonStrategyTests.waitFor(10) { try !Self.isRunning(db, made.strategyID) })
        #expect(try DaemonStrategyTests.waitFor(20) { try db.query("SELECT count(*) FROM market_data WHERE \"interval\" = 'tick'").scalar == "600" })
        #expect(daemon.stop() == 0)
        let live = fills.map { Array($0[0..<4]) }
        let liveCounts = try db.query("SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM bus_events), (SELECT count(*) FROM positions)").rows

        // The same ticks replayed: the SDK process in lock step (twice), and the built-in
        // sma_crossover with the same parameters.
        try Self.addBuiltInTwin(db, userID: made.ids.userID)
        let environmentFile = "\(daemon.directory)/process-environment"
        let sdkPath = Repository.root.appendingPathComponent("sdk/python").path
        let command = "env > '\(environmentFile)'; PYTHONPATH='\(sdkPath)' exec python3 '\(sdkPath)/examples/sma_crossover.py'"
        let from = Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch - 3_600_000_000_000).description
        let to = Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch + 60_000_000_000).description
        var runs: [[[String?]]] = []
        for (strategy, process) in [("my-sma", command), ("my-sma", command), ("built-in", nil)] {
            let outcome = try ReplayTests.replay(url, ["--strategy", strategy, "--from", from, "--to", to] + (process.map { ["--run", $0] } ?? []))
            #expect(outcome.status == 0, "\(strategy): \(outcome.stderr)")
            #expect(outcome.stdout.contains("ticks           600"), "\(outcome.stdout)")
            let run = try #require(try db.query("SELECT run_id::text FROM backtest_runs ORDER BY started_at DESC LIMIT 1").scalar)
            runs.append(try db.query("""
                SELECT transaction_type, filled_quantity::text, average_price::text, status, order_timestamp::text FROM backtest_trades
                WHERE run_id = $1::uuid ORDER BY seq
                """, [run]).rows)
        }
        #expect(runs[0].map { Array($0[0..<4]) } == live, "the lock-step replay placed and filled what the live process did")
        #expect(runs[1] == runs[0], "and does so again, to the order's time")
        #expect(runs[2] == runs[0], "exactly as the built-in sma_crossover on those ticks")
        #expect(try db.query("SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM bus_events), (SELECT count(*) FROM positions)").rows
                == liveCounts, "a replay writes no live table and publishes nothing")
        #expect(try db.query("SELECT count(*) FROM backtest_runs WHERE status = 'completed' AND fills = $1", [String(model.count)]).scalar == "3")
        // The process saw only PATH, HOME, LANG and the three SDK variables (no database URL).
        let seen = Set(try String(contentsOfFile: environmentFile, encoding: .utf8).split(separator: "\n")
            .compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
            .subtracting(["PWD", "OLDPWD", "SHLVL", "_"])
        #expect(seen.isSubset(of: ["PATH", "HOME", "LANG", "ALGOTRADER_STRATEGY_ENDPOINT", "ALGOTRADER_STRATEGY", "ALGOTRADER_STRATEGY_TOKEN"])
                && seen.contains("ALGOTRADER_STRATEGY_TOKEN"), "\(seen.sorted())")
    }

    @Test func aLockStepReplayRefusesWhatItCannotRunAndMarksARunFailedWhenItsProcessDies() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let made = try Self.externalStrategy(db, url: url)
        try Self.addBuiltInTwin(db, userID: made.ids.userID)
        if try db.query("SELECT layout FROM market_data_layout").scalar == "native" {
            try db.query("SELECT market_data_ensure_partitions(current_date - 1, current_date + 1)")
        }
        try db.query("""
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            SELECT 'RELIANCE', 'NSE', now() - interval '10 minutes' + i * interval '1 second', 2450, 2450, 2450, 2450, 1, 'tick' FROM generate_series(1, 50) i
            """)
        let range = ["--from", Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch - 3_600_000_000_000).description,
                     "--to", Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch + 60_000_000_000).description]
        let refusals: [([String], String)] = [
            (["--strategy", "my-sma"], "replay it with --run"),
            (["--strategy", "built-in", "--run", "true"], "replay it without --run"),
            (["--strategy", "my-sma", "--strategy", "built-in", "--run", "true"], "give one --strategy"),
        ]
        for (arguments, says) in refusals {
            let outcome = try ReplayTests.replay(url, arguments + range)
            #expect(outcome.status == 64 && outcome.stderr.contains(says), "\(arguments): \(outcome.status) \(outcome.stderr)")
        }
        #expect(try db.query("SELECT count(*) FROM backtest_runs").scalar == "0", "a refused replay records no run")
        // A process that ends without a hello, and one that dies mid-run: the run is failed, with why.
        let script = NSTemporaryDirectory() + "dies-\(UUID().uuidString.prefix(8)).py"
        try """
            import os
            from algotrader_sdk import Strategy, Tick, run
            class Dies(Strategy):
                def on_tick(self, tick: Tick) -> None:
                    os._exit(5)
            run(Dies)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let dies = "PYTHONPATH='\(Repository.root.appendingPathComponent("sdk/python").path)' exec python3 '\(script)'"
        for command in ["exit 7", dies] {
            let outcome = try ReplayTests.replay(url, ["--strategy", "my-sma", "--run", command] + range)
            #expect(outcome.status == 69 && outcome.stderr.contains("exited"), "\(command): \(outcome.status) \(outcome.stderr)")
        }
        let failed = try db.query("SELECT status, error FROM backtest_runs").rows
        #expect(failed.count == 2 && failed.allSatisfy { $0[0] == "failed" && $0[1]?.contains("exited") == true }, "\(failed)")
    }

    @Test func aProcessActsOnlyForItsOwnStrategyInstrumentsAndUser() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let mine = try Self.externalStrategy(db, url: url, name: "mine", username: "asha")
        let theirs = try Self.externalStrategy(db, url: url, name: "theirs", username: "ravi")
        let daemon = try DaemonProcess(databaseURL: url)
        defer { _ = daemon.stop() }
        #expect(daemon.waitUntilStarted())
        func order(_ id: String, _ extra: String = "", symbol: String = "RELIANCE") -> [String] {
            ["order.new", #"{"client_order_id": "\#(id)", "symbol": "\#(symbol)", "exchange": "NSE", "transaction_type": "BUY", "quantity": 1\#(extra)}"#]
        }
        let requests: [[String]] = [
            order("other-strategy", #", "strategy_id": "\#(theirs.strategyID)""#),
            order("other-user", #", "user_id": "\#(theirs.ids.userID)""#),
            order("undeclared", symbol: "INFY"),
            ["order.new", #"{"client_order_id": "bad-qty", "symbol": "RELIANCE", "transaction_type": "BUY", "quantity": -5}"#],
            ["order.new", "not json"],
            ["order.cancel", #"{"client_order_id": "never-sent"}"#],
            // A modify passes the checks of a new order: not to a size risk refuses, not off the tick size.
            order("limit", #", "order_type": "LIMIT", "price": 2440"#),
            ["order.modify", #"{"client_order_id": "limit", "quantity": 1000000000}"#],
            ["order.modify", #"{"client_order_id": "limit", "price": 2439.535}"#],
            ["order.modify", #"{"client_order_id": "limit", "price": 2439.5}"#],
            order("own", #", "strategy_id": "\#(mine.strategyID)", "user_id": "\#(mine.ids.userID)""#),
        ]
        let out = "\(daemon.directory)/probe.jsonl"
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", Repository.root.appendingPathComponent("Tests/python/strategy_scope_probe.py").path,
                           Self.endpoint(daemon), "mine", mine.token, out]
        let input = Pipe()
        probe.standardInput = input
        try probe.run()
        input.fileHandleForWriting.write(try JSONEncoder().encode(requests))
        try input.fileHandleForWriting.close()
        #expect(try DaemonStrategyTests.waitFor(30) { try Self.isRunning(db, mine.strategyID) })
        // Ticks until the probe has seen one (it then sends its requests).
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "400", "11", "\(daemon.directory)/p.json", "20"]) == 0)
        probe.waitUntilExit()
        #expect(probe.terminationStatus == 0)
        let replies = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode([String].self, from: Data($0.utf8))
        }
        #expect(replies.count == requests.count, "\(replies)")
        for (reply, expected) in zip(replies, ["other-strategy", "other-user", "undeclared", "bad-qty"]) {
            #expect(reply[0] == "error" && reply[1].contains(#""client_order_id":"\#(expected)""#), "\(expected): \(reply)")
        }
        #expect(replies.count == 11 && replies[4][0] == "error" && replies[5][0] == "error")
        #expect(replies[6][0] == "order" && replies[6][1].contains(#""status":"OPEN""#), "\(replies[6])")
        for refused in replies[7...8] {
            #expect(refused[0] == "error" && refused[1].contains("modify refused") && refused[1].contains(#""client_order_id":"limit""#), "\(refused)")
        }
        #expect(replies[8][1].contains("tick size"), "\(replies[8])")
        #expect(replies[9][0] == "order" && replies[9][1].contains("2439.5"), "a modify within the rules is applied: \(replies[9])")
        #expect(replies[10][0] == "order" && replies[10][1].contains(#""client_order_id":"own""#), "the own order is taken: \(replies[10])")
        let orders = try db.query("""
            SELECT s.name, t.metadata->>'client_order_id', t.quantity::text, t.price::text FROM trades t JOIN strategies s USING (strategy_id)
            WHERE s.strategy_type = 'external' ORDER BY t.created_at
            """).rows
        #expect(orders.count == 2 && orders[0] == ["mine", "limit", "1", "2439.5000"] && orders[1][0...1] == ["mine", "own"],
                "only the in-scope requests made orders, and the refused modifies changed nothing: \(orders)")
        #expect(try db.query("SELECT count(*) FROM system_logs WHERE message LIKE 'strategy request refused%'").scalar.flatMap { Int($0) } ?? 0 >= 6,
                "each refusal is logged")
        // The other user's secret does not open this strategy.
        let wrong = try CommandRunner.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "python3", Repository.root.appendingPathComponent("Tests/python/strategy_scope_probe.py").path,
            Self.endpoint(daemon), "mine", theirs.token, "\(daemon.directory)/wrong.jsonl",
        ], environment: [:], stdin: "[]")
        #expect(wrong.status == 3 && wrong.stderr.contains("wrong token"), "\(wrong.stderr)")
    }

    @Test func anEditReachesTheConnectedProcessAndANewSecretEndsItsSessionWithoutAReload() throws {
        let (url, db, made, daemon) = try Self.serving()
        defer { _ = daemon.stop() }
        let reported = "\(daemon.directory)/report.json"
        func report() -> [String: Any]? {
            (try? Data(contentsOf: URL(fileURLWithPath: reported))).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
        let first = try StrategyProcess(script: "Tests/python/sdk_probe_strategy.py", arguments: ["report", reported],
                                        endpoint: Self.endpoint(daemon), strategy: "my-sma", token: made.token, directory: daemon.directory)
        defer { first.kill() }
        #expect(DaemonStrategyTests.waitFor(30) { (report()?["params"] as? [String: Any])?["fast"] as? Int == 5 }, "\(first.stderr)")

        // strategy edit, then a reload: the connected process gets the new parameters (on_edit).
        let edited = try CommandRunner.algotrader(["strategy", "edit", "my-sma", "--params", #"{"instruments": ["NSE:RELIANCE"], "fast": 7, "slow": 20, "quantity": 10}"#,
                                                   "--config", Repository.shippedConfig], environment: ["ALGOTRADER_DATABASE_URL": url])
        #expect(edited.status == 0, "\(edited.stderr)")
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(DaemonStrategyTests.waitFor(30) { report()?["edits"] as? Int == 1 && (report()?["params"] as? [String: Any])?["fast"] as? Int == 7 },
                "\(String(describing: report())) \(first.stderr)")

        // A new secret, with no reload: the connected process is told to stop, the old secret
        // opens nothing, the new one does.
        let issued = try CommandRunner.algotrader(["strategy", "token", "my-sma", "--config", Repository.shippedConfig],
                                                  environment: ["ALGOTRADER_DATABASE_URL": url])
        let fresh = issued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(issued.status == 0 && fresh.count == 64)
        #expect(DaemonStrategyTests.waitFor(20) { !first.process.isRunning }, "the session of the old secret ends: \(first.stderr)")
        #expect(first.stderr.contains("secret was replaced") || first.process.terminationStatus == 0, "\(first.stderr)")
        let old = try CommandRunner.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "python3", Repository.root.appendingPathComponent("Tests/python/strategy_scope_probe.py").path,
            Self.endpoint(daemon), "my-sma", made.token, "\(daemon.directory)/old.jsonl",
        ], environment: [:], stdin: "[]")
        #expect(old.status == 3 && old.stderr.contains("wrong token"), "the old secret is refused: \(old.stderr)")
        try? FileManager.default.removeItem(atPath: reported)
        let second = try StrategyProcess(script: "Tests/python/sdk_probe_strategy.py", arguments: ["report", reported],
                                         endpoint: Self.endpoint(daemon), strategy: "my-sma", token: fresh, directory: daemon.directory)
        defer { second.kill() }
        #expect(DaemonStrategyTests.waitFor(30) { report()?["edits"] as? Int == 0 }, "the new secret is welcomed: \(second.stderr)")
        #expect(try DaemonStrategyTests.waitFor(10) { try Self.isRunning(db, made.strategyID) })
    }

    @Test func aSecondProcessWaitsForTheFirstToGoSilentAndAKilledOneLeavesItsOrdersAndPosition() throws {
        let (_, db, made, daemon) = try Self.serving(environment: ["ALGOTRADER_STRATEGIES_HEARTBEAT_TIMEOUT_MS": "1000"])
        defer { _ = daemon.stop() }
        let held = "\(daemon.directory)/hold.json", reported = "\(daemon.directory)/report.json"
        let first = try StrategyProcess(script: "Tests/python/sdk_probe_strategy.py", arguments: ["hold", held],
                                        endpoint: Self.endpoint(daemon), strategy: "my-sma", token: made.token, directory: daemon.directory)
        defer { first.kill() }
        #expect(try DaemonStrategyTests.waitFor(30) { try Self.isRunning(db, made.strategyID) })
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "50", "5", "\(daemon.directory)/p.json", "10"]) == 0)
        #expect(DaemonStrategyTests.waitFor(30) { FileManager.default.fileExists(atPath: held) }, "both orders acknowledged: \(first.stderr)")

        let second = try StrategyProcess(script: "Tests/python/sdk_probe_strategy.py", arguments: ["report", reported],
                                         endpoint: Self.endpoint(daemon), strategy: made.strategyID, token: made.token, directory: daemon.directory)
        defer { second.kill() }
        #expect(DaemonStrategyTests.waitFor(10) { second.stderr.contains("connected from another process") }, "\(second.stderr)")
        Thread.sleep(forTimeInterval: 1.5)  // longer than the timeout: the first still beats
        #expect(!FileManager.default.fileExists(atPath: reported), "refused while the first process is alive")

        first.kill()
        #expect(DaemonStrategyTests.waitFor(20) { FileManager.default.fileExists(atPath: reported) }, "accepted after the first went silent: \(second.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reported))) as? [String: Any]
        #expect(report?["position"] as? Int == 10, "the new process starts from the desk's position")
        let orders = try db.query("SELECT order_type, status FROM trades WHERE strategy_id = $1::uuid ORDER BY order_type", [made.strategyID]).rows
        #expect(orders == [["LIMIT", "OPEN"], ["MARKET", "FILLED"]], "the working order stays as it was")
        #expect(try db.query("SELECT sum(p.quantity) FROM positions p JOIN trades t USING (trade_id) WHERE t.strategy_id = $1::uuid AND p.status <> 'CLOSED'", [made.strategyID]).scalar == "10")
        #expect(try DaemonStrategyTests.waitFor(10) { try Self.isRunning(db, made.strategyID) }, "is_running follows the welcome")
    }
}
