import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore

/// The fill bus seen by a subscriber written with pyzmq: fills exactly where an independent
/// model of sma_crossover puts them, each equal to its trades row; REJECTED order events for a
/// user over max_position_size; contiguous seq; and the replay endpoint serving the same events.
@Suite("Fill and order bus driven end to end")
struct DaemonOrdersTests {
    static func addUser(_ db: PostgresConnection, _ name: String, maxPositionSize: String) throws -> SampleRows.IDs {
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: name)
        try db.query("UPDATE strategies SET is_active = false WHERE user_id = $1::uuid", [ids.userID])
        try db.query("""
            INSERT INTO risk_settings (user_id, daily_loss_limit, max_position_size, max_drawdown_percent, max_risk_per_trade)
            VALUES ($1::uuid, 100000000, $2::numeric, 99, 50)
            """, [ids.userID, maxPositionSize])
        try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters)
            VALUES ($1::uuid, 'cross', 'sma_crossover', '{"symbol": "RELIANCE", "fast": 5, "slow": 20, "quantity": 10}')
            """, [ids.userID])
        return ids
    }

    @Test func fillsMatchTheModelAndTheirTradesRowsAndReplayServesTheSameEvents() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let rich = try Self.addUser(db, "rich", maxPositionSize: "100000000")
        let small = try Self.addUser(db, "small", maxPositionSize: "1000")
        let daemon = try DaemonProcess(databaseURL: url)

        let eventsPath = "\(daemon.directory)/events.json", ready = "\(daemon.directory)/subscriber.ready"
        let subscriber = Process()
        subscriber.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        subscriber.arguments = ["python3", Repository.root.appendingPathComponent("Tests/python/subscribe_events.py").path,
                                "ipc://\(daemon.directory)/bus.ipc", "ipc://\(daemon.directory)/replay.ipc", eventsPath, "2", ready]
        try subscriber.run()
        defer { if subscriber.isRunning { subscriber.terminate() } }
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }

        let pricesPath = "\(daemon.directory)/prices.json"
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "3000", "7", pricesPath]) == 0)
        subscriber.waitUntilExit()
        #expect(subscriber.terminationStatus == 0)
        #expect(daemon.stop() == 0)

        struct Captured: Decodable {
            let live: [[String]]
            let replayed: [[String]]
            let end: [String: Int]?
        }
        let captured = try JSONDecoder().decode(Captured.self, from: Data(contentsOf: URL(fileURLWithPath: eventsPath)))
        let events = try captured.live.map { pair -> (String, [String: Any]) in
            (pair[0], try #require(try JSONSerialization.jsonObject(with: Data(pair[1].utf8)) as? [String: Any]))
        }
        let seqs = events.map { ($0.1["seq"] as? NSNumber)?.int64Value ?? -1 }
        #expect(!seqs.isEmpty)
        #expect(seqs == Array(Int64(1)...Int64(seqs.count)), "one counter over fills and orders, rising by exactly 1")

        let prices = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: pricesPath))).map { FixedDecimal($0)! }
        let model = SMACrossoverModel.signals(prices: prices, fast: 5, slow: 20, quantity: 10)
        #expect(model.count > 10)
        let fills = events.filter { $0.0 == "fill.\(rich.userID).\($0.1["strategy_id"] as? String ?? "")" }
        #expect(fills.count == model.count, "a fill for every signal of the model")
        for (fill, signal) in zip(fills, model) {
            let payload = fill.1
            #expect(payload["transaction_type"] as? String == signal.side)
            #expect((payload["fill_quantity"] as? NSNumber)?.int64Value == signal.quantity)
            #expect(FixedDecimal((payload["fill_price"] as? NSNumber)?.stringValue ?? "") == prices[signal.index], "filled at the triggering tick's price")
            #expect(payload["status"] as? String == "FILLED")
            let row = try db.query("SELECT status, filled_quantity, average_price::text, order_id FROM trades WHERE trade_id = $1::uuid",
                                   [payload["trade_id"] as? String ?? ""]).rows
            #expect(row.count == 1)
            #expect(row.first?[0] == "FILLED" && Int64(row.first?[1] ?? "") == signal.quantity)
            #expect(FixedDecimal(row.first?[2] ?? "") == prices[signal.index])
            #expect(row.first?[3] == payload["order_id"] as? String)
        }
        let smallEvents = events.filter { $0.0.hasPrefix("order.\(small.userID).") || $0.0.hasPrefix("fill.\(small.userID).") }
        #expect(!smallEvents.isEmpty)
        for event in smallEvents {
            #expect(event.0.hasPrefix("order."), "no fill for the user over max_position_size")
            #expect(event.1["status"] as? String == "REJECTED")
            #expect((event.1["reason"] as? String)?.contains("max_position_size") == true)
        }
        #expect(try db.query("SELECT count(*) FROM trades t JOIN strategies s USING (strategy_id) WHERE s.user_id = $1::uuid AND t.status = 'REJECTED'",
                             [small.userID]).scalar == String(smallEvents.count))
        // The replay endpoint serves exactly what was published, from the database.
        #expect(captured.replayed == captured.live)
        #expect(captured.end?["count"] == captured.live.count)
        #expect(try db.query("SELECT count(*) FROM bus_events").scalar == String(captured.live.count))
        // The rich user's position: the model's net quantity, one non-CLOSED row at most.
        let net = model.reduce(Int64(0)) { $0 + ($1.side == "BUY" ? $1.quantity : -$1.quantity) }
        let open = try db.query("SELECT coalesce(sum(quantity), 0) FROM positions WHERE user_id = $1::uuid AND status <> 'CLOSED'", [rich.userID]).scalar
        #expect(open == String(net))
        // Performance records: every execution of the strategy counted for its IST day.
        let perf = try db.query("""
            SELECT sum(p.total_trades), count(*) FROM strategy_performance p JOIN strategies s USING (strategy_id)
            WHERE s.user_id = $1::uuid
            """, [rich.userID]).rows[0]
        #expect(Int(perf[0] ?? "0") == model.count)
        // The materialized view is refreshed at shutdown and shows the day's filled trades.
        let summary = try db.query("SELECT total_trades FROM daily_performance_summary WHERE user_id = $1::uuid", [rich.userID]).rows
        #expect(summary.reduce(0) { $0 + (Int($1[0] ?? "0") ?? 0) } == model.count)
    }
}

@Suite("Bus seq across restarts")
struct BusSequenceRestartTests {
    @Test func seqContinuesWithoutReuseAfterARestartAndPositionsCarryOver() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonOrdersTests.addUser(db, "restart", maxPositionSize: "100000000")
        for (run, seed) in [(1, "11"), (2, "12")] {
            let daemon = try DaemonProcess(databaseURL: url)
            #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "1500", seed, "\(daemon.directory)/p.json"]) == 0)
            Thread.sleep(forTimeInterval: 1.5)
            #expect(daemon.stop() == 0, "run \(run) stops cleanly")
        }
        let seqs = try db.query("SELECT seq FROM bus_events ORDER BY seq").rows.compactMap { $0[0].flatMap { Int64($0) } }
        #expect(seqs.count > 4)
        #expect(seqs == Array(Int64(1)...Int64(seqs.count)), "contiguous from 1 across both runs, nothing reused")
        // One non-CLOSED row at most, and its quantity is the net of every fill of both runs.
        let net = try db.query("""
            SELECT coalesce(sum(CASE WHEN t.transaction_type = 'BUY' THEN t.filled_quantity ELSE -t.filled_quantity END), 0)
            FROM trades t JOIN strategies s USING (strategy_id) WHERE s.user_id = $1::uuid
            """, [ids.userID]).scalar
        let open = try db.query("SELECT count(*), coalesce(sum(quantity), 0) FROM positions WHERE user_id = $1::uuid AND status <> 'CLOSED'", [ids.userID]).rows[0]
        #expect(Int(open[0] ?? "0")! <= 1)
        #expect(open[1] == net)
    }
}
