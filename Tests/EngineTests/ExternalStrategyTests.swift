import Foundation
import Glibc
import Postgres
import TestSupport
import Testing
import TradingCore

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

    static func isRunning(_ db: PostgresConnection, _ strategyID: String) throws -> Bool {
        try db.query("SELECT is_running FROM strategies WHERE strategy_id = $1::uuid", [strategyID]).scalar == "t"
    }

    @Test func theSDKsSMACrossoverFillsExactlyWhereAnIndependentModelSays() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let made = try Self.externalStrategy(db, url: url)
        let daemon = try DaemonProcess(databaseURL: url)
        defer { _ = daemon.stop() }
        #expect(daemon.waitUntilStarted())
        #expect(try !Self.isRunning(db, made.strategyID), "not running before a process connects")
        let sdk = try StrategyProcess(script: "sdk/python/examples/sma_crossover.py", endpoint: Self.endpoint(daemon),
                                      strategy: "my-sma", token: made.token, directory: daemon.directory)
        defer { sdk.kill() }
        #expect(try DaemonStrategyTests.waitFor(30) { try Self.isRunning(db, made.strategyID) }, "is_running once connected: \(sdk.stderr)")

        // One tick every 5 ms: the process answers a tick long before the next, so each order
        // fills at the tick that caused it (the contract's "keeps up with its feed").
        let pricesPath = "\(daemon.directory)/prices.json"
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "1200", "7", pricesPath, "5"]) == 0)
        let prices = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: pricesPath))).map { FixedDecimal($0)! }
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
        #expect(replies.count == 7 && replies[4][0] == "error" && replies[5][0] == "error")
        #expect(replies.last?[0] == "order" && replies.last?[1].contains(#""client_order_id":"own""#) == true, "the own order is taken: \(replies.last ?? [])")
        let orders = try db.query("SELECT s.name, t.metadata->>'client_order_id' FROM trades t JOIN strategies s USING (strategy_id) WHERE s.strategy_type = 'external'").rows
        #expect(orders == [["mine", "own"]], "only the in-scope request made an order")
        #expect(try db.query("SELECT count(*) FROM system_logs WHERE message LIKE 'strategy request refused%'").scalar.flatMap { Int($0) } ?? 0 >= 6,
                "each refusal is logged")
        // The other user's secret does not open this strategy.
        let wrong = try CommandRunner.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "python3", Repository.root.appendingPathComponent("Tests/python/strategy_scope_probe.py").path,
            Self.endpoint(daemon), "mine", theirs.token, "\(daemon.directory)/wrong.jsonl",
        ], environment: [:], stdin: "[]")
        #expect(wrong.status == 3 && wrong.stderr.contains("wrong token"), "\(wrong.stderr)")
    }

    @Test func aSecondProcessWaitsForTheFirstToGoSilentAndAKilledOneLeavesItsOrdersAndPosition() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let made = try Self.externalStrategy(db, url: url)
        let daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_STRATEGIES_HEARTBEAT_TIMEOUT_MS": "1000"])
        defer { _ = daemon.stop() }
        #expect(daemon.waitUntilStarted())
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
        #expect(try Self.isRunning(db, made.strategyID))
    }
}
