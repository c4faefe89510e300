import Foundation
import Postgres
import Security
import TestSupport
import Testing
import TradingCore

/// Issue 20's end-to-end checks: the real daemon, the Zerodha gateway on the official kiteconnect
/// SDK (`python -m algotrader_brokers gateway`) and the fake Kite Connect it talks to
/// (brokers/python/tests/fake_kite.py, Kite's documented REST and Ticker API), with a strategy on
/// the Python SDK placing the orders.
@Suite("Trading on Zerodha through the Kite gateway, end to end")
struct KiteEngineTests {
    static let apiKey = "kkey-E2E-7731", accessToken = "tok-E2E-SECRET-1187", kiteUser = "AB1234"
    static let timing = [
        "ALGOTRADER_GATEWAY_HEARTBEAT_INTERVAL_MS": "200",
        "ALGOTRADER_GATEWAY_HEARTBEAT_TIMEOUT_MS": "1500",
        "ALGOTRADER_GATEWAY_RESEND_INTERVAL_MS": "300",
    ]

    /// A user whose one external strategy trades through a live zerodha broker, its credentials
    /// sealed under `key`; the fake Kite with that account's session.
    struct Rig {
        let url: String
        let db: PostgresConnection
        let ids: SampleRows.IDs
        let strategyID: String
        let token: String
        let key: CredentialKey
        let fake: FakeKiteProcess
        let apiSecret: String

        init(_ name: String) throws {
            let apiSecret = "secret-\(UUID().uuidString)"
            self.apiSecret = apiSecret
            url = try TestDatabase.makeMigrated()
            db = try TestDatabase.connect(url)
            (ids, strategyID, token) = try ExternalStrategyTests.externalStrategy(db, url: url, name: "kite-\(name)", username: name)
            key = try CredentialKey.generate()
            let plain = Array(JSONObjectWriter.object {
                $0.add("api_key", KiteEngineTests.apiKey)
                $0.add("api_secret", apiSecret)
                $0.add("access_token", KiteEngineTests.accessToken)
                $0.add("user_id", KiteEngineTests.kiteUser)
            }.utf8)
            try db.query("UPDATE brokers SET execution_mode = 'live', api_credentials_encrypted = $2::jsonb WHERE broker_id = $1::uuid",
                         [ids.brokerID, try CredentialCipher.seal(plain, key: key, userID: ids.userID, brokerID: ids.brokerID)])
            try db.query("DELETE FROM trades WHERE trade_id = $1::uuid", [ids.tradeID])
            let directory = NSTemporaryDirectory() + "kite-e2e-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            fake = try FakeKiteProcess(directory: directory)
            try fake.control("session", ["api_key": KiteEngineTests.apiKey, "access_token": KiteEngineTests.accessToken,
                                         "user_id": KiteEngineTests.kiteUser])
        }

        func daemon(directory: String? = nil) throws -> DaemonProcess {
            let daemon = try DaemonProcess(databaseURL: url, environment: KiteEngineTests.timing.merging([
                "ALGOTRADER_SECURITY_CREDENTIALS_KEY": key.line,
                "ALGOTRADER_GATEWAY_IPC_BROKERS": ids.brokerID,
            ]) { $1 }, directory: directory)
            #expect(daemon.waitUntilStarted())
            return daemon
        }

        /// The Zerodha gateway's configuration for the broker, on the daemon's gateway socket.
        func gatewayConfig(_ daemon: DaemonProcess) -> String {
            """
                [engine]
                endpoint = "ipc://\(daemon.directory)/gateway.ipc"
                [broker]
                api_type = "zerodha"
                id = "kite-e2e"
                broker_ids = ["\(ids.brokerID)"]
                [kite]
                root = "\(fake.root)"
                ws_root = "\(fake.wsRoot)"
                poll_seconds = 1.0
                [log]
                level = "debug"
                """
        }

