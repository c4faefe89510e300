import Foundation
import Postgres
import Storage
import TradingCore

/// The control socket's commands once the caller's token is checked (docs/security.md). A
/// non-admin naming another user, strategy or order gets the same answer as for one that does not
/// exist, so nothing tells a caller which names or ids exist beyond their own.
extension ControlServer {
    func handle(_ command: String, _ request: ControlRequest, caller: Caller, token: String, peer: Peer,
                _ db: PostgresConnection) throws -> JSONObjectWriter {
        let actor = "ctl:\(caller.username)"
        /// The user a command acts on: the caller, or for an admin the `user` it names.
        func target() throws -> String {
            guard let named = try request.string("user", max: 64), !named.isEmpty else { return caller.userID }
            let id = try db.query("SELECT user_id::text FROM users WHERE username = $1 OR user_id::text = lower($1)", [named]).scalar
            guard let id, id == caller.userID || caller.isAdmin else {
                throw ControlRefusal(caller.isAdmin ? "no user '\(named)'" : "no user '\(named)' you may act on")
            }
            return id
        }
        func requireActor() throws {
            guard caller.canAct else {
                throw ControlRefusal("refused: an investor account is read-only ('\(command)' changes trading)")
            }
        }
        /// The `strategy_id` a request names and its owner, if the caller may act for them.
        func namedStrategy() throws -> (id: String, owner: String) {
            let strategyID = try request.requiredUUID("strategy_id")
            let rows = try db.query("SELECT user_id::text FROM strategies WHERE strategy_id = $1::uuid AND deleted_at IS NULL", [strategyID])
            guard let owner = rows.scalar, owner == caller.userID || caller.isAdmin else { throw ControlRefusal("no strategy '\(strategyID)' of yours") }
            return (strategyID, owner)
        }
        var answer = JSONObjectWriter()
        switch command {
        case "logout":
            try SessionStore.close(db, tokenHash: Self.hash(token))
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .logout, targetUserID: caller.userID, peer: peer.label)
            answer.add("logged_out", true)
        case "status":
            answer = try status(caller, db)
        case "strategies":
            let rows = try UserScope.run(db, userID: try target()) { conn in
                try conn.query("""
                    SELECT strategy_id::text, name, strategy_type, is_active, coalesce(is_running, false), parameters::text
                    FROM strategies WHERE deleted_at IS NULL ORDER BY name
                    """).rows
            }
            answer.add("strategies", objects: rows.map { row in
                var w = JSONObjectWriter()
                w.add("strategy_id", row[0])
                w.add("name", row[1] ?? "")
                w.add("type", row[2] ?? "")
                w.add("is_active", row[3] == "t")
                w.add("is_running", row[4] == "t")
                w.add("parameters", row[5] ?? "{}")
                return w
            })
        case "strategy.start", "strategy.stop":
            try requireActor()
            let (strategyID, owner) = try namedStrategy()
            let start = command == "strategy.start"
            try UserScope.run(db, userID: owner) { conn in
                try conn.query("UPDATE strategies SET is_active = $2::boolean WHERE strategy_id = $1::uuid", [strategyID, start ? "true" : "false"])
                try AuditLog.record(conn, actor: actor, actorUserID: caller.userID, action: start ? .strategyStarted : .strategyStopped,
                                    targetUserID: owner, target: strategyID, peer: peer.label)
            }
            hooks.reloadStrategies()
            answer.add("strategy_id", strategyID)
            answer.add("is_active", start)
        case "positions":
            let rows = try UserScope.run(db, userID: try target()) { conn in
                try conn.query("""
                    SELECT position_id::text, symbol, exchange, quantity, average_price::text, current_price::text,
                           unrealized_pnl::text, realized_pnl::text, status
                    FROM positions WHERE status <> 'CLOSED' ORDER BY symbol, exchange
                    """).rows
            }
            answer.add("positions", objects: rows.map { row in
                var w = JSONObjectWriter()
                w.add("position_id", row[0])
                w.add("symbol", row[1] ?? "")
                w.add("exchange", row[2] ?? "")
                w.add("quantity", Int64(row[3] ?? "0") ?? 0)
                w.add("average_price", row[4])
                w.add("current_price", row[5])
                w.add("unrealized_pnl", row[6])
                w.add("realized_pnl", row[7])
                w.add("status", row[8] ?? "")
                return w
            })
        case "orders":
            let user = try target()
            let limit = try request.integer("limit", in: 1...1_000) ?? 100
            let status = try request.string("status", max: 32)
            let rows = try UserScope.run(db, userID: user) { conn in
                try conn.query("""
                    SELECT order_id, trade_id::text, symbol, exchange, transaction_type, order_type, quantity, filled_quantity,
                           price::text, average_price::text, status, order_timestamp::text
                    FROM trades WHERE $1::text IS NULL OR status = $1 ORDER BY order_timestamp DESC LIMIT $2::int
                    """, [status, String(limit)]).rows
            }
            answer.add("orders", objects: rows.map { row in
                var w = JSONObjectWriter()
                w.add("order_id", row[0])
                w.add("trade_id", row[1])
                w.add("symbol", row[2] ?? "")
                w.add("exchange", row[3] ?? "")
                w.add("transaction_type", row[4] ?? "")
                w.add("order_type", row[5] ?? "")
                w.add("quantity", Int64(row[6] ?? "0") ?? 0)
                w.add("filled_quantity", Int64(row[7] ?? "0") ?? 0)
                w.add("price", row[8])
                w.add("average_price", row[9])
                w.add("status", row[10] ?? "")
                w.add("order_timestamp", row[11] ?? "")
                return w
            })
        case "order.cancel":
            try requireActor()
            let orderID = try request.requiredString("order_id", max: 64).lowercased()
            let visible = try UserScope.run(db, userID: caller.isAdmin ? nil : caller.userID) { conn -> Bool in
                if caller.isAdmin { return true }
                return try conn.query("SELECT 1 FROM trades WHERE order_id = $1", [orderID]).rows.count == 1
            }
            let owner = try db.query("SELECT s.user_id::text FROM trades t JOIN strategies s USING (strategy_id) WHERE t.order_id = $1",
                                     [orderID]).scalar
            guard visible, let owner else { throw ControlRefusal("no order '\(orderID)' of yours") }
            hooks.desk?.cancel(orderID: orderID, reason: "cancelled by \(caller.username)", now: SystemClock().now())
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .orderCancelled, targetUserID: owner, target: orderID,
                                peer: peer.label)
            answer.add("order_id", orderID)
            answer.add("cancel", "requested")
        case "halt", "resume":
            let halting = command == "halt"
            if halting { try requireActor() } else if !caller.isAdmin { throw ControlRefusal("only an admin resumes trading after a halt") }
            // Exactly one scope, each typed: `"engine": "true"` is refused, never a halt of the caller.
            let engine = try request.bool("engine") ?? false
            let scopes = (request.has("strategy_id") ? 1 : 0) + (engine ? 1 : 0) + (request.has("user") ? 1 : 0)
            guard scopes <= 1 else { throw ControlRefusal("name one scope: 'user', 'strategy_id' or \"engine\": true") }
            let scope: OperatorHalts.Scope
            if request.has("strategy_id") {
                let (strategyID, owner) = try namedStrategy()
                scope = .strategy(id: strategyID, userID: owner)
            } else if engine {
                guard caller.isAdmin else { throw ControlRefusal("only an admin \(halting ? "halts" : "resumes") the whole engine") }
                scope = .engine
            } else {
                scope = .user(try target())
            }
            if halting {
                let reason = try request.string("reason", max: 500) ?? "halted by \(caller.username)"
                try OperatorHalts.halt(db, scope, reason: reason, actor: actor, actorUserID: caller.userID, peer: peer.label)
                switch scope {
                case .engine: answer.add("halted", "engine")
                case .user(let id): answer.add("halted", id)
                case .strategy(let id, _):
                    answer.add("halted", "strategy")
                    answer.add("strategy_id", id)
                }
            } else {
                let lifted = try OperatorHalts.resume(db, scope, actor: actor, actorUserID: caller.userID, peer: peer.label)
                answer.add("lifted", lifted)
                if case .strategy(let id, _) = scope { answer.add("strategy_id", id) }
            }
        case "flatten":
            try requireActor()
            let user = try target()
            guard let desk = hooks.desk else { throw ControlRefusal("no order desk in this process") }
            let result = desk.flatten(userID: user, now: SystemClock().now())
            var details = JSONObjectWriter()
            details.add("closing_orders", result.closingOrders)
            details.add("cancel_requests", result.cancelRequests)
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .flatten, targetUserID: user, details: details.text,
                                peer: peer.label)
            answer.add("closing_orders", result.closingOrders)
            answer.add("cancel_requests", result.cancelRequests)
            answer.add("skipped", strings: result.skipped)
        default:
            throw ControlRefusal("unknown command '\(PrintableText.make(command, maxCharacters: 64))' (login, logout, status, strategies, "
                                 + "strategy.start, strategy.stop, positions, orders, order.cancel, halt, resume, flatten)")
        }
        return answer
    }

    private func status(_ caller: Caller, _ db: PostgresConnection) throws -> JSONObjectWriter {
        let halts = try db.query("SELECT user_id::text, reason, source, strategy_id::text FROM halts WHERE resumed_at IS NULL").rows
        let visible = halts.filter { $0[0] == nil || caller.isAdmin || $0[0] == caller.userID }
        let counts: [String?]
        if caller.isAdmin {
            counts = try db.query("SELECT count(*) FILTER (WHERE is_running), count(*) FROM strategies WHERE deleted_at IS NULL").rows[0]
        } else {
            counts = try UserScope.run(db, userID: caller.userID) { conn in
                try conn.query("SELECT count(*) FILTER (WHERE is_running), count(*) FROM strategies WHERE deleted_at IS NULL").rows[0]
            }
        }
        var body = JSONObjectWriter()
        body.add("user", caller.username)
        body.add("user_id", caller.userID)
        body.add("role", caller.role)
        body.add("engine_halted", halts.contains { $0[0] == nil })
        body.add("halts", objects: visible.map { row in
            var w = JSONObjectWriter()
            w.add("user_id", row[0])
            w.add("strategy_id", row[3])
            w.add("reason", row[1] ?? "")
            w.add("source", row[2] ?? "")
            return w
        })
        body.add("strategies_running", Int64(counts[0] ?? "0") ?? 0)
        body.add("strategies", Int64(counts[1] ?? "0") ?? 0)
        return body
    }
}
