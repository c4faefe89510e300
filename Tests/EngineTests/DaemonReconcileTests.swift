import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore

/// Reconciliation at every gateway hello (docs/protocol.md, "Reconciliation"), driven end to end
/// with the stand-in gateway (Tests/python/gateway.py), whose broker book survives its restarts.
@Suite("Reconciliation of live brokers with their gateways, end to end")
struct DaemonReconcileTests {
    static let timing = [
        "ALGOTRADER_GATEWAY_HEARTBEAT_INTERVAL_MS": "200",
        "ALGOTRADER_GATEWAY_HEARTBEAT_TIMEOUT_MS": "1500",
        "ALGOTRADER_GATEWAY_RESEND_INTERVAL_MS": "300",
    ]

    struct GatewayLog: Decodable {
        let received: [[String]]
        let reconciled: [Reconciled]
        let welcome: Welcome
    }

    struct Reconciled: Decodable {
        let status: String
        let applied: Int
        let unknown_orders: [String]
        let differences: [String]
    }

    struct Welcome: Decodable {
        struct Instrument: Decodable, Equatable {
            let exchange: String
            let symbol: String
            let instrument_token: Int64
        }
        let broker_ids: [String]
        let instruments: [Instrument]?
        let unknown_instruments: [String]?
    }