        /// The Zerodha gateway, once it is welcomed with the broker's credentials and reconciled.
        func gateway(_ daemon: DaemonProcess) async throws -> BrokerProcess {
            let gateway = try BrokerProcess("gateway", config: gatewayConfig(daemon), directory: daemon.directory)
            #expect(await Poll.until(30) {
                ((try? KiteEngineTests.count(db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile' AND message LIKE '%' || $1 || '%'",
                                             [ids.brokerID])) ?? 0) > 0
            }, "the gateway was welcomed and its broker reconciled: \(gateway.log.suffix(3_000))")
            return gateway
        }

        /// The strategy (Tests/python/kite_orders_strategy.py in `mode`), once it has had its
        /// first tick: price paths are published until it writes `out`, which it does at its first
        /// tick. (A process is let in only once it is connected, and a replacement only once the
        /// one before has been silent for the heartbeat timeout: no fixed wait fits both.)
        func strategy(_ daemon: DaemonProcess, mode: String, out: String) async throws -> StrategyProcess {
            let strategy = try StrategyProcess(script: "Tests/python/kite_orders_strategy.py", arguments: [mode, out],
                                               endpoint: ExternalStrategyTests.endpoint(daemon), strategy: strategyID, token: token,
                                               directory: daemon.directory)
            var round = 0
            let ticked = await Poll.until(30) {
                round += 1
                _ = try? DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "10", "\(round)", "\(out).prices.json"])
                return FileManager.default.fileExists(atPath: out)
            }
            #expect(ticked, "the strategy had a tick: \(strategy.stderr.suffix(2_000))")
            return strategy
        }

        /// Kite's orders for the account, each with the engine trade its tag names.
        func kiteOrders() throws -> [(kite: [String: Any], trade: [String?])] {
            try fake.orders(user: KiteEngineTests.kiteUser).map { order in
                let tag = order["tag"] as? String ?? "-"
                let trade = try db.query("""
                    SELECT trade_id::text, status, quantity::text, price::text, trigger_price::text, filled_quantity::text, average_price::text, order_type
                    FROM trades WHERE left(replace(order_id, '-', ''), 20) = $1
                    """, [tag]).rows.first ?? []
                return (order, trade)
            }
        }

        func kiteTrades() throws -> [[String: Any]] {
            ((try fake.control("state")["trades"] as? [String: Any])?[KiteEngineTests.kiteUser] as? [[String: Any]]) ?? []
        }
    }

    static func count(_ db: PostgresConnection, _ sql: String, _ parameters: [String?] = []) throws -> Int {
        Int(try db.query(sql, parameters).scalar ?? "-1") ?? -1
    }

    static func number(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? -1 }

    /// A Kite order's status in the engine's terms.
    static func engineStatus(_ kite: [String: Any]) -> String {
        switch kite["status"] as? String ?? "" {
        case "COMPLETE": "FILLED"
        case "CANCELLED": "CANCELLED"
        case "REJECTED": "REJECTED"
        default: (kite["filled_quantity"] as? Int ?? 0) > 0 ? "PARTIALLY_FILLED" : "OPEN"
        }
    }

    /// Every Kite order has its engine trade, with the same status, quantities and prices; each
    /// Kite execution is one engine execution and one bus fill; the engine's position is Kite's net.
    static func expectEngineEqualsKite(_ rig: Rig, _ context: String) throws {
        let orders = try rig.kiteOrders()
        let trades = try rig.kiteTrades()
        for (kite, trade) in orders {
            let id = kite["order_id"] as? String ?? ""
            guard trade.count == 8, let tradeID = trade[0] else {
                Issue.record("\(context): Kite order \(id) has no engine trade: \(kite)")
                continue
            }
            #expect(trade[1] == engineStatus(kite), "\(context): \(id) \(kite["status"] ?? "") vs \(trade)")
            #expect(Int(trade[2] ?? "") == (kite["quantity"] as? Int), "\(context): quantity of \(id): \(trade)")
            #expect(Int(trade[5] ?? "") == (kite["filled_quantity"] as? Int), "\(context): filled of \(id): \(trade)")
            if ["LIMIT", "SL"].contains(kite["order_type"] as? String) {
                #expect(Double(trade[3] ?? "") == number(kite["price"]), "\(context): price of \(id): \(trade)")
            }
            if ["SL", "SL-M"].contains(kite["order_type"] as? String) {
                #expect(Double(trade[4] ?? "") == number(kite["trigger_price"]), "\(context): trigger of \(id): \(trade)")
            }
            if (kite["filled_quantity"] as? Int ?? 0) > 0 {
                #expect(abs((Double(trade[6] ?? "") ?? 0) - number(kite["average_price"])) < 0.0001, "\(context): average of \(id): \(trade)")
            }
            let executions = trades.filter { $0["order_id"] as? String == id }.count
            #expect(try count(rig.db, "SELECT count(*) FROM trade_logs WHERE trade_id = $1::uuid AND data ? 'exec_id'", [tradeID]) == executions,
                    "\(context): each of \(id)'s \(executions) execution(s) stored once")
            #expect(try count(rig.db, "SELECT count(*) FROM bus_events WHERE trade_id = $1::uuid AND event = 'fill'", [tradeID]) == executions,
                    "\(context): and published once")
        }
        let net = trades.reduce(Int64(0)) {
            let quantity = Int64($1["quantity"] as? Int ?? 0)
            return $0 + ($1["transaction_type"] as? String == "BUY" ? quantity : -quantity)
        }
        let position = try rig.db.query("""
            SELECT coalesce(sum(quantity), 0)::text FROM positions WHERE user_id = $1::uuid AND symbol = 'RELIANCE' AND status <> 'CLOSED'
            """, [rig.ids.userID]).scalar
        #expect(Int64(position ?? "") == net, "\(context): the engine's position equals Kite's net \(net)")
    }

    /// Waits until the engine holds every Kite order in Kite's status.
    static func settle(_ rig: Rig, _ seconds: Double = 30) async -> Bool {
        await Poll.until(seconds) {
            guard let orders = try? rig.kiteOrders(), !orders.isEmpty else { return false }
            return orders.allSatisfy { $0.trade.count == 8 && $0.trade[1] == engineStatus($0.kite)
                && Int($0.trade[5] ?? "") == ($0.kite["filled_quantity"] as? Int) && Int($0.trade[2] ?? "") == ($0.kite["quantity"] as? Int) }
        }
    }

    static func kiteOrder(_ rig: Rig, type: String) throws -> [String: Any] {
        try #require(try rig.fake.orders(user: kiteUser).first { $0["order_type"] as? String == type }, "a \(type) order at Kite")
    }

    @Test func eachOrderTypeModifyAndCancelReachKiteAndItsFillsComeBackAsKiteMadeThem() async throws {
        let rig = try Rig("kitetypes")
        let daemon = try rig.daemon()
        defer { _ = daemon.stop() }
        let gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let out = "\(daemon.directory)/orders.json"
        let strategy = try await rig.strategy(daemon, mode: "types", out: out)
        defer { strategy.kill() }

        // The four orders reach Kite; the strategy modifies the LIMIT and cancels the SL-M there.
        #expect(await Poll.until(30) {
            let orders = (try? rig.fake.orders(user: Self.kiteUser)) ?? []
            return orders.count == 4
                && orders.contains { $0["order_type"] as? String == "LIMIT" && $0["quantity"] as? Int == 3 && $0["modified"] as? Bool == true }
                && orders.contains { $0["order_type"] as? String == "SL-M" && $0["status"] as? String == "CANCELLED" }
        }, "Kite has the four orders, one modified and one cancelled: \(gateway.log.suffix(3_000)) \(strategy.stderr.suffix(2_000))")
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let base = try #require(Double(written["base"] as? String ?? ""))
        let limit = try Self.kiteOrder(rig, type: "LIMIT"), sl = try Self.kiteOrder(rig, type: "SL"), slm = try Self.kiteOrder(rig, type: "SL-M")
        #expect(Self.number(limit["price"]) == base - 40 && Self.number(sl["trigger_price"]) == base - 60 && Self.number(sl["price"]) == base - 61
                && Self.number(slm["trigger_price"]) == base - 70, "the prices the strategy sent: \(limit) \(sl) \(slm)")
        #expect(sl["status"] as? String == "TRIGGER PENDING")

        // Kite fills: the MARKET in two executions, the modified LIMIT, the SL once triggered.
        let market = try Self.kiteOrder(rig, type: "MARKET")
        try rig.fake.control("fill", ["order_id": market["order_id"] ?? "", "quantity": 2, "price": base])
        try rig.fake.control("fill", ["order_id": market["order_id"] ?? "", "price": base + 0.5])
        try rig.fake.control("fill", ["order_id": limit["order_id"] ?? ""])
        try rig.fake.control("trigger", ["order_id": sl["order_id"] ?? ""])
        try rig.fake.control("fill", ["order_id": sl["order_id"] ?? ""])
        let settled = await Self.settle(rig)
        #expect(settled, "the engine holds every order as Kite does: \((try? rig.kiteOrders())?.map { ($0.kite["status"] ?? "", $0.trade) } ?? [])")
        try Self.expectEngineEqualsKite(rig, "after the fills")
        #expect(try rig.kiteTrades().count == 4)

        // What the strategy heard: each of its orders' life as Kite made it.
        let events = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])?["events"] as? [[String]] ?? []
        for (name, last) in [("market", "FILLED"), ("limit", "FILLED"), ("sl", "FILLED"), ("slm", "CANCELLED")] {
            #expect(events.last { $0.first == name && !($0.last ?? "").hasPrefix("fill") }?.last == last, "\(name): \(events)")
        }
        #expect(events.filter { $0 == ["market", "fill 2"] || $0 == ["market", "fill 3"] }.count == 2, "two executions of the MARKET: \(events)")
        #expect(!gateway.log.contains(Self.accessToken), "the gateway never logs the access token")
    }

    /// With the gateway up the whole time (its unacknowledged reports and the reconciliation
    /// both bring the fills), and with it down too (only the reconciliation can).
    @Test(arguments: [false, true])
    func fillsKiteMadeWhileTheEngineWasKilledAreAppliedOnceAtRestart(gatewayDown: Bool) async throws {
        let rig = try Rig(gatewayDown ? "kiterestart2" : "kiterestart")
        var daemon = try rig.daemon()
        let dir = daemon.directory
        defer { _ = daemon.stop() }
        var gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let out = "\(dir)/orders.json"
        let strategy = try await rig.strategy(daemon, mode: "working", out: out)
        #expect(await Poll.until(30) {
            ((try? Self.count(rig.db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid AND status = 'OPEN'", [rig.ids.brokerID])) ?? 0) == 2
        }, "two orders working at Kite: \(gateway.log.suffix(2_000))")
        strategy.kill()

        // The engine dies (the gateway too, or it keeps running). Kite fills one order whole and
        // the other in part meanwhile; the gateway reconnects to the restarted engine (or starts
        // again), which reconciles.
        if gatewayDown { gateway.stop() }
        daemon.kill()
        let orders = try rig.fake.orders(user: Self.kiteUser).sorted { ($0["quantity"] as? Int ?? 0) < ($1["quantity"] as? Int ?? 0) }
        #expect(orders.count == 2)
        try rig.fake.control("fill", ["order_id": orders[0]["order_id"] ?? ""])
        try rig.fake.control("fill", ["order_id": orders[1]["order_id"] ?? "", "quantity": 1])
        let logsBefore = try Self.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile'")
        daemon = try rig.daemon(directory: dir)
        if gatewayDown { gateway = try BrokerProcess("gateway", config: rig.gatewayConfig(daemon), directory: dir) }
        #expect(await Poll.until(30) {
            ((try? Self.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile'")) ?? 0) > logsBefore
        }, "the gateway said hello to the restarted engine and was reconciled: \(gateway.log.suffix(3_000))")
        let settledAgain = await Self.settle(rig)
        #expect(settledAgain, "the engine holds both orders as Kite does: \((try? rig.kiteOrders())?.map { ($0.kite["status"] ?? "", $0.trade) } ?? [])")
        let logged = try rig.db.query("""
            SELECT log_level, message, data->>'applied' FROM system_logs WHERE component = 'reconcile' ORDER BY log_id DESC LIMIT 1
            """).rows
        #expect(logged.first?[0] == "INFO", "a clean reconciliation: \(logged)")
        if gatewayDown { #expect(logged.first?[2] == "2", "both missed executions applied by the reconciliation: \(logged)") }
        try Self.expectEngineEqualsKite(rig, "after the restart")

        // The rest of the working order fills with the engine up: the live path still works.
        try rig.fake.control("fill", ["order_id": orders[1]["order_id"] ?? ""])
        let settledLast = await Self.settle(rig)
        #expect(settledLast)
        try Self.expectEngineEqualsKite(rig, "after the last fill")
        #expect(try Self.count(rig.db, "SELECT count(*) FROM halts WHERE resumed_at IS NULL") == 0, "nothing was halted")
    }

    /// The publisher's last `kite feed status:` counters.
    static func feedStatus(_ feed: BrokerProcess) -> [String: Double] {
        guard let line = feed.log.split(separator: "\n").last(where: { $0.contains("kite feed status: ") }) else { return [:] }
        var fields: [String: Double] = [:]
        for pair in line.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
        }
        return fields
    }

    @Test func thePublishersTicksAreStoredOnceAndAForcedReconnectIsCountedAsAGap() async throws {
        let rig = try Rig("kitefeed")
        var tokens: [String: Int] = [:]
        for symbol in ["RELIANCE", "INFY"] {
            let token = try #require(try rig.fake.control("instrument_token?exchange=NSE&tradingsymbol=\(symbol)")["instrument_token"] as? Int)
            tokens[symbol] = token
            try rig.db.query("""
                INSERT INTO instruments (exchange, tradingsymbol, instrument_token, segment, instrument_type, lot_size, tick_size)
                VALUES ('NSE', $1, $2::bigint, 'NSE', 'EQ', 1, 0.05)
                """, [symbol, String(token)])
        }
        let daemon = try rig.daemon()
        defer { _ = daemon.stop() }
        // The engine's market_data.connect is the daemon folder's feed.ipc: the publisher binds it.
        let feed = try BrokerProcess("feed", config: """
            [engine]
            endpoint = "ipc://\(daemon.directory)/gateway.ipc"
            [broker]
            api_type = "zerodha"
            id = "kite-feed-e2e"
            broker_ids = ["\(rig.ids.brokerID)"]
            [kite]
            ws_root = "\(rig.fake.wsRoot)"
            [feed]
            publish_bind = "\(daemon.feed)"
            instruments = ["NSE:RELIANCE", "NSE:INFY"]
            mode = "full"
            stall_seconds = 5.0
            [log]
            level = "info"
            """, directory: daemon.directory)
        defer { feed.stop() }
        #expect(await Poll.until(30) { Self.feedStatus(feed)["open"] == 1 && feed.log.contains("subscribed 2 instrument") },
                "the publisher got its tokens from the engine and subscribed: \(feed.log.suffix(3_000))")
        await Poll.pause(1)  // the engine's SUB joins the publisher's PUB

        let stored = "SELECT count(*) FROM market_data WHERE \"interval\" = 'tick' AND symbol = $1"
        func send(_ symbol: String, _ count: Int, from: Double) throws {
            for n in 0..<count {
                let price = from + Double(n) * 0.05
                try rig.fake.control("ticks", ["ticks": [["instrument_token": tokens[symbol] ?? 0, "last_price": price, "last_quantity": 1,
                                                          "volume": 1_000 + n, "exchange_timestamp": Int(Date().timeIntervalSince1970)]]])
            }
        }
        try send("RELIANCE", 20, from: 2_500)
        try send("INFY", 10, from: 1_500)
        #expect(await Poll.until(20) {
            ((try? Self.count(rig.db, stored, ["RELIANCE"])) ?? 0) == 20 && ((try? Self.count(rig.db, stored, ["INFY"])) ?? 0) == 10
        }, "every tick Kite sent is stored: \(feed.log.suffix(2_000))")

        // Kite drops the connection: the SDK reconnects and resubscribes, and the time without
        // data is counted as a gap.
        try rig.fake.control("ws/drop", ["how": "abort"])
        #expect(await Poll.until(30) { Self.feedStatus(feed)["reconnects"] == 1 && Self.feedStatus(feed)["open"] == 1 },
                "reconnected: \(feed.log.suffix(2_000))")
        await Poll.pause(0.5)
        try send("RELIANCE", 15, from: 2_510)
        #expect(await Poll.until(20) { ((try? Self.count(rig.db, stored, ["RELIANCE"])) ?? 0) == 35 },
                "the ticks after the reconnect are stored: \(feed.log.suffix(2_000))")
        // Kite ends the session: the stream is refused with 403 and the publisher tells the
        // engine (failed before: the engine answered a feed's `session` with an error).
        try rig.fake.control("expire", ["access_token": Self.accessToken])
        #expect(await Poll.until(20) {
            ((try? Self.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'gateway' AND message LIKE '%session expired (gateway kite-feed-e2e)%'")) ?? 0) == 1
        }, "the feed's expiry reached the engine: \(feed.log.suffix(2_000))")
        #expect(feed.stop() == 0)
        let status = Self.feedStatus(feed)
        // The forced drop and the expiry's close; one gap; every tick published.
        #expect(status["gaps"] == 1 && (status["drops"] ?? 0) >= 2 && status["expired"] == 1 && status["received"] == 45
                && status["published"] == 45 && status["hwm_dropped"] == 0, "\(status)")
        await Poll.pause(0.5)
        #expect(try Self.count(rig.db, stored, ["RELIANCE"]) == 35 && Self.count(rig.db, stored, ["INFY"]) == 10, "each tick once")
        #expect(try Self.count(rig.db, """
            SELECT count(*) FROM (SELECT close FROM market_data WHERE "interval" = 'tick' AND symbol = 'RELIANCE' GROUP BY close HAVING count(*) > 1) d
            """) == 0, "no tick twice")
        #expect(!feed.log.contains(Self.accessToken), "the publisher never logs the access token")
    }

    @Test func anExpiredKiteSessionRejectsOrdersWithTheReasonUntilBrokerLoginAndReloadRenewIt() async throws {
        let rig = try Rig("kiterenew")
        try rig.db.query("UPDATE users SET role = 'admin', password_hash = $2 WHERE user_id = $1::uuid",
                         [rig.ids.userID, try PasswordHasher(logN: 10).hash("renew-pw")])
        let daemon = try rig.daemon()
        let dir = daemon.directory
        defer { _ = daemon.stop() }
        let gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let sessionLogs = "SELECT count(*) FROM system_logs WHERE component = 'gateway' AND message LIKE '%' || $1 || '%'"

        // Kite ends the day's session: the gateway's next read is refused, and the engine is told.
        try rig.fake.control("expire", ["access_token": Self.accessToken])
        #expect(await Poll.until(20) { ((try? Self.count(rig.db, sessionLogs, ["session expired"])) ?? 0) > 0 },
                "the expiry reached the engine: \(gateway.log.suffix(2_000))")
        let first = try await rig.strategy(daemon, mode: "working", out: "\(dir)/first.json")
        let trades = "SELECT status, metadata->>'reason' FROM trades WHERE broker_id = $1::uuid"
        #expect(await Poll.until(20) { ((try? rig.db.query(trades, [rig.ids.brokerID]).rows.count) ?? 0) == 2 })
        for row in try rig.db.query(trades, [rig.ids.brokerID]).rows {
            #expect(row[0] == "REJECTED" && row[1]?.hasPrefix("halted: broker session expired for live broker \(rig.ids.brokerID)") == true
                    && row[1]?.hasSuffix(": Incorrect `api_key` or `access_token`.") == true, "Kite's message: \(row)")
        }
        first.kill()
        #expect(try rig.fake.orders(user: Self.kiteUser).isEmpty, "nothing reached Kite")

        // The gateway restarts meanwhile: it cannot read Kite for its reconciliation, and the
        // engine asks again with a backoff and logs it once a minute (failed before: a row and
        // a refused call to Kite every resend interval, 300 ms here, until the login).
        gateway.stop()
        let restarted = try BrokerProcess("gateway", config: rig.gatewayConfig(daemon), directory: dir)
        defer { restarted.stop() }
        let unreadable = "SELECT count(*) FROM system_logs WHERE component = 'reconcile' AND log_level = 'WARNING'"
        #expect(await Poll.until(20) { ((try? Self.count(rig.db, unreadable)) ?? 0) >= 1 }, "\(restarted.log.suffix(2_000))")
        await Poll.pause(4)
        #expect(try Self.count(rig.db, unreadable) == 1, "one row for the unreadable broker")
        let sessionReads = (try rig.fake.control("state")["requests"] as? [[String: Any]] ?? []).filter { ($0["status"] as? Int) == 403 }.count
        #expect(sessionReads < 8, "Kite is not asked again with the refused token at every resend: \(sessionReads) refused calls")

        // The morning login: the engine exchanges the request token, seals the new access token,
        // and a reload gives it to the gateway, which tells the engine the session is active.
        try rig.fake.control("request_token", ["api_key": Self.apiKey, "api_secret": rig.apiSecret, "request_token": "rtrenew1",
                                               "access_token": "tok-RENEWED-E2E-4410", "user_id": Self.kiteUser])
        let login = try CommandRunner.algotrader(["broker", "login", rig.ids.brokerID, "--request-token", "rtrenew1", "--config", Repository.shippedConfig],
                                                 environment: ["ALGOTRADER_DATABASE_URL": rig.url, "ALGOTRADER_SECURITY_CREDENTIALS_KEY": rig.key.line,
                                                               "ALGOTRADER_BROKERS_KITE_API_URL": rig.fake.root])
        #expect(login.status == 0, "\(login.stderr)")
        let ctl = { (arguments: [String], stdin: String?) in
            try CommandRunner.algotrader(["ctl", arguments[0], "--endpoint", "ipc://\(dir)/control.ipc", "--token-file", "\(dir)/admin.token"]
                                         + arguments.dropFirst(), environment: [:], stdin: stdin)
        }
        let username = try #require(try rig.db.query("SELECT username FROM users WHERE user_id = $1::uuid", [rig.ids.userID]).scalar)
        #expect(try ctl(["login", username], "renew-pw\n").status == 0)
        let reload = try ctl(["reload"], nil)
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(await Poll.until(20) { ((try? Self.count(rig.db, sessionLogs, ["session active again"])) ?? 0) > 0 },
                "the renewed token reached the gateway and Kite took it: \(restarted.log.suffix(2_000))")

        // Orders flow again.
        let second = try await rig.strategy(daemon, mode: "working", out: "\(dir)/second.json")
        defer { second.kill() }
        #expect(await Poll.until(30) { ((try? rig.fake.orders(user: Self.kiteUser).count) ?? 0) == 2 },
                "\((try? rig.db.query(trades, [rig.ids.brokerID]).rows) ?? []) \(second.stderr.suffix(2_000)) \(restarted.log.suffix(2_000))")
        let settled = await Self.settle(rig)
        #expect(settled)
        try Self.expectEngineEqualsKite(rig, "after the renewal")
        #expect(!restarted.log.contains("tok-RENEWED-E2E-4410") && !login.stdout.contains("tok-RENEWED-E2E-4410"), "the new token is never shown")
    }
}
