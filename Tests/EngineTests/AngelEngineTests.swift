import Foundation
import Postgres
import Security
import TestSupport
import Testing
import TradingCore

/// Issue 21's end-to-end checks for Angel One: the real daemon, the Angel One gateway on the
/// official smartapi-python SDK (`python -m algotrader_brokers gateway`) and the fake SmartAPI it
/// talks to (brokers/python/tests/fake_angel.py), with a strategy on the Python SDK placing the
/// orders (Tests/python/kite_orders_strategy.py, which names no broker).
@Suite("Trading on Angel One through the SmartAPI gateway, end to end")
struct AngelEngineTests {
    static let apiKey = "angel-E2E-4402", jwt = "jwt-E2E-SECRET-5120", feedToken = "feed-E2E-SECRET-7781", client = "A123456"

    struct Rig {
        let url: String
        let db: PostgresConnection
        let ids: SampleRows.IDs
        let strategyID: String
        let token: String
        let key: CredentialKey
        let fake: FakeBrokerProcess

        init(_ name: String) throws {
            url = try TestDatabase.makeMigrated()
            db = try TestDatabase.connect(url)
            (ids, strategyID, token) = try ExternalStrategyTests.externalStrategy(db, url: url, name: "angel-\(name)", username: name)
            key = try CredentialKey.generate()
            let plain = Array(JSONObjectWriter.object {
                $0.add("api_key", AngelEngineTests.apiKey)
                $0.add("client_code", AngelEngineTests.client)
                $0.add("pin", "4321")
                $0.add("totp_secret", "JBSWY3DPEHPK3PXP")
                $0.add("jwt_token", AngelEngineTests.jwt)
                $0.add("feed_token", AngelEngineTests.feedToken)
            }.utf8)
            try db.query("""
                UPDATE brokers SET execution_mode = 'live', api_type = 'angel', api_credentials_encrypted = $2::jsonb WHERE broker_id = $1::uuid
                """, [ids.brokerID, try CredentialCipher.seal(plain, key: key, userID: ids.userID, brokerID: ids.brokerID)])
            try db.query("DELETE FROM trades WHERE trade_id = $1::uuid", [ids.tradeID])
            let directory = NSTemporaryDirectory() + "angel-e2e-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            fake = try FakeBrokerProcess(directory: directory, broker: .angel)
            try fake.control("session", ["api_key": AngelEngineTests.apiKey, "client_code": AngelEngineTests.client,
                                         "jwt": AngelEngineTests.jwt, "feed_token": AngelEngineTests.feedToken])
        }

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
                api_type = "angel"
                id = "angel-e2e"
                broker_ids = ["\(ids.brokerID)"]
                [angel]
                root = "\(fake.root)"
                order_updates_url = "\(fake.wsRoot)"
                scrip_master = "\(fake.scripMaster)"
                poll_seconds = 1.0
                [log]
                level = "debug"
                """
        }

        func gateway(_ daemon: DaemonProcess) async throws -> BrokerProcess {
            let gateway = try BrokerProcess("gateway", config: gatewayConfig(daemon), directory: daemon.directory)
            #expect(await Poll.until(30) {
                ((try? KiteEngineTests.count(db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile' AND message LIKE '%' || $1 || '%'",
                                             [ids.brokerID])) ?? 0) > 0
            }, "the gateway was welcomed and its broker reconciled: \(gateway.log.suffix(3_000))")
            return gateway
        }

        func strategy(_ daemon: DaemonProcess, mode: String, out: String) async throws -> StrategyProcess {
            try await Self.startStrategy(daemon, mode: mode, out: out, strategyID: strategyID, token: token)
        }

        /// kite_orders_strategy.py in `mode`, once it has had a tick (each broker's end-to-end tests).
        static func startStrategy(_ daemon: DaemonProcess, mode: String, out: String, strategyID: String, token: String) async throws -> StrategyProcess {
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

        /// Angel's orders for the client, each with the engine trade its ordertag names.
        func angelOrders() throws -> [(angel: [String: Any], trade: [String?])] {
            try fake.orders(user: AngelEngineTests.client).map { order in
                let tag = order["ordertag"] as? String ?? "-"
                let trade = try db.query("""
                    SELECT trade_id::text, status, quantity::text, price::text, trigger_price::text, filled_quantity::text, average_price::text, order_type
                    FROM trades WHERE left(replace(order_id, '-', ''), 20) = $1
                    """, [tag]).rows.first ?? []
                return (order, trade)
            }
        }

        func angelTrades() throws -> [[String: Any]] {
            ((try fake.control("state")["trades"] as? [String: Any])?[AngelEngineTests.client] as? [[String: Any]]) ?? []
        }
    }

    static func int(_ value: Any?) -> Int { Int("\(value ?? "")") ?? Int(Double("\(value ?? "")") ?? -1) }
    static func number(_ value: Any?) -> Double { Double("\(value ?? "")") ?? -1 }

    static func engineStatus(_ angel: [String: Any]) -> String {
        switch angel["orderstatus"] as? String ?? "" {
        case "complete": "FILLED"
        case "cancelled": "CANCELLED"
        case "rejected": "REJECTED"
        default: int(angel["filledshares"]) > 0 ? "PARTIALLY_FILLED" : "OPEN"
        }
    }

    /// Every Angel order has its engine trade, in the same state; each Angel fill is one engine
    /// execution and one bus fill; the engine's position is Angel's net.
    static func expectEngineEqualsAngel(_ rig: Rig, _ context: String) throws {
        let trades = try rig.angelTrades()
        for (angel, trade) in try rig.angelOrders() {
            let id = angel["orderid"] as? String ?? ""
            guard trade.count == 8, let tradeID = trade[0] else {
                Issue.record("\(context): Angel order \(id) has no engine trade: \(angel)")
                continue
            }
            #expect(trade[1] == engineStatus(angel), "\(context): \(id) \(angel["orderstatus"] ?? "") vs \(trade)")
            #expect(Int(trade[2] ?? "") == int(angel["quantity"]) && Int(trade[5] ?? "") == int(angel["filledshares"]), "\(context): \(id): \(trade)")
            if ["LIMIT", "STOPLOSS_LIMIT"].contains(angel["ordertype"] as? String) {
                #expect(Double(trade[3] ?? "") == number(angel["price"]), "\(context): price of \(id): \(trade)")
            }
            if int(angel["filledshares"]) > 0 {
                #expect(abs((Double(trade[6] ?? "") ?? 0) - number(angel["averageprice"])) < 0.0001, "\(context): average of \(id): \(trade)")
            }
            let executions = trades.filter { $0["orderid"] as? String == id }.count
            #expect(try KiteEngineTests.count(rig.db, "SELECT count(*) FROM trade_logs WHERE trade_id = $1::uuid AND data ? 'exec_id'", [tradeID]) == executions,
                    "\(context): each of \(id)'s \(executions) execution(s) stored once")
            #expect(try KiteEngineTests.count(rig.db, "SELECT count(*) FROM bus_events WHERE trade_id = $1::uuid AND event = 'fill'", [tradeID]) == executions,
                    "\(context): and published once")
        }
        let net = trades.reduce(0) { $0 + ($1["transactiontype"] as? String == "BUY" ? int($1["fillsize"]) : -int($1["fillsize"])) }
        let position = try rig.db.query("""
            SELECT coalesce(sum(quantity), 0)::text FROM positions WHERE user_id = $1::uuid AND symbol = 'RELIANCE' AND status <> 'CLOSED'
            """, [rig.ids.userID]).scalar
        #expect(Int(position ?? "") == net, "\(context): the engine's position equals Angel's net \(net)")
    }

    static func settle(_ rig: Rig, _ seconds: Double = 30) async -> Bool {
        await Poll.until(seconds) {
            guard let orders = try? rig.angelOrders(), !orders.isEmpty else { return false }
            return orders.allSatisfy { $0.trade.count == 8 && $0.trade[1] == engineStatus($0.angel)
                && Int($0.trade[5] ?? "") == int($0.angel["filledshares"]) && Int($0.trade[2] ?? "") == int($0.angel["quantity"]) }
        }
    }

    static func angelOrder(_ rig: Rig, type: String) throws -> [String: Any] {
        try #require(try rig.fake.orders(user: client).first { $0["ordertype"] as? String == type }, "a \(type) order at Angel One")
    }

    @Test func eachOrderTypeModifyAndCancelReachAngelAndItsFillsComeBackAsAngelMadeThem() async throws {
        let rig = try Rig("angeltypes")
        let daemon = try rig.daemon()
        defer { _ = daemon.stop() }
        let gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let out = "\(daemon.directory)/orders.json"
        let strategy = try await rig.strategy(daemon, mode: "types", out: out)
        defer { strategy.kill() }

        #expect(await Poll.until(30) {
            let orders = (try? rig.fake.orders(user: Self.client)) ?? []
            return orders.count == 4
                && orders.contains { $0["ordertype"] as? String == "LIMIT" && Self.int($0["quantity"]) == 3 }
                && orders.contains { $0["ordertype"] as? String == "STOPLOSS_MARKET" && $0["orderstatus"] as? String == "cancelled" }
        }, "Angel has the four orders, one modified and one cancelled: \(gateway.log.suffix(3_000)) \(strategy.stderr.suffix(2_000))")
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let base = try #require(Double(written["base"] as? String ?? ""))
        let limit = try Self.angelOrder(rig, type: "LIMIT"), sl = try Self.angelOrder(rig, type: "STOPLOSS_LIMIT")
        #expect(Self.number(limit["price"]) == base - 40 && Self.number(sl["triggerprice"]) == base - 60 && Self.number(sl["price"]) == base - 61,
                "the prices the strategy sent: \(limit) \(sl)")
        #expect(sl["orderstatus"] as? String == "trigger pending" && sl["tradingsymbol"] as? String == "RELIANCE-EQ")

        let market = try Self.angelOrder(rig, type: "MARKET")
        try rig.fake.control("fill", ["orderid": market["orderid"] ?? "", "quantity": 2, "price": base])
        try rig.fake.control("fill", ["orderid": market["orderid"] ?? "", "price": base + 0.5])
        try rig.fake.control("fill", ["orderid": limit["orderid"] ?? ""])
        try rig.fake.control("trigger", ["orderid": sl["orderid"] ?? ""])
        try rig.fake.control("fill", ["orderid": sl["orderid"] ?? ""])
        let settled = await Self.settle(rig)
        #expect(settled, "the engine holds every order as Angel does: \((try? rig.angelOrders())?.map { ($0.angel["orderstatus"] ?? "", $0.trade) } ?? [])")
        try Self.expectEngineEqualsAngel(rig, "after the fills")
        #expect(try rig.angelTrades().count == 4)
        let events = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])?["events"] as? [[String]] ?? []
        for (name, last) in [("market", "FILLED"), ("limit", "FILLED"), ("sl", "FILLED"), ("slm", "CANCELLED")] {
            #expect(events.last { $0.first == name && !($0.last ?? "").hasPrefix("fill") }?.last == last, "\(name): \(events)")
        }
        #expect(!gateway.log.contains(Self.jwt) && !gateway.log.contains(Self.feedToken), "the gateway never logs the session tokens")
    }

    /// With the gateway down too (only the reconciliation brings the fills), and with it up
    /// the whole time (its unacknowledged reports and the reconciliation both do).
    @Test(arguments: [true, false])
    func fillsAngelMadeWhileTheEngineWasKilledAreAppliedOnceAtRestart(gatewayDown: Bool) async throws {
        let rig = try Rig(gatewayDown ? "angelrestart" : "angelrestart2")
        var daemon = try rig.daemon()
        let dir = daemon.directory
        defer { _ = daemon.stop() }
        var gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let strategy = try await rig.strategy(daemon, mode: "working", out: "\(dir)/orders.json")
        #expect(await Poll.until(30) {
            ((try? KiteEngineTests.count(rig.db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid AND status = 'OPEN'", [rig.ids.brokerID])) ?? 0) == 2
        }, "two orders working at Angel: \(gateway.log.suffix(2_000))")
        strategy.kill()
        if gatewayDown { gateway.stop() }
        daemon.kill()
        let orders = try rig.fake.orders(user: Self.client).sorted { Self.int($0["quantity"]) < Self.int($1["quantity"]) }
        #expect(orders.count == 2)
        try rig.fake.control("fill", ["orderid": orders[0]["orderid"] ?? ""])
        try rig.fake.control("fill", ["orderid": orders[1]["orderid"] ?? "", "quantity": 1])
        let logsBefore = try KiteEngineTests.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile'")
        daemon = try rig.daemon(directory: dir)
        if gatewayDown { gateway = try BrokerProcess("gateway", config: rig.gatewayConfig(daemon), directory: dir) }
        #expect(await Poll.until(30) {
            ((try? KiteEngineTests.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'reconcile'")) ?? 0) > logsBefore
        }, "the restarted gateway was reconciled: \(gateway.log.suffix(3_000))")
        let settledAgain = await Self.settle(rig)
        #expect(settledAgain, "\((try? rig.angelOrders())?.map { ($0.angel["orderstatus"] ?? "", $0.trade) } ?? [])")
        let logged = try rig.db.query("""
            SELECT log_level, message, data->>'applied' FROM system_logs WHERE component = 'reconcile' ORDER BY log_id DESC LIMIT 1
            """).rows
        #expect(logged.first?[0] == "INFO", "a clean reconciliation: \(logged)")
        if gatewayDown { #expect(logged.first?[2] == "2", "both missed fills applied by the reconciliation: \(logged)") }
        try Self.expectEngineEqualsAngel(rig, "after the restart")
        try rig.fake.control("fill", ["orderid": orders[1]["orderid"] ?? ""])
        let settledLast = await Self.settle(rig)
        #expect(settledLast)
        try Self.expectEngineEqualsAngel(rig, "after the last fill")
        #expect(try KiteEngineTests.count(rig.db, "SELECT count(*) FROM halts WHERE resumed_at IS NULL") == 0, "nothing was halted")
    }

    /// The publisher's last `angel feed status:` counters.
    static func feedStatus(_ feed: BrokerProcess) -> [String: Double] {
        guard let line = feed.log.split(separator: "\n").last(where: { $0.contains("angel feed status: ") }) else { return [:] }
        var fields: [String: Double] = [:]
        for pair in line.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
        }
        return fields
    }

    @Test func thePublishersTicksAreStoredOnceByExchangeTokenAndAForcedReconnectIsCountedAsAGap() async throws {
        let rig = try Rig("angelfeed")
        let tokens = ["RELIANCE": 2885, "INFY": 1594]
        for (symbol, token) in tokens {
            // The instrument master as Zerodha's CSV loads it: Kite's token and the exchange's.
            try rig.db.query("""
                INSERT INTO instruments (exchange, tradingsymbol, instrument_token, exchange_token, segment, instrument_type, lot_size, tick_size)
                VALUES ('NSE', $1, $2::bigint, $3::bigint, 'NSE', 'EQ', 1, 0.05)
                """, [symbol, String(token * 256 + 1), String(token)])
        }
        let daemon = try rig.daemon()
        defer { _ = daemon.stop() }
        let feed = try BrokerProcess("feed", config: """
            [engine]
            endpoint = "ipc://\(daemon.directory)/gateway.ipc"
            [broker]
            api_type = "angel"
            id = "angel-feed-e2e"
            broker_ids = ["\(rig.ids.brokerID)"]
            [angel]
            stream_url = "ws://127.0.0.1:\(rig.fake.port)/smart-stream"
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
                "the publisher got its exchange tokens from the engine and subscribed: \(feed.log.suffix(3_000))")
        await Poll.pause(1)  // the engine's SUB joins the publisher's PUB