    /// Starts the stand-in, waits for READY (its brokers reconciled), and returns it.
    static func readyGateway(_ dir: String, _ brokerID: String, _ options: [String]) throws -> Process {
        for file in ["gateway.ready", "gateway.stop"] { try? FileManager.default.removeItem(atPath: "\(dir)/\(file)") }
        let gateway = try DaemonGatewayTests.startGateway(dir, brokerID: brokerID, ["--await-grant"] + options)
        #expect(HostileInputTests.waitFor(30) { FileManager.default.fileExists(atPath: "\(dir)/gateway.ready") },
                "the engine welcomed the gateway and reconciled its broker")
        return gateway
    }

    /// Stops the stand-in (it writes its log and its broker's book) and reads the log.
    static func stop(_ gateway: Process, _ dir: String) throws -> GatewayLog {
        #expect(FileManager.default.createFile(atPath: "\(dir)/gateway.stop", contents: nil))
        gateway.waitUntilExit()
        #expect(gateway.terminationStatus == 0)
        return try JSONDecoder().decode(GatewayLog.self, from: Data(contentsOf: URL(fileURLWithPath: "\(dir)/gateway.json")))
    }

    static func count(_ db: PostgresConnection, _ sql: String, _ parameters: [String?] = []) throws -> Int {
        Int(try db.query(sql, parameters).scalar ?? "-1") ?? -1
    }

    /// Publishes a price path and waits until every tick is stored and the strategy's orders
    /// stopped coming and none is PENDING.
    static func trade(_ db: PostgresConnection, _ daemon: DaemonProcess, _ brokerID: String, seed: String, ticks: Int = 3000) throws {
        let before = try count(db, "SELECT count(*) FROM market_data WHERE \"interval\" = 'tick'")
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "\(ticks)", seed,
                                                                   "\(daemon.directory)/prices-\(seed).json"]) == 0)
        var last = -1
        let settled = HostileInputTests.waitFor(40) {
            let placed = (try? count(db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid", [brokerID])) ?? -1
            let ticksIn = (try? count(db, "SELECT count(*) FROM market_data WHERE \"interval\" = 'tick'")) ?? -1
            let pending = (try? count(db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid AND status = 'PENDING'", [brokerID])) ?? -1
            defer { last = placed }
            Thread.sleep(forTimeInterval: 0.25)
            return ticksIn == before + ticks && placed > 0 && pending == 0 && placed == last
        }
        #expect(settled, "the strategy's orders settled")
    }

    /// The broker's net per "SYMBOL" from the stand-in's book file (its executions and offsets).
    static func brokerNet(_ path: String) throws -> [String: Int64] {
        let book = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var net: [String: Int64] = [:]
        for e in book["executions"] as? [[String: Any]] ?? [] {
            let q = (e["fill_quantity"] as? NSNumber)?.int64Value ?? 0
            net[e["symbol"] as? String ?? "", default: 0] += (e["transaction_type"] as? String == "BUY" ? q : -q)
        }
        return net
    }

    static func enginePosition(_ db: PostgresConnection, _ userID: String, _ symbol: String) throws -> Int64 {
        Int64(try db.query("SELECT coalesce(sum(quantity), 0) FROM positions WHERE user_id = $1::uuid AND symbol = $2 AND status <> 'CLOSED'",
                           [userID, symbol]).scalar ?? "") ?? -1
    }

    @Test func executionsTheBrokerMadeWhileTheEngineWasKilledAreAppliedOnceAtRestart() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonGatewayTests.liveUser(db, "rec")
        var daemon = try DaemonProcess(databaseURL: url, environment: Self.timing)
        let dir = daemon.directory, book = "\(dir)/broker-book.json"
        defer { _ = daemon.stop() }

        // The broker accepts the strategy's orders and leaves them working.
        var gateway = try Self.readyGateway(dir, ids.brokerID, ["--no-fill", "--book", book])
        try Self.trade(db, daemon, ids.brokerID, seed: "7")
        _ = try Self.stop(gateway, dir)
        let working = try db.query("SELECT order_id FROM trades WHERE broker_id = $1::uuid AND status IN ('OPEN', 'PARTIALLY_FILLED') ORDER BY 1",
                                   [ids.brokerID]).rows.map { $0[0] ?? "" }
        #expect(!working.isEmpty, "orders were left working at the broker")

        // The engine dies; meanwhile the broker fills every working order, reporting to no one.
        daemon.kill()
        daemon = try DaemonProcess(databaseURL: url, environment: Self.timing, directory: dir)
        gateway = try Self.readyGateway(dir, ids.brokerID, ["--fill-working", "--book", book])
        let first = try Self.stop(gateway, dir)
        let done = try #require(first.reconciled.first)
        #expect(done.status == "clean" && done.differences.isEmpty, "\(done)")
        #expect(done.applied == working.count, "each missed execution applied: \(done.applied) of \(working.count)")
        let request = try #require(first.received.first { $0[0] == "reconcile.request" })
        for orderID in working { #expect(request[1].contains(orderID), "the restarted engine re-read working order \(orderID)") }

        for orderID in working {
            #expect(try db.query("SELECT status FROM trades WHERE order_id = $1", [orderID]).scalar == "FILLED")
            #expect(try Self.count(db, """
                SELECT count(*) FROM trade_logs l JOIN trades t USING (trade_id) WHERE t.order_id = $1 AND l.data->>'exec_id' = $1 || '-away'
                """, [orderID]) == 1, "the execution is stored once")
            #expect(try Self.count(db, "SELECT count(*) FROM bus_events e JOIN trades t USING (trade_id) WHERE t.order_id = $1 AND e.event = 'fill'",
                                   [orderID]) == 1, "and published once")
        }
        let net = try Self.brokerNet(book)
        #expect(try Self.enginePosition(db, ids.userID, "RELIANCE") == net["RELIANCE", default: 0], "positions equal the broker's")

        // A second reconciliation of the same account (a gateway restart) applies nothing again.
        let logsBefore = try Self.count(db, "SELECT count(*) FROM trade_logs")
        gateway = try Self.readyGateway(dir, ids.brokerID, ["--book", book])
        let second = try #require(try Self.stop(gateway, dir).reconciled.first)
        #expect(second.status == "clean" && second.applied == 0, "\(second)")
        #expect(try Self.count(db, "SELECT count(*) FROM trade_logs") == logsBefore)
        #expect(try Self.count(db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile' AND log_level = 'INFO'") >= 3)
        #expect(try Self.enginePosition(db, ids.userID, "RELIANCE") == net["RELIANCE", default: 0])
    }

    @Test func aDifferenceNothingExplainsHaltsTheBrokersStrategiesAndHandPlacedOrdersAreLeftAlone() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonGatewayTests.liveUser(db, "diff")
        let daemon = try DaemonProcess(databaseURL: url, environment: Self.timing)
        let dir = daemon.directory, book = "\(dir)/broker-book.json"
        defer { _ = daemon.stop() }
        var gateway = try Self.readyGateway(dir, ids.brokerID, ["--book", book])
        try Self.trade(db, daemon, ids.brokerID, seed: "7")
        _ = try Self.stop(gateway, dir)

        // Someone bought INFY by hand (explained: not the engine's) and RELIANCE moved by 5 with no
        // order the gateway can show (unexplained).
        gateway = try Self.readyGateway(dir, ids.brokerID, ["--book", book, "--unknown-order", "INFY:3", "--position-offset", "RELIANCE:5"])
        let done = try #require(try Self.stop(gateway, dir).reconciled.first)
        #expect(done.status == "halted" && done.unknown_orders.count == 1 && done.unknown_orders[0].hasPrefix("HAND"), "\(done)")
        #expect(done.differences.count == 1 && done.differences[0].hasPrefix("NSE:RELIANCE: the broker's day position is 5"), "\(done.differences)")

        let logged = try db.query("""
            SELECT message, jsonb_array_length(data->'differences') FROM system_logs WHERE component = 'reconcile' AND log_level = 'ERROR'
            """).rows
        #expect(logged.count == 1 && logged.first?[1] == "1" && logged.first?[0]?.contains("its strategies halted") == true, "\(logged)")
        // Both of the user's strategies trade through it (the user's only active broker).
        let strategies = try Self.count(db, "SELECT count(*) FROM strategies WHERE user_id = $1::uuid", [ids.userID])
        #expect(strategies == 2)
        #expect(try Self.count(db, """
            SELECT count(*) FROM halts h JOIN strategies s USING (strategy_id)
            WHERE s.user_id = $1::uuid AND h.breach = 'reconcile' AND h.source = 'breach' AND h.resumed_at IS NULL
            """, [ids.userID]) == strategies, "the broker's strategies are halted until an operator resumes them")
        #expect(try Self.count(db, "SELECT count(*) FROM audit_log WHERE actor = 'engine:reconcile' AND action = 'halt'") == strategies)

        // New orders for the broker are refused while the difference stands.
        let before = try Self.count(db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid", [ids.brokerID])
        gateway = try DaemonGatewayTests.startGateway(dir, brokerID: ids.brokerID, ["--await-grant", "--book", book])
        defer { if gateway.isRunning { gateway.terminate() } }
        Thread.sleep(forTimeInterval: 1)
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "3000", "8", "\(dir)/prices2.json"]) == 0)
        #expect(HostileInputTests.waitFor(20) {
            ((try? Self.count(db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid", [ids.brokerID])) ?? 0) > before
        }, "the strategy kept signalling")
        let after = try db.query("SELECT status, metadata->>'reason' FROM trades WHERE broker_id = $1::uuid ORDER BY order_timestamp OFFSET $2::int",
                                 [ids.brokerID, String(before)]).rows
        for row in after {
            #expect(row[0] == "REJECTED" && row[1]?.contains("halted") == true, "\(row)")
        }
    }

    @Test func anExpiredBrokerSessionRejectsThatBrokersOrdersWithTheReason() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonGatewayTests.liveUser(db, "expired")
        let daemon = try DaemonProcess(databaseURL: url, environment: Self.timing)
        defer { _ = daemon.stop() }
        let gateway = try Self.readyGateway(daemon.directory, ids.brokerID, ["--expire-session", "TokenException: Incorrect api_key or access_token."])
        defer { if gateway.isRunning { gateway.terminate() } }
        #expect(HostileInputTests.waitFor(10) {
            ((try? Self.count(db, "SELECT count(*) FROM system_logs WHERE message LIKE '%session%expired%'")) ?? 0) > 0
        }, "the expiry is logged")
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "2000", "7", "\(daemon.directory)/p.json"]) == 0)
        #expect(HostileInputTests.waitFor(20) {
            ((try? Self.count(db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid", [ids.brokerID])) ?? 0) > 0
        })
        let rows = try db.query("SELECT status, metadata->>'reason' FROM trades WHERE broker_id = $1::uuid", [ids.brokerID]).rows
        for row in rows {
            #expect(row[0] == "REJECTED"
                    && row[1] == "halted: broker session expired for live broker \(ids.brokerID): TokenException: Incorrect api_key or access_token.",
                    "\(row)")
        }
    }

    @Test func aFeedConnectionGetsItsInstrumentTokensFromTheInstrumentMasterAndNoReconciliation() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonGatewayTests.liveUser(db, "feeder")
        try db.query("""
            INSERT INTO instruments (exchange, tradingsymbol, instrument_token, segment, instrument_type, lot_size, tick_size)
            VALUES ('NSE', 'RELIANCE', 738561, 'NSE', 'EQ', 1, 0.05), ('NSE', 'INFY', 408065, 'NSE', 'EQ', 1, 0.05)
            """)
        let daemon = try DaemonProcess(databaseURL: url, environment: Self.timing)
        defer { _ = daemon.stop() }
        let gateway = try Self.readyGateway(daemon.directory, ids.brokerID, ["--feed", "NSE:RELIANCE,nse:INFY,NSE:NOPE"])
        let log = try Self.stop(gateway, daemon.directory)
        #expect(log.welcome.broker_ids == [ids.brokerID])
        #expect(log.welcome.instruments == [.init(exchange: "NSE", symbol: "INFY", instrument_token: 408065),
                                            .init(exchange: "NSE", symbol: "RELIANCE", instrument_token: 738561)])
        #expect(log.welcome.unknown_instruments == ["NSE:NOPE"])
        #expect(!log.received.contains { $0[0].hasPrefix("reconcile") }, "a feed is not reconciled")
        #expect(try Self.count(db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile'") == 0)
    }
}
