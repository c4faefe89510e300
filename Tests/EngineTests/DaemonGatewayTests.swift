import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore

/// Live execution through a broker gateway written with pyzmq (CONTRACT.md section 3): requests
/// resent with the same order_id until acknowledged, repeated reports changing nothing, fills
/// stored and published once, and a silent gateway halting its broker's strategies.
@Suite("Broker gateway protocol driven end to end")
struct DaemonGatewayTests {
    /// A trader whose broker account is live (executed by a gateway), without the sample rows'
    /// placeholder order.
    static func liveUser(_ db: PostgresConnection, _ name: String) throws -> SampleRows.IDs {
        let ids = try DaemonOrdersTests.addUser(db, name, maxPositionSize: "100000000")
        try db.query("UPDATE brokers SET execution_mode = 'live' WHERE broker_id = $1::uuid", [ids.brokerID])
        try db.query("DELETE FROM trades WHERE trade_id = $1::uuid", [ids.tradeID])
        return ids
    }

    /// Tests/python/gateway.py for one broker on the daemon's gateway endpoint, with `options`.
    static func startGateway(_ dir: String, brokerID: String, _ options: [String]) throws -> Process {
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gateway.arguments = ["python3", Repository.root.appendingPathComponent("Tests/python/gateway.py").path,
                             "ipc://\(dir)/gateway.ipc", brokerID, "\(dir)/gateway.ready", "\(dir)/gateway.stop",
                             "\(dir)/gateway.json"] + options
        try gateway.run()
        return gateway
    }