        let stored = "SELECT count(*) FROM market_data WHERE \"interval\" = 'tick' AND symbol = $1"
        func send(_ symbol: String, _ count: Int, from: Double) throws {
            for n in 0..<count {
                try rig.fake.control("stream/ticks", ["ticks": [["exchange_type": 1, "token": String(tokens[symbol] ?? 0), "ltp": from + Double(n) * 0.05,
                                                                 "last_traded_quantity": 1, "volume": 1_000 + n]]])
            }
        }
        try send("RELIANCE", 20, from: 2_500)
        try send("INFY", 10, from: 1_500)
        #expect(await Poll.until(20) {
            ((try? KiteEngineTests.count(rig.db, stored, ["RELIANCE"])) ?? 0) == 20 && ((try? KiteEngineTests.count(rig.db, stored, ["INFY"])) ?? 0) == 10
        }, "every tick Angel sent is stored: \(feed.log.suffix(2_000))")

        try rig.fake.control("stream/drop", ["how": "abort"])
        #expect(await Poll.until(30) { Self.feedStatus(feed)["reconnects"] == 1 && Self.feedStatus(feed)["open"] == 1 },
                "reconnected: \(feed.log.suffix(2_000))")
        await Poll.pause(0.5)
        try send("RELIANCE", 15, from: 2_510)
        #expect(await Poll.until(20) { ((try? KiteEngineTests.count(rig.db, stored, ["RELIANCE"])) ?? 0) == 35 },
                "the ticks after the reconnect are stored: \(feed.log.suffix(2_000))")
        try rig.fake.control("expire", ["jwt": Self.jwt])
        #expect(await Poll.until(20) {
            ((try? KiteEngineTests.count(rig.db, "SELECT count(*) FROM system_logs WHERE component = 'gateway' AND message LIKE '%session expired (gateway angel-feed-e2e)%'")) ?? 0) == 1
        }, "the feed's expiry reached the engine: \(feed.log.suffix(2_000))")
        #expect(feed.stop() == 0)
        let status = Self.feedStatus(feed)
        #expect(status["gaps"] == 1 && (status["drops"] ?? 0) >= 2 && status["expired"] == 1 && status["received"] == 45
                && status["published"] == 45 && status["hwm_dropped"] == 0, "\(status)")
        await Poll.pause(0.5)
        #expect(try KiteEngineTests.count(rig.db, stored, ["RELIANCE"]) == 35 && KiteEngineTests.count(rig.db, stored, ["INFY"]) == 10, "each tick once")
        #expect(!feed.log.contains(Self.jwt) && !feed.log.contains(Self.feedToken), "the publisher never logs the session tokens")
    }

    /// Angel's JWT expires mid-day: that broker's orders are rejected with Angel's words until the
    /// engine's own login (MPIN and TOTP, no operator input) and a reload renew it.
    @Test func anExpiredAngelSessionRejectsOrdersUntilTheEnginesLoginAndAReloadRenewIt() async throws {
        let rig = try Rig("angelrenew")
        try rig.db.query("UPDATE users SET role = 'admin', password_hash = $2 WHERE user_id = $1::uuid",
                         [rig.ids.userID, try PasswordHasher(logN: 10).hash("renew-pw")])
        let daemon = try rig.daemon()
        let dir = daemon.directory
        defer { _ = daemon.stop() }
        let gateway = try await rig.gateway(daemon)
        defer { gateway.stop() }
        let sessionLogs = "SELECT count(*) FROM system_logs WHERE component = 'gateway' AND message LIKE '%' || $1 || '%'"

        try rig.fake.control("expire", ["jwt": Self.jwt])
        #expect(await Poll.until(20) { ((try? KiteEngineTests.count(rig.db, sessionLogs, ["session expired"])) ?? 0) > 0 },
                "the expiry reached the engine: \(gateway.log.suffix(2_000))")
        let first = try await rig.strategy(daemon, mode: "working", out: "\(dir)/first.json")
        let trades = "SELECT status, metadata->>'reason' FROM trades WHERE broker_id = $1::uuid"
        #expect(await Poll.until(20) { ((try? rig.db.query(trades, [rig.ids.brokerID]).rows.count) ?? 0) == 2 })
        for row in try rig.db.query(trades, [rig.ids.brokerID]).rows {
            #expect(row[0] == "REJECTED" && row[1]?.hasPrefix("halted: broker session expired for live broker \(rig.ids.brokerID)") == true
                    && row[1]?.contains("AG800") == true, "Angel's code in the reason: \(row)")
        }
        first.kill()
        #expect(try rig.fake.orders(user: Self.client).isEmpty, "nothing reached Angel")

        // The morning login, as a timer runs it: the MPIN and a TOTP from the sealed secret.
        try rig.fake.control("account", ["api_key": Self.apiKey, "client_code": Self.client, "mpin": "4321", "totp_secret": "JBSWY3DPEHPK3PXP"])
        let login = try CommandRunner.algotrader(["broker", "login", rig.ids.brokerID, "--config", Repository.shippedConfig],
                                                 environment: ["ALGOTRADER_DATABASE_URL": rig.url, "ALGOTRADER_SECURITY_CREDENTIALS_KEY": rig.key.line,
                                                               "ALGOTRADER_BROKERS_ANGEL_API_URL": rig.fake.root])
        #expect(login.status == 0, "\(login.stderr)")
        let ctl = { (arguments: [String], stdin: String?) in
            try CommandRunner.algotrader(["ctl", arguments[0], "--endpoint", "ipc://\(dir)/control.ipc", "--token-file", "\(dir)/admin.token"]
                                         + arguments.dropFirst(), environment: [:], stdin: stdin)
        }
        let username = try #require(try rig.db.query("SELECT username FROM users WHERE user_id = $1::uuid", [rig.ids.userID]).scalar)
        #expect(try ctl(["login", username], "renew-pw\n").status == 0)
        #expect(try ctl(["reload"], nil).status == 0)
        #expect(await Poll.until(20) { ((try? KiteEngineTests.count(rig.db, sessionLogs, ["session active again"])) ?? 0) > 0 },
                "the renewed token reached the gateway and Angel took it: \(gateway.log.suffix(2_000))")

        let second = try await rig.strategy(daemon, mode: "working", out: "\(dir)/second.json")
        defer { second.kill() }
        #expect(await Poll.until(30) { ((try? rig.fake.orders(user: Self.client).count) ?? 0) == 2 },
                "\((try? rig.db.query(trades, [rig.ids.brokerID]).rows) ?? []) \(gateway.log.suffix(2_000))")
        let settled = await Self.settle(rig)
        #expect(settled)
        try Self.expectEngineEqualsAngel(rig, "after the renewal")
        let renewed = try #require(try rig.fake.control("state")["ws"] as? [[String: Any]]).compactMap { $0["jwt"] as? String }
        #expect(!renewed.isEmpty && renewed.allSatisfy { !gateway.log.contains($0) && !login.stdout.contains($0) }, "the new token is never shown")
    }
}
