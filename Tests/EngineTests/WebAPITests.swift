import Foundation
import Postgres
import Security
import TestSupport
import Testing

/// `algotrader web` in front of a running daemon: sessions, roles, the JSON error shape, secure
/// defaults, and every list endpoint read under row-level security as the user it is for.
@Suite("Web API")
struct WebAPITests {
    /// A daemon and a web process sharing a forwarder secret, with four users.
    final class Rig {
        let db: PostgresConnection
        let daemon: DaemonProcess
        let web: WebProcess
        var users: [String: SampleRows.IDs] = [:]

        init(environment: [String: String] = [:]) throws {
            let url = try TestDatabase.makeMigrated()
            db = try TestDatabase.connect(url)
            for (name, role) in [("root", "admin"), ("tara", "trader"), ("omar", "trader"), ("ivy", "investor")] {
                let ids = try SampleRows.userStrategyBrokerTrade(db, username: name)
                try db.query("UPDATE users SET role = $2, password_hash = $3 WHERE user_id = $1::uuid",
                             [ids.userID, role, try PasswordHasher(logN: 10).hash("\(name)-password")])
                users[name] = ids
            }
            let directory = NSTemporaryDirectory() + "algotrader-web-\(UUID().uuidString.prefix(8))"
            let secret = try WebProcess.forwarderSecret(in: directory)
            daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_CONTROL_FORWARDER_SECRET_FILE": secret].merging(environment) { $1 },
                                       directory: directory)
            guard daemon.waitUntilStarted() else { throw Repository.Missing(what: "the daemon's control socket") }
            web = try WebProcess(controlEndpoint: "ipc://\(daemon.directory)/control.ipc", forwarderSecretFile: secret)
            guard web.waitUntilServing() else { throw Repository.Missing(what: "the web server: \(web.stderr)") }
        }

        deinit {
            web.stop()
            _ = daemon.stop()
        }

        func login(_ name: String, agent: String = "WebAPITests/1.0") throws -> String {
            let answer = try web.call("POST", "/api/v1/session", body: ["username": name, "password": "\(name)-password"],
                                      headers: ["User-Agent": agent])
            #expect(answer.status == 201, "\(name): \(answer.text)")
            return answer.object["token"] as? String ?? ""
        }