    @Test func liveOrdersGoThroughTheGatewayOnceDespiteResendsAndDuplicateReportsAndSilenceHalts() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try Self.liveUser(db, "live")
        let daemon = try DaemonProcess(databaseURL: url, environment: [
            "ALGOTRADER_GATEWAY_HEARTBEAT_INTERVAL_MS": "200",
            "ALGOTRADER_GATEWAY_HEARTBEAT_TIMEOUT_MS": "1500",
            "ALGOTRADER_GATEWAY_RESEND_INTERVAL_MS": "300",
        ])
        let dir = daemon.directory
        let gateway = try Self.startGateway(dir, brokerID: ids.brokerID, ["--drop-first", "--duplicate-reports"])
        defer { if gateway.isRunning { gateway.terminate() } }
        var deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: "\(dir)/gateway.ready") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(FileManager.default.fileExists(atPath: "\(dir)/gateway.ready"), "the engine welcomed the gateway")

        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "3000", "7", "\(dir)/prices.json"]) == 0)
        // Every live order ends FILLED once the gateway's resent requests and reports settle.
        func unsettled() throws -> Int {
            Int(try db.query("SELECT count(*) FROM trades WHERE broker_id = $1::uuid AND status NOT IN ('FILLED', 'REJECTED')",
                             [ids.brokerID]).scalar ?? "1") ?? 1
        }
        // Settled means: every tick stored, orders placed, none of them working, and no new order
        // for a poll interval. (Waiting for "none working" alone returned at once when it ran
        // before the first order was committed: zero orders are zero unsettled ones.)
        func placed() throws -> Int {
            Int(try db.query("SELECT count(*) FROM trades WHERE broker_id = $1::uuid", [ids.brokerID]).scalar ?? "0") ?? 0
        }
        func storedTicks() throws -> Int {
            Int(try db.query("SELECT count(*) FROM market_data WHERE \"interval\" = 'tick'").scalar ?? "0") ?? 0
        }
        deadline = Date().addingTimeInterval(30)
        var lastPlaced = -1
        while Date() < deadline {
            let now = try placed()
            if try storedTicks() == 3000 && now > 0 && unsettled() == 0 {
                if now == lastPlaced { break }
                lastPlaced = now
            } else {
                lastPlaced = -1
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(try placed() > 0 && unsettled() == 0)
        Thread.sleep(forTimeInterval: 1.2)  // the last report.acks reach the gateway
        #expect(FileManager.default.createFile(atPath: "\(dir)/gateway.stop", contents: nil), "the stop file tells the Python peers to finish")
        gateway.waitUntilExit()
        #expect(gateway.terminationStatus == 0)

        struct GatewayLog: Decodable {
            let received: [[String]]
            let acks: [[String: String]]
            let errors: [String]
        }
        let log = try JSONDecoder().decode(GatewayLog.self, from: Data(contentsOf: URL(fileURLWithPath: "\(dir)/gateway.json")))
        #expect(log.errors.count == 2, "malformed gateway messages are answered with an error: \(log.errors)")
        #expect(log.errors.last?.contains("order_id") == true)
        let requests = try log.received.filter { $0[0] == "order.new" }.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0[1].utf8)) as? [String: Any])
        }
        let orders = try db.query("""
            SELECT order_id, status, filled_quantity, quantity, average_price::text, trade_id::text FROM trades
            WHERE broker_id = $1::uuid AND status = 'FILLED' ORDER BY order_timestamp, order_id
            """, [ids.brokerID]).rows
        #expect(orders.count > 5, "the strategy traded through the gateway")
        for order in orders {
            let orderID = order[0] ?? ""
            let copies = requests.filter { $0["order_id"] as? String == orderID }
            #expect(copies.count >= 2, "the first copy was dropped, so the engine resent it")
            #expect(Set(copies.compactMap { $0["request_id"] as? String }).count == 1, "resent with the same request_id and order_id")
            #expect(order[2] == order[3], "filled in full")
            let reference = FixedDecimal((copies.first?["reference_price"] as? NSNumber)?.stringValue ?? "")
            #expect(FixedDecimal(order[4] ?? "") == reference, "average of the two executions at the reference price")
            // Two executions, each stored once although each report came twice.
            let fills = try db.query("SELECT data->>'exec_id' FROM trade_logs WHERE trade_id = $1::uuid AND data ? 'exec_id' ORDER BY 1",
                                     [order[5] ?? ""]).rows.map { $0[0] ?? "" }
            #expect(fills == ["\(orderID)-0", "\(orderID)-1"])
            let events = try db.query("SELECT count(*) FROM bus_events WHERE trade_id = $1::uuid AND event = 'fill'", [order[5] ?? ""]).scalar
            #expect(events == "2", "one fill event per execution")
        }
        #expect(log.acks.contains { $0["status"] == "duplicate" }, "repeated reports were acknowledged and changed nothing")
        #expect(log.acks.contains { $0["status"] == "applied" })
        let net = try db.query("""
            SELECT coalesce(sum(CASE WHEN transaction_type = 'BUY' THEN filled_quantity ELSE -filled_quantity END), 0)
            FROM trades WHERE broker_id = $1::uuid
            """, [ids.brokerID]).scalar
        #expect(try db.query("SELECT coalesce(sum(quantity), 0) FROM positions WHERE user_id = $1::uuid AND status <> 'CLOSED'",
                             [ids.userID]).scalar == net)

        // Silence: the gateway is gone; within the timeout its broker's strategy is halted.
        deadline = Date().addingTimeInterval(10)
        func silentLogged() throws -> Bool {
            try db.query("SELECT count(*) FROM system_logs WHERE component = 'gateway' AND message LIKE '%silent%'").scalar != "0"
        }
        while try !silentLogged() && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(try silentLogged())
        let before = try db.query("SELECT count(*) FROM trades WHERE broker_id = $1::uuid", [ids.brokerID]).scalar ?? "0"
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "3000", "8", "\(dir)/prices2.json"]) == 0)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(daemon.stop() == 0)
        let after = try db.query("""
            SELECT status, metadata->>'reason' FROM trades WHERE broker_id = $1::uuid
            ORDER BY order_timestamp OFFSET $2::int
            """, [ids.brokerID, before]).rows
        #expect(!after.isEmpty, "the strategy kept signalling")
        for row in after {
            #expect(row[0] == "REJECTED")
            #expect(row[1]?.contains("no gateway connected") == true)
        }
    }
}
