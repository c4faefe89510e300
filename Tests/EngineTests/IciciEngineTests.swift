import Foundation
import Postgres
import Security
import TestSupport
import Testing
import TradingCore

/// Issue 21's end-to-end checks for ICICI Direct: the real daemon, the ICICI gateway and
/// publisher on the official breeze-connect SDK (`python -m algotrader_brokers gateway|feed`) and
/// the fake Breeze they talk to (brokers/python/tests/fake_icici.py), with a strategy on the Python
/// SDK placing CNC orders (Breeze takes no MIS equity orders; Tests/python/kite_orders_strategy.py).
@Suite("Trading on ICICI Direct through the Breeze gateway, end to end")
struct IciciEngineTests {
    static let apiKey = "icici-E2E-4417", secret = "icici-E2E-SECRET-8852", user = "XY604721", sessionKey = "sk-E2E-SECRET-3381"
    /// The price path's first price (publish_price_path.py): the quote the SDK reads for MARKET.
    static let ltp = 2450.0

    struct Rig {
        let url: String
        let db: PostgresConnection
        let ids: SampleRows.IDs
        let strategyID: String
        let token: String
        let key: CredentialKey
        let fake: FakeBrokerProcess
        let sessionToken: String

        init(_ name: String) throws {
            url = try TestDatabase.makeMigrated()
            db = try TestDatabase.connect(url)
            (ids, strategyID, token) = try ExternalStrategyTests.externalStrategy(db, url: url, name: "icici-\(name)", username: name)
            key = try CredentialKey.generate()
            let directory = NSTemporaryDirectory() + "icici-e2e-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            fake = try FakeBrokerProcess(directory: directory, broker: .icici)
            sessionToken = try #require(try fake.control("session", ["api_key": IciciEngineTests.apiKey, "api_secret": IciciEngineTests.secret,
                                                                      "user_id": IciciEngineTests.user,
                                                                      "session_key": IciciEngineTests.sessionKey])["session_token"] as? String)
            try fake.control("quote", ["exchange": "NSE", "stock_code": "RELIND", "ltp": IciciEngineTests.ltp])
            let plain = Array(JSONObjectWriter.object {
                $0.add("api_key", IciciEngineTests.apiKey)
                $0.add("api_secret", IciciEngineTests.secret)
                $0.add("session_token", sessionToken)
                $0.add("user_id", IciciEngineTests.user)
            }.utf8)
            try db.query("""
                UPDATE brokers SET execution_mode = 'live', api_type = 'icici', api_credentials_encrypted = $2::jsonb WHERE broker_id = $1::uuid
                """, [ids.brokerID, try CredentialCipher.seal(plain, key: key, userID: ids.userID, brokerID: ids.brokerID)])
            try db.query("DELETE FROM trades WHERE trade_id = $1::uuid", [ids.tradeID])
        }

        var apiURL: String { "\(fake.root)/breezeapi/api/v1/" }

        func daemon(directory: String? = nil) throws -> DaemonProcess {
            let daemon = try DaemonProcess(databaseURL: url, environment: KiteEngineTests.timing.merging([
                "ALGOTRADER_SECURITY_CREDENTIALS_KEY": key.line,
                "ALGOTRADER_GATEWAY_IPC_BROKERS": ids.brokerID,
            ]) { $1 }, directory: directory)
            #expect(daemon.waitUntilStarted())
            return daemon
        }

        func gatewayConfig(_ daemon: DaemonProcess) -> String {
            """
                [engine]
                endpoint = "ipc://\(daemon.directory)/gateway.ipc"
                [broker]
                api_type = "icici"
                id = "icici-e2e"
                broker_ids = ["\(ids.brokerID)"]
                [icici]
                api_url = "\(apiURL)"
                order_feed_url = "\(fake.root)/?feed=orders"
                security_master = "\(fake.root)/MotherAppMaster/SecurityMaster.zip"
                poll_seconds = 1.0
                exchanges = ["NSE"]
                [log]
                level = "debug"
                """
        }

        func gateway(_ daemon: DaemonProcess) async throws -> BrokerProcess {
            let gateway = try BrokerProcess("gateway", config: gatewayConfig(daemon), directory: daemon.directory)
            #expect(await Poll.until(60) {
                ((try? KiteEngineTests.count(db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile' AND message LIKE '%' || $1 || '%'",
                                             [ids.brokerID])) ?? 0) > 0
            }, "the gateway was welcomed and its broker reconciled: \(gateway.log.suffix(3_000))")
            return gateway
        }

        func strategy(_ daemon: DaemonProcess, mode: String, out: String) async throws -> StrategyProcess {
            try await AngelEngineTests.Rig.startStrategy(daemon, mode: mode, out: out, strategyID: strategyID, token: token)
        }

        /// ICICI's orders for the user, each with the engine trade its user_remark names.
        func iciciOrders() throws -> [(icici: [String: Any], trade: [String?])] {
            try fake.orders(user: IciciEngineTests.user).map { order in
                let tag = order["user_remark"] as? String ?? "-"
                let trade = try db.query("""
                    SELECT trade_id::text, status, quantity::text, price::text, trigger_price::text, filled_quantity::text, average_price::text, order_type
                    FROM trades WHERE left(replace(order_id, '-', ''), 20) = $1
                    """, [tag]).rows.first ?? []
                return (order, trade)
            }
        }

        func iciciTrades() throws -> [[String: Any]] {
            try fake.control("state")["trades"] as? [[String: Any]] ?? []
        }
    }

    static func int(_ value: Any?) -> Int { AngelEngineTests.int(value) }
    static func number(_ value: Any?) -> Double { AngelEngineTests.number(value) }

    /// What ICICI has filled of an order: its trades' quantities.
    static func filled(_ order: [String: Any], _ trades: [[String: Any]]) -> Int {
        trades.filter { $0["order_id"] as? String == order["order_id"] as? String }.reduce(0) { $0 + int($1["quantity"]) }
    }

    static func engineStatus(_ icici: [String: Any], filled: Int) -> String {
        switch icici["status"] as? String ?? "" {
        case "Executed": "FILLED"
        case "Cancelled": "CANCELLED"
        case "Rejected": "REJECTED"
        default: filled > 0 ? "PARTIALLY_FILLED" : "OPEN"
        }
    }

    /// Every ICICI order has its engine trade, in the same state; each ICICI trade is one engine
    /// execution and one bus fill; the engine's position is ICICI's net.
    static func expectEngineEqualsIcici(_ rig: Rig, _ context: String) throws {
        let trades = try rig.iciciTrades()
        let orders = try rig.iciciOrders()
        for (icici, trade) in orders {
            let id = icici["order_id"] as? String ?? ""
            guard trade.count == 8, let tradeID = trade[0] else {
                Issue.record("\(context): ICICI order \(id) has no engine trade: \(icici)")
                continue
            }
            let filled = filled(icici, trades)
            #expect(trade[1] == engineStatus(icici, filled: filled), "\(context): \(id) \(icici["status"] ?? "") vs \(trade)")
            #expect(Int(trade[2] ?? "") == int(icici["quantity"]) && Int(trade[5] ?? "") == filled, "\(context): \(id): \(trade)")
            if ["LIMIT", "SL"].contains(trade[7]) {
                #expect(Double(trade[3] ?? "") == number(icici["price"]), "\(context): price of \(id): \(trade) \(icici)")
            }
            if filled > 0 {
                #expect(abs((Double(trade[6] ?? "") ?? 0) - number(icici["average_price"])) < 0.0001, "\(context): average of \(id): \(trade)")
            }
            let executions = trades.filter { $0["order_id"] as? String == id }.count
            #expect(try KiteEngineTests.count(rig.db, "SELECT count(*) FROM trade_logs WHERE trade_id = $1::uuid AND data ? 'exec_id'", [tradeID]) == executions,
                    "\(context): each of \(id)'s \(executions) execution(s) stored once")
            #expect(try KiteEngineTests.count(rig.db, "SELECT count(*) FROM bus_events WHERE trade_id = $1::uuid AND event = 'fill'", [tradeID]) == executions,
                    "\(context): and published once")
        }
        let sides = Dictionary(orders.map { ($0.icici["order_id"] as? String ?? "", $0.icici["action"] as? String ?? "") }) { a, _ in a }
        let net = trades.reduce(0) { $0 + (sides[$1["order_id"] as? String ?? ""] == "Buy" ? int($1["quantity"]) : -int($1["quantity"])) }
        let position = try rig.db.query("""
            SELECT coalesce(sum(quantity), 0)::text FROM positions WHERE user_id = $1::uuid AND symbol = 'RELIANCE' AND status <> 'CLOSED'
            """, [rig.ids.userID]).scalar
        #expect(Int(position ?? "") == net, "\(context): the engine's position equals ICICI's net \(net)")
    }

    static func settle(_ rig: Rig, _ seconds: Double = 30) async -> Bool {
        await Poll.until(seconds) {
            guard let orders = try? rig.iciciOrders(), !orders.isEmpty, let trades = try? rig.iciciTrades() else { return false }
            return orders.allSatisfy {
                let filled = filled($0.icici, trades)
                return $0.trade.count == 8 && $0.trade[1] == engineStatus($0.icici, filled: filled)
                    && Int($0.trade[5] ?? "") == filled && Int($0.trade[2] ?? "") == int($0.icici["quantity"])
            }
        }
    }

    static func order(_ rig: Rig, engineType: String) throws -> [String: Any] {
        try #require(try rig.iciciOrders().first { $0.trade.count == 8 && $0.trade[7] == engineType }?.icici, "a \(engineType) order at ICICI")
    }

    @Test func eachOrderTypeBreezeTakesModifyAndCancelReachItAndItsFillsComeBackAsItMadeThem() async throws {
        let rig = try Rig("icicitypes")
        let daemon = try rig.daemon()
        defer { _ = daemon.stop() }
        let gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let out = "\(daemon.directory)/orders.json"
        let strategy = try await rig.strategy(daemon, mode: "types:CNC", out: out)
        defer { strategy.kill() }

        let rejected = "SELECT metadata->>'reason' FROM trades WHERE broker_id = $1::uuid AND order_type = 'SL-M' AND status = 'REJECTED'"
        #expect(await Poll.until(30) {
            let orders = (try? rig.fake.orders(user: Self.user)) ?? []
            return orders.count == 3 && orders.contains { $0["order_type"] as? String == "Limit" && Self.int($0["quantity"]) == 3 }
                && ((try? rig.db.query(rejected, [rig.ids.brokerID]).rows.count) ?? 0) == 1
        }, "ICICI has the MARKET, LIMIT (modified) and SL orders; SL-M was refused: \(gateway.log.suffix(3_000)) \(strategy.stderr.suffix(2_000))")
        let reason = try rig.db.query(rejected, [rig.ids.brokerID]).scalar ?? ""
        #expect(reason.contains("no stop-loss market order (SL-M)"), "the gateway's reason: \(reason)")
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let base = try #require(Double(written["base"] as? String ?? ""))
        let market = try Self.order(rig, engineType: "MARKET"), limit = try Self.order(rig, engineType: "LIMIT"), sl = try Self.order(rig, engineType: "SL")
        #expect(Self.number(limit["price"]) == base - 40 && Self.number(sl["stoploss"]) == base - 60 && Self.number(sl["price"]) == base - 61,
                "the prices the strategy sent: \(limit) \(sl)")
        #expect(sl["order_type"] as? String == "StopLoss" && sl["stock_code"] as? String == "RELIND" && sl["product_type"] as? String == "Cash")
        // MARKET as the SDK's aggressive limit: 3 % over the LTP for cash.
        #expect(market["order_type"] as? String == "Limit" && abs(Self.number(market["price"]) - Self.ltp * 1.03) < 0.2, "\(market)")

        try rig.fake.control("fill", ["order_id": market["order_id"] ?? "", "quantity": 2, "price": base])
        try rig.fake.control("fill", ["order_id": market["order_id"] ?? "", "price": base + 0.5])
        try rig.fake.control("fill", ["order_id": limit["order_id"] ?? ""])
        try rig.fake.control("fill", ["order_id": sl["order_id"] ?? ""])
        let settled = await Self.settle(rig)
        #expect(settled, "the engine holds every order as ICICI does: \((try? rig.iciciOrders())?.map { ($0.icici["status"] ?? "", $0.trade) } ?? [])")
        try Self.expectEngineEqualsIcici(rig, "after the fills")
        #expect(try rig.iciciTrades().count == 4)
        let events = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])?["events"] as? [[String]] ?? []
        for (name, last) in [("market", "FILLED"), ("limit", "FILLED"), ("sl", "FILLED"), ("slm", "REJECTED")] {
            #expect(events.last { $0.first == name && !($0.last ?? "").hasPrefix("fill") }?.last == last, "\(name): \(events)")
        }
        #expect(!gateway.log.contains(Self.sessionKey) && !gateway.log.contains(rig.sessionToken) && !gateway.log.contains(Self.secret),
                "the gateway never logs the session or the secret")
    }

    /// With the gateway down too (only the reconciliation brings the fills), and with it up.
    @Test(arguments: [true, false])
    func fillsIciciMadeWhileTheEngineWasKilledAreAppliedOnceAtRestart(gatewayDown: Bool) async throws {
        let rig = try Rig(gatewayDown ? "icicirestart" : "icicirestart2")
        var daemon = try rig.daemon()
        let dir = daemon.directory
        defer { _ = daemon.stop() }
        var gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let strategy = try await rig.strategy(daemon, mode: "working:CNC", out: "\(dir)/orders.json")
        #expect(await Poll.until(30) {
            ((try? KiteEngineTests.count(rig.db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid AND status = 'OPEN'", [rig.ids.brokerID])) ?? 0) == 2
        }, "two orders working at ICICI: \(gateway.log.suffix(2_000))")
        strategy.kill()
        if gatewayDown { gateway.stop() }
        daemon.kill()
        let orders = try rig.fake.orders(user: Self.user).sorted { Self.int($0["quantity"]) < Self.int($1["quantity"]) }
        #expect(orders.count == 2)
        try rig.fake.control("fill", ["order_id": orders[0]["order_id"] ?? ""])
        try rig.fake.control("fill", ["order_id": orders[1]["order_id"] ?? "", "quantity": 1])
        let logsBefore = try KiteEngineTests.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile'")
        daemon = try rig.daemon(directory: dir)
        if gatewayDown { gateway = try BrokerProcess("gateway", config: rig.gatewayConfig(daemon), directory: dir) }
        #expect(await Poll.until(60) {
            ((try? KiteEngineTests.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile'")) ?? 0) > logsBefore
        }, "the restarted gateway was reconciled: \(gateway.log.suffix(3_000))")
        let settledAgain = await Self.settle(rig)
        #expect(settledAgain, "\((try? rig.iciciOrders())?.map { ($0.icici["status"] ?? "", $0.trade) } ?? [])")
        let logged = try rig.db.query("""
            SELECT log_level, message, data->>'applied' FROM system_logs WHERE component = 'reconcile' ORDER BY log_id DESC LIMIT 1
            """).rows
        #expect(logged.first?[0] == "INFO", "a clean reconciliation: \(logged)")
        if gatewayDown { #expect(logged.first?[2] == "2", "both missed fills applied by the reconciliation: \(logged)") }
        try Self.expectEngineEqualsIcici(rig, "after the restart")
        try rig.fake.control("fill", ["order_id": orders[1]["order_id"] ?? ""])
        let settledLast = await Self.settle(rig)
        #expect(settledLast)
        try Self.expectEngineEqualsIcici(rig, "after the last fill")
        #expect(try KiteEngineTests.count(rig.db, "SELECT count(*) FROM halts WHERE resumed_at IS NULL") == 0, "nothing was halted")
    }

    @Test func thePublishersTicksAreStoredOnceByIcicisTokenAndAForcedReconnectIsCountedAsAGap() async throws {
        let rig = try Rig("icicifeed")
        for (symbol, token) in ["RELIANCE": 2885, "INFY": 1594] {
            try rig.db.query("""
                INSERT INTO instruments (exchange, tradingsymbol, instrument_token, exchange_token, segment, instrument_type, lot_size, tick_size)
                VALUES ('NSE', $1, $2::bigint, $3::bigint, 'NSE', 'EQ', 1, 0.05) ON CONFLICT DO NOTHING
                """, [symbol, String(token * 256 + 1), String(token)])
        }
        let daemon = try rig.daemon()
        defer { _ = daemon.stop() }
        let feed = try BrokerProcess("feed", config: """
            [engine]
            endpoint = "ipc://\(daemon.directory)/gateway.ipc"
            [broker]
            api_type = "icici"
            id = "icici-feed-e2e"
            broker_ids = ["\(rig.ids.brokerID)"]
            [icici]
            api_url = "\(rig.apiURL)"
            stream_url = "\(rig.fake.root)"
            security_master = "\(rig.fake.root)/MotherAppMaster/SecurityMaster.zip"
            [feed]
            publish_bind = "\(daemon.feed)"
            instruments = ["NSE:RELIANCE", "NSE:INFY"]
            mode = "full"
            [log]
            level = "info"
            """, directory: daemon.directory)
        defer { feed.stop() }
        #expect(await Poll.until(60) { Self.feedStatus(feed)["open"] == 1 && feed.log.contains("subscribed 2 instrument") },
                "the publisher subscribed ICICI's rooms: \(feed.log.suffix(3_000))")
        func joined() async -> Bool {
            await Poll.until(10) {
                let connections = ((try? rig.fake.control("state"))?["stream"] as? [String: Any])?["connections"] as? [[String: Any]] ?? []
                return connections.contains { ($0["rooms"] as? [String])?.count == 2 }
            }
        }
        #expect(await joined())
        await Poll.pause(1)  // the engine's SUB joins the publisher's PUB

        let stored = "SELECT count(*) FROM market_data WHERE \"interval\" = 'tick' AND symbol = $1"
        let rooms = ["RELIANCE": "4.1!2885", "INFY": "4.1!1594"]
        let ltt = Int(Date().timeIntervalSince1970)
        func send(_ symbol: String, _ count: Int, from: Double) throws {
            let ticks: [[String: Any]] = (0..<count).map { n in
                ["symbol": rooms[symbol] ?? "", "last": from + Double(n) * 0.05, "ltq": 1, "ttq": 1_000 + n, "ltt": ltt]
            }
            try rig.fake.control("stream/ticks", ["ticks": ticks])
        }
        try send("RELIANCE", 20, from: 2_500)
        try send("INFY", 10, from: 1_500)
        #expect(await Poll.until(20) {
            ((try? KiteEngineTests.count(rig.db, stored, ["RELIANCE"])) ?? 0) == 20 && ((try? KiteEngineTests.count(rig.db, stored, ["INFY"])) ?? 0) == 10
        }, "every tick ICICI sent is stored: \(feed.log.suffix(2_000))")

        try rig.fake.control("stream/drop", ["how": "abort"])
        #expect(await Poll.until(30) { Self.feedStatus(feed)["reconnects"] == 1 && Self.feedStatus(feed)["open"] == 1 },
                "reconnected by socket.io: \(feed.log.suffix(2_000))")
        #expect(await joined(), "and the SDK joined the rooms again")
        try send("RELIANCE", 15, from: 2_510)
        #expect(await Poll.until(20) { ((try? KiteEngineTests.count(rig.db, stored, ["RELIANCE"])) ?? 0) == 35 },
                "the ticks after the reconnect are stored: \(feed.log.suffix(2_000))")
        try rig.fake.control("expire", ["api_key": Self.apiKey])
        #expect(await Poll.until(30) {
            ((try? KiteEngineTests.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'gateway' AND message LIKE '%session expired (gateway icici-feed-e2e)%'")) ?? 0) == 1
        }, "the feed's expiry reached the engine: \(feed.log.suffix(2_000))")
        #expect(feed.stop() == 0)
        let status = Self.feedStatus(feed)
        #expect(status["gaps"] == 1 && (status["drops"] ?? 0) >= 1 && status["expired"] == 1 && status["received"] == 45
                && status["published"] == 45 && status["hwm_dropped"] == 0, "\(status)")
        await Poll.pause(0.5)
        #expect(try KiteEngineTests.count(rig.db, stored, ["RELIANCE"]) == 35 && KiteEngineTests.count(rig.db, stored, ["INFY"]) == 10, "each tick once")
        #expect(!feed.log.contains(Self.sessionKey) && !feed.log.contains(rig.sessionToken), "the publisher never logs the session")
    }

    /// The publisher's last `icici feed status:` counters.
    static func feedStatus(_ feed: BrokerProcess) -> [String: Double] {
        guard let line = feed.log.split(separator: "\n").last(where: { $0.contains("icici feed status: ") }) else { return [:] }
        var fields: [String: Double] = [:]
        for pair in line.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
        }
        return fields
    }

    /// ICICI's session ends mid-day: that broker's orders are rejected until the operator's login
    /// (the API_Session from ICICI's page) and a reload renew it.
    @Test func anExpiredIciciSessionRejectsOrdersUntilTheLoginAndAReloadRenewIt() async throws {
        let rig = try Rig("icicirenew")
        try rig.db.query("UPDATE users SET role = 'admin', password_hash = $2 WHERE user_id = $1::uuid",
                         [rig.ids.userID, try PasswordHasher(logN: 10).hash("renew-pw")])
        let daemon = try rig.daemon()
        let dir = daemon.directory
        defer { _ = daemon.stop() }
        let gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let sessionLogs = "SELECT count(*) FROM system_logs WHERE component = 'gateway' AND message LIKE '%' || $1 || '%'"

        try rig.fake.control("expire", ["api_key": Self.apiKey])
        #expect(await Poll.until(30) { ((try? KiteEngineTests.count(rig.db, sessionLogs, ["session expired"])) ?? 0) > 0 },
                "the expiry reached the engine (the next poll saw it): \(gateway.log.suffix(2_000))")
        let first = try await rig.strategy(daemon, mode: "working:CNC", out: "\(dir)/first.json")
        let trades = "SELECT status, metadata->>'reason' FROM trades WHERE broker_id = $1::uuid"
        #expect(await Poll.until(20) { ((try? rig.db.query(trades, [rig.ids.brokerID]).rows.count) ?? 0) == 2 })
        for row in try rig.db.query(trades, [rig.ids.brokerID]).rows {
            #expect(row[0] == "REJECTED" && row[1]?.hasPrefix("halted: broker session expired for live broker \(rig.ids.brokerID)") == true,
                    "\(row)")
        }
        first.kill()
        #expect(try rig.fake.orders(user: Self.user).isEmpty, "nothing reached ICICI")

        // The morning login: the API_Session ICICI's login page redirected with.
        try rig.fake.control("account", ["api_key": Self.apiKey, "api_secret": Self.secret, "user_id": Self.user, "api_session": "55667788"])
        let login = try CommandRunner.algotrader(["broker", "login", rig.ids.brokerID, "--api-session", "https://127.0.0.1/cb?apisession=55667788",
                                                  "--config", Repository.shippedConfig],
                                                 environment: ["ALGOTRADER_DATABASE_URL": rig.url, "ALGOTRADER_SECURITY_CREDENTIALS_KEY": rig.key.line,
                                                               "ALGOTRADER_BROKERS_ICICI_API_URL": rig.apiURL])
        #expect(login.status == 0, "\(login.stderr)")
        let ctl = { (arguments: [String], stdin: String?) in
            try CommandRunner.algotrader(["ctl", arguments[0], "--endpoint", "ipc://\(dir)/control.ipc", "--token-file", "\(dir)/admin.token"]
                                         + arguments.dropFirst(), environment: [:], stdin: stdin)
        }
        let username = try #require(try rig.db.query("SELECT username FROM users WHERE user_id = $1::uuid", [rig.ids.userID]).scalar)
        #expect(try ctl(["login", username], "renew-pw\n").status == 0)
        #expect(try ctl(["reload"], nil).status == 0)
        #expect(await Poll.until(30) { ((try? KiteEngineTests.count(rig.db, sessionLogs, ["session active again"])) ?? 0) > 0 },
                "the renewed session reached the gateway and Breeze took it: \(gateway.log.suffix(2_000))")

        let second = try await rig.strategy(daemon, mode: "working:CNC", out: "\(dir)/second.json")
        defer { second.kill() }
        #expect(await Poll.until(30) { ((try? rig.fake.orders(user: Self.user).count) ?? 0) == 2 },
                "\((try? rig.db.query(trades, [rig.ids.brokerID]).rows) ?? []) \(gateway.log.suffix(2_000))")
        let settled = await Self.settle(rig)
        #expect(settled)
        try Self.expectEngineEqualsIcici(rig, "after the renewal")
        #expect(!login.stdout.contains(rig.sessionToken), "the token is never shown")
    }
}