        /// A fill, an open position and a day of performance for the user's sample trade.
        func addHistory(_ name: String) throws {
            let ids = users[name]!
            try db.query("UPDATE trades SET order_id = $2, status = 'FILLED', filled_quantity = 10, average_price = 1500, order_timestamp = now() WHERE trade_id = $1::uuid",
                         [ids.tradeID, "order-\(name)"])
            try db.query("""
                INSERT INTO trade_logs (trade_id, log_level, message, data) VALUES ($1::uuid, 'INFO', 'filled 10 at 1500',
                    '{"exec_id": "x1", "fill_quantity": 10, "fill_price": 1500, "charges": 1.25, "realized_pnl": 40}')
                """, [ids.tradeID])
            try db.query("""
                INSERT INTO positions (trade_id, user_id, symbol, exchange, instrument_type, quantity, average_price, current_price, status, opened_at)
                VALUES ($1::uuid, $2::uuid, 'INFY', 'NSE', 'EQ', 10, 1500, 1510, 'OPEN', now())
                """, [ids.tradeID, ids.userID])
            try db.query("""
                INSERT INTO strategy_performance (strategy_id, date, total_trades, total_pnl, gross_pnl, charges)
                VALUES ($1::uuid, current_date, 1, 38.75, 40, 1.25)
                """, [ids.strategyID])
        }
    }

    static let lists = ["/api/v1/strategies", "/api/v1/positions", "/api/v1/orders", "/api/v1/fills", "/api/v1/pnl/daily"]

    @Test func everyListEndpointShowsATraderOnlyTheirOwnRowsAndAnAdminEveryones() throws {
        let rig = try Rig()
        try rig.addHistory("tara")
        try rig.addHistory("omar")
        let tara = try rig.login("tara"), admin = try rig.login("root")
        let taraID = rig.users["tara"]!.userID, omarID = rig.users["omar"]!.userID
        for path in Self.lists {
            let own = try rig.web.call("GET", path, token: tara)
            #expect(own.status == 200, "\(path): \(own.text)")
            #expect(own.array.count == 1, "\(path): \(own.text)")
            #expect(own.array.allSatisfy { $0["user_id"] as? String == taraID }, "\(path): \(own.text)")
            for omars in [omarID, rig.users["omar"]!.strategyID, rig.users["omar"]!.tradeID, "order-omar"] {
                #expect(!own.text.contains(omars), "\(path) shows tara omar's \(omars): \(own.text)")
            }
            let all = try rig.web.call("GET", path, token: admin)
            #expect(Set(all.array.compactMap { $0["user_id"] as? String }).isSuperset(of: [taraID, omarID]), "\(path): \(all.text)")
            // Another user's by name is 404 to a trader, theirs to an admin.
            #expect(try rig.web.call("GET", path + "?user_id=omar", token: tara).status == 404)
            let named = try rig.web.call("GET", path + "?user_id=omar", token: admin)
            #expect(named.status == 200 && named.array.allSatisfy { $0["user_id"] as? String == omarID }, "\(path): \(named.text)")
        }
        // Field names and numbers as the events carry them.
        let fill = try rig.web.call("GET", "/api/v1/fills", token: tara).array.first ?? [:]
        #expect(fill["fill_price"] as? Double == 1500 && fill["fill_quantity"] as? Double == 10 && fill["order_id"] as? String == "order-tara")
        let day = try rig.web.call("GET", "/api/v1/pnl/daily", token: tara).array.first ?? [:]
        #expect(day["gross_pnl"] as? Double == 40 && day["charges"] as? Double == 1.25 && day["net_pnl"] as? Double == 38.75, "\(day)")
        let position = try rig.web.call("GET", "/api/v1/positions", token: tara).array.first ?? [:]
        #expect(position["unrealized_pnl"] as? Double == 100, "(1510 - 1500) x 10: \(position)")
        let strategy = try rig.web.call("GET", "/api/v1/strategies", token: tara).array.first ?? [:]
        #expect(strategy["strategy_type"] as? String == "sma_crossover" && strategy["parameters"] is [String: Any] && strategy["is_running"] is Bool)
        let equity = try rig.web.call("GET", "/api/v1/equity", token: tara).object
        let points = equity["points"] as? [[String: Any]] ?? []
        #expect(points.count == 1 && points.first?["equity"] as? Double == 38.75, "40 realized less 1.25 charges: \(equity)")

        // Paging: the cursor of the last row gives the next page, never repeating one.
        let first = try rig.web.call("GET", "/api/v1/orders?limit=1", token: admin).array
        #expect(first.count == 1)
        let cursor = first.first?["cursor"] as? String ?? ""
        let next = try rig.web.call("GET", "/api/v1/orders?limit=1&before=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")", token: admin)
        #expect(next.status == 200 && next.array.count == 1 && next.array.first?["trade_id"] as? String != first.first?["trade_id"] as? String,
                "\(next.text)")
        #expect(try rig.web.call("GET", "/api/v1/orders?before=nonsense", token: admin).status == 400)
        #expect(try rig.web.call("GET", "/api/v1/orders?status=FILLED&from=2020-01-01T00:00:00Z", token: tara).array.count == 1)
        #expect(try rig.web.call("GET", "/api/v1/orders?status=OPEN", token: tara).array.isEmpty)
    }

    @Test func aWebLoginRecordsTheBrowsersAddressAndAgentAndFailedLoginsAreLimited() throws {
        let rig = try Rig(environment: ["ALGOTRADER_CONTROL_MAX_FAILED_LOGINS": "3"])
        let answer = try rig.web.call("POST", "/api/v1/session", body: ["username": "tara", "password": "tara-password"],
                                      headers: ["User-Agent": "Mozilla/5.0 (X11; Linux x86_64) WebAPITests"])
        #expect(answer.status == 201, "\(answer.text)")
        let user = answer.object["user"] as? [String: Any] ?? [:]
        #expect(user["username"] as? String == "tara" && user["role"] as? String == "trader" && user["user_id"] as? String == rig.users["tara"]!.userID)
        #expect(answer.object["expires_at"] is String)
        let token = answer.object["token"] as? String ?? ""
        let row = try rig.db.query("SELECT host(ip_address), user_agent FROM user_sessions WHERE user_id = $1::uuid", [rig.users["tara"]!.userID]).rows
        #expect(row.count == 1 && row.first?[0] == "127.0.0.1" && row.first?[1] == "Mozilla/5.0 (X11; Linux x86_64) WebAPITests", "\(row)")
        #expect(try rig.db.query("SELECT count(*) FROM user_sessions WHERE token_hash = $1", [token]).scalar == "0", "only the token's hash")

        let me = try rig.web.call("GET", "/api/v1/me", token: token)
        #expect(me.status == 200 && me.object["username"] as? String == "tara" && me.object["role"] as? String == "trader", "\(me.text)")
        #expect(try rig.web.call("DELETE", "/api/v1/session", token: token).status == 204)
        let ended = try rig.web.call("GET", "/api/v1/me", token: token)
        #expect(ended.status == 401 && (ended.object["error"] as? [String: Any])?["code"] as? String == "unauthorized", "\(ended.text)")

        for _ in 0..<3 {
            let wrong = try rig.web.call("POST", "/api/v1/session", body: ["username": "omar", "password": "wrong"])
            #expect(wrong.status == 401 && (wrong.object["error"] as? [String: Any])?["message"] is String, "\(wrong.text)")
        }
        let limited = try rig.web.call("POST", "/api/v1/session", body: ["username": "omar", "password": "omar-password"])
        #expect(limited.status == 429 && limited.header("Retry-After") != nil, "\(limited.status) \(limited.text)")
        #expect(try rig.web.call("POST", "/api/v1/session", body: ["username": "tara", "password": "tara-password"]).status == 201,
                "another user from the same address is not locked out")
    }

    @Test func rolesAnswer403AndOtherUsersObjects404WithTheJSONErrorShapeAndSecureHeaders() throws {
        let rig = try Rig()
        try rig.db.query("UPDATE trades SET order_id = 'order-omar', status = 'OPEN' WHERE trade_id = $1::uuid", [rig.users["omar"]!.tradeID])
        let tara = try rig.login("tara"), ivy = try rig.login("ivy"), root = try rig.login("root")
        let omarStrategy = rig.users["omar"]!.strategyID, taraStrategy = rig.users["tara"]!.strategyID

        // An investor reads and changes nothing.
        #expect(try rig.web.call("GET", "/api/v1/orders", token: ivy).status == 200)
        for (method, path, body) in [("POST", "/api/v1/halt", ["scope": "user"]), ("POST", "/api/v1/flatten", ["scope": "user"]),
                                     ("POST", "/api/v1/strategies/\(rig.users["ivy"]!.strategyID)/stop", [:])] as [(String, String, [String: String])] {
            let refused = try rig.web.call(method, path, token: ivy, body: body)
            #expect(refused.status == 403 && (refused.object["error"] as? [String: Any])?["code"] as? String == "forbidden", "\(path): \(refused.text)")
        }
        // Another user's strategy or order is 404 to a trader.
        #expect(try rig.web.call("POST", "/api/v1/strategies/\(omarStrategy)/stop", token: tara).status == 404)
        #expect(try rig.web.call("POST", "/api/v1/orders/order-omar/cancel", token: tara).status == 404)
        #expect(try rig.web.call("POST", "/api/v1/halt", token: tara, body: ["scope": "strategy", "id": omarStrategy]).status == 404)
        // Their own: stop and start, halt, and resume only by an admin.
        let stopped = try rig.web.call("POST", "/api/v1/strategies/\(taraStrategy)/stop", token: tara)
        #expect(stopped.status == 200 && stopped.object["is_active"] as? Bool == false, "\(stopped.text)")
        #expect(try rig.db.query("SELECT is_active FROM strategies WHERE strategy_id = $1::uuid", [taraStrategy]).scalar == "f")
        let halted = try rig.web.call("POST", "/api/v1/halt", token: tara, body: ["scope": "strategy", "id": taraStrategy, "reason": "lunch"])
        #expect(halted.status == 200, "\(halted.text)")
        #expect(try rig.db.query("SELECT reason FROM halts WHERE strategy_id = $1::uuid AND resumed_at IS NULL", [taraStrategy]).scalar == "lunch")
        #expect(try rig.web.call("POST", "/api/v1/resume", token: tara, body: ["scope": "strategy", "id": taraStrategy]).status == 403)
        let resumed = try rig.web.call("POST", "/api/v1/resume", token: root, body: ["scope": "strategy", "id": taraStrategy])
        #expect(resumed.status == 200, "\(resumed.text)")
        #expect(try rig.web.call("POST", "/api/v1/orders/order-omar/cancel", token: root).status == 202)
        #expect(try rig.web.call("POST", "/api/v1/halt", token: tara, body: ["scope": "engine"]).status == 403)
        #expect(try rig.web.call("POST", "/api/v1/halt", token: tara, body: ["scope": "everything"]).status == 400)
        #expect(try rig.web.call("POST", "/api/v1/halt", token: tara, body: ["scope": "user", "extra": 1]).status == 400)

        // No token, an unknown path, a body over the limit: each the JSON error object.
        let anonymous = try rig.web.call("GET", "/api/v1/orders")
        #expect(anonymous.status == 401 && anonymous.header("WWW-Authenticate") == "Bearer")
        let missing = try rig.web.call("GET", "/api/v1/nothing-here", token: tara)
        #expect(missing.status == 404 && (missing.object["error"] as? [String: Any])?["code"] as? String == "not_found", "\(missing.text)")
        let huge = try rig.web.call("POST", "/api/v1/session", body: Data(repeating: UInt8(ascii: " "), count: 100_000),
                                    headers: ["Content-Type": "application/json"])
        #expect(huge.status == 413 && (huge.object["error"] as? [String: Any])?["code"] as? String == "payload_too_large", "\(huge.status) \(huge.text)")
        for answer in [anonymous, missing, try rig.web.call("GET", "/api/v1/health")] {
            #expect(answer.header("X-Content-Type-Options") == "nosniff" && answer.header("X-Frame-Options") == "DENY")
            #expect(answer.header("Content-Security-Policy")?.contains("default-src 'self'") == true)
            #expect(answer.header("Access-Control-Allow-Origin") == nil, "no CORS unless configured")
        }
        #expect(try rig.web.call("GET", "/api/v1/health").object["engine"] as? String == "reachable")

        // The OpenAPI document names every endpoint by its full path; a plain GET of the stream is 400.
        let document = try rig.web.call("GET", "/api/v1/openapi.json").object
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = Set((document["paths"] as? [String: Any] ?? [:]).keys)
        #expect(paths == Set(["health", "openapi.json", "session", "me", "strategies", "strategies/{strategy_id}/start",
                              "strategies/{strategy_id}/stop", "positions", "orders", "orders/{order_id}/cancel", "fills", "pnl/daily",
                              "equity", "equity.svg", "halt", "resume", "flatten", "stream"].map { "/api/v1/" + $0 }), "\(paths.sorted())")
        #expect(try rig.web.call("GET", "/api/v1/stream").status == 400)
    }
}
