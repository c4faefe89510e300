import Crypto
import Dispatch
import Foundation
public import Logging
import Postgres
import Security
import Storage
import Synchronization
import TradingCore
public import ZeroMQ

/// The control socket (`control.bind`, a ROUTER; docs/security.md): JSON requests from
/// `algotrader ctl` or any DEALER/REQ client. Two frames in (command, JSON object) and two out
/// (`ok` or `error`, JSON object). `login` exchanges a password for a random 256-bit token whose
/// SHA-256 alone is stored in `user_sessions`; every other command carries `token`. Investors
/// read, traders act on their own resources, admins on all. Per-user reads and writes run as the
/// row-level-security role for the user acted on. Failed logins are limited per user and per peer;
/// logins, failures, starts, stops, halts, resumes, flattens and cancels are audited.
public final class ControlServer: Sendable {
    public struct Settings: Sendable {
        public var endpoint: String
        public var sessionTTLMinutes: Int
        public var maxFailedLogins: Int
        public var failedLoginWindowSeconds: Int

        public init(endpoint: String, sessionTTLMinutes: Int = 480, maxFailedLogins: Int = 5, failedLoginWindowSeconds: Int = 300) {
            self.endpoint = endpoint
            self.sessionTTLMinutes = sessionTTLMinutes
            self.maxFailedLogins = maxFailedLogins
            self.failedLoginWindowSeconds = failedLoginWindowSeconds
        }
    }

    /// What the control socket can do to the running engine.
    public struct Hooks: Sendable {
        public var reloadStrategies: @Sendable () -> Void
        public var desk: OrderDesk?

        public init(reloadStrategies: @escaping @Sendable () -> Void, desk: OrderDesk?) {
            self.reloadStrategies = reloadStrategies
            self.desk = desk
        }
    }

    private let settings: Settings
    private let context: ZMQContext
    private let connectionString: String
    private let logger: Logger
    private let hooks: Hooks
    private let security: SocketSecurity?
    private let service = ServiceThread()

    public init(settings: Settings, context: ZMQContext, connectionString: String, logger: Logger, hooks: Hooks,
                security: SocketSecurity? = nil) {
        self.settings = settings
        self.context = context
        self.connectionString = connectionString
        self.logger = logger
        self.hooks = hooks
        self.security = security
    }

    public func start() throws(ZMQError) {
        try service.start(name: "control") { [self] ready in run(ready) }
    }

    public func stop() {
        service.stop()
    }

    struct Refusal: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// Who sent a request, after its token was checked.
    struct Caller {
        let userID: String
        let username: String
        let role: String
        var isAdmin: Bool { role == "admin" }
        var canAct: Bool { role != "investor" }
    }

    private func run(_ ready: (ZMQError?) -> Void) {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .router, linger: 500)
            try security?.applyServer(to: socket)
            try socket.bind(settings.endpoint)
        } catch {
            ready(error)
            return
        }
        ready(nil)
        logger.info("control socket ready", metadata: ["endpoint": "\(settings.endpoint)"])
        let db = LazyConnection(connectionString: connectionString)
        var limiter = LoginLimiter(max: settings.maxFailedLogins, window: Double(settings.failedLoginWindowSeconds))
        while !service.isStopping {
            guard let ready = try? socket.poll(.readable, timeoutMilliseconds: 100), ready.contains(.readable),
                  let message = try? socket.receiveMessage(dontWait: true) else { continue }
            var frames = message.frames
            guard frames.count >= 2 else { continue }
            // A REQ client puts an empty delimiter after its identity: answer in the same envelope.
            let envelope = frames[1].isEmpty ? [frames[0], []] : [frames[0]]
            frames.removeFirst(envelope.count)
            func reply(_ status: String, _ body: [String: Any]) {
                let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
                _ = try? socket.send(envelope + [Array(status.utf8), Array(data)])
            }
            guard frames.count == 2, let command = String(bytes: frames[0], encoding: .utf8),
                  let request = try? JSONSerialization.jsonObject(with: Data(frames[1])) as? [String: Any] else {
                reply("error", ["error": "expected two frames: a command and a JSON object"])
                continue
            }
            do {
                let conn = try db.get()
                let answer = try handle(command, request, peer: message.peerAddress, conn, &limiter)
                reply("ok", answer)
            } catch let refusal as Refusal {
                reply("error", ["error": refusal.message])
            } catch let error as PostgresError {
                db.close()
                logger.error("control request failed", metadata: ["command": "\(command)", "error": "\(error)"])
                reply("error", ["error": "database error: \(error.message)"])
            } catch {
                reply("error", ["error": "\(error)"])
            }
        }
        db.close()
        socket.close()
    }

    /// The `strategy_id` a request names and its owner, if the caller may act for them: an
    /// admin any, a trader only their own.
    private static func namedStrategy(_ request: [String: Any], _ caller: Caller, _ db: PostgresConnection) throws -> (id: String, owner: String) {
        guard let strategyID = (request["strategy_id"] as? String)?.lowercased() else { throw Refusal("needs strategy_id") }
        let owner = try db.query("SELECT user_id::text FROM strategies WHERE strategy_id::text = $1 AND deleted_at IS NULL",
                                 [strategyID]).scalar
        guard let owner, owner == caller.userID || caller.isAdmin else { throw Refusal("no strategy '\(strategyID)' of yours") }
        return (strategyID, owner)
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    private func handle(_ command: String, _ request: [String: Any], peer: String?, _ db: PostgresConnection,
                        _ limiter: inout LoginLimiter) throws -> [String: Any] {
        if command == "login" { return try login(request, peer: peer, db, &limiter) }
        guard let token = request["token"] as? String, !token.isEmpty else { throw Refusal("'\(command)' needs a token (log in first)") }
        guard let row = try db.query("""
            SELECT u.user_id::text, u.username, u.role FROM user_sessions s JOIN users u USING (user_id)
            WHERE s.token_hash = $1 AND s.expires_at > now() AND coalesce(u.is_active, true)
            """, [Self.hash(token)]).rows.first else { throw Refusal("the token is unknown or expired: log in again") }
        let caller = Caller(userID: row[0]!, username: row[1]!, role: row[2]!)
        let actor = "ctl:\(caller.username)"
        /// The user a command acts on: the caller, or for an admin the `user` it names.
        func target() throws -> String {
            guard let named = request["user"] as? String, !named.isEmpty else { return caller.userID }
            let id = try db.query("SELECT user_id::text FROM users WHERE username = $1 OR user_id::text = lower($1)", [named]).scalar
            guard let id else { throw Refusal("no user '\(named)'") }
            guard id == caller.userID || caller.isAdmin else { throw Refusal("a \(caller.role) acts only on their own account") }
            return id
        }
        func requireActor() throws {
            guard caller.canAct else { throw Refusal("refused: an investor account is read-only ('\(command)' changes trading)") }
        }
        func namedStrategy() throws -> (id: String, owner: String) { try Self.namedStrategy(request, caller, db) }
        switch command {
        case "logout":
            try db.query("DELETE FROM user_sessions WHERE token_hash = $1", [Self.hash(token)])
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .logout, targetUserID: caller.userID, peer: peer)
            return ["logged_out": true]
        case "status":
            let halts = try db.query("SELECT user_id::text, reason, source, strategy_id::text FROM halts WHERE resumed_at IS NULL").rows
            let visible = halts.filter { $0[0] == nil || caller.isAdmin || $0[0] == caller.userID }
            let running = try UserScope.run(db, userID: caller.isAdmin ? nil : caller.userID) { conn in
                try conn.query("SELECT count(*) FILTER (WHERE is_running), count(*) FROM strategies WHERE deleted_at IS NULL").rows[0]
            }
            var body: [String: Any] = ["user": caller.username, "user_id": caller.userID, "role": caller.role,
                                       "engine_halted": halts.contains { $0[0] == nil },
                                       "halts": visible.map { ["user_id": $0[0] as Any, "strategy_id": $0[3] as Any, "reason": $0[1] ?? "", "source": $0[2] ?? ""] }]
            if !caller.isAdmin {
                body["strategies_running"] = Int(running[0] ?? "0") ?? 0
                body["strategies"] = Int(running[1] ?? "0") ?? 0
            } else {
                let all = try db.query("SELECT count(*) FILTER (WHERE is_running), count(*) FROM strategies WHERE deleted_at IS NULL").rows[0]
                body["strategies_running"] = Int(all[0] ?? "0") ?? 0
                body["strategies"] = Int(all[1] ?? "0") ?? 0
            }
            return body
        case "strategies":
            let user = try target()
            let rows = try UserScope.run(db, userID: user) { conn in
                try conn.query("""
                    SELECT strategy_id::text, name, strategy_type, is_active, coalesce(is_running, false), parameters::text
                    FROM strategies WHERE deleted_at IS NULL ORDER BY name
                    """).rows
            }
            return ["strategies": rows.map { ["strategy_id": $0[0]!, "name": $0[1] ?? "", "type": $0[2] ?? "", "is_active": $0[3] == "t",
                                              "is_running": $0[4] == "t", "parameters": $0[5] ?? "{}"] as [String: Any] }]
        case "strategy.start", "strategy.stop":
            try requireActor()
            let (strategyID, owner) = try namedStrategy()
            let start = command == "strategy.start"
            try UserScope.run(db, userID: owner) { conn in
                try conn.query("UPDATE strategies SET is_active = $2::boolean WHERE strategy_id = $1::uuid", [strategyID, start ? "true" : "false"])
                try AuditLog.record(conn, actor: actor, actorUserID: caller.userID, action: start ? .strategyStarted : .strategyStopped,
                                    targetUserID: owner, target: strategyID, peer: peer)
            }
            hooks.reloadStrategies()
            return ["strategy_id": strategyID, "is_active": start]
        case "positions":
            let user = try target()
            let rows = try UserScope.run(db, userID: user) { conn in
                try conn.query("""
                    SELECT position_id::text, symbol, exchange, quantity, average_price::text, current_price::text,
                           unrealized_pnl::text, realized_pnl::text, status
                    FROM positions WHERE status <> 'CLOSED' ORDER BY symbol, exchange
                    """).rows
            }
            return ["positions": rows.map { ["position_id": $0[0]!, "symbol": $0[1] ?? "", "exchange": $0[2] ?? "",
                                             "quantity": Int($0[3] ?? "0") ?? 0, "average_price": $0[4] as Any, "current_price": $0[5] as Any,
                                             "unrealized_pnl": $0[6] as Any, "realized_pnl": $0[7] as Any, "status": $0[8] ?? ""] as [String: Any] }]
        case "orders":
            let user = try target()
            let limit = min(max((request["limit"] as? Int) ?? 100, 1), 1_000)
            let status = request["status"] as? String
            let rows = try UserScope.run(db, userID: user) { conn in
                try conn.query("""
                    SELECT order_id, trade_id::text, symbol, exchange, transaction_type, order_type, quantity, filled_quantity,
                           price::text, average_price::text, status, order_timestamp::text
                    FROM trades WHERE $1::text IS NULL OR status = $1 ORDER BY order_timestamp DESC LIMIT $2::int
                    """, [status, String(limit)]).rows
            }
            return ["orders": rows.map { ["order_id": $0[0] as Any, "trade_id": $0[1]!, "symbol": $0[2] ?? "", "exchange": $0[3] ?? "",
                                          "transaction_type": $0[4] ?? "", "order_type": $0[5] ?? "", "quantity": Int($0[6] ?? "0") ?? 0,
                                          "filled_quantity": Int($0[7] ?? "0") ?? 0, "price": $0[8] as Any, "average_price": $0[9] as Any,
                                          "status": $0[10] ?? "", "order_timestamp": $0[11] ?? ""] as [String: Any] }]
        case "order.cancel":
            try requireActor()
            guard let orderID = (request["order_id"] as? String)?.lowercased() else { throw Refusal("needs order_id") }
            let visible = try UserScope.run(db, userID: caller.isAdmin ? nil : caller.userID) { conn -> Bool in
                if caller.isAdmin { return true }
                return try conn.query("SELECT 1 FROM trades WHERE order_id = $1", [orderID]).rows.count == 1
            }
            let exists = try db.query("SELECT s.user_id::text FROM trades t JOIN strategies s USING (strategy_id) WHERE t.order_id = $1", [orderID]).scalar
            guard visible, let owner = exists else { throw Refusal("no order '\(orderID)' of yours") }
            hooks.desk?.cancel(orderID: orderID, reason: "cancelled by \(caller.username)", now: SystemClock().now())
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .orderCancelled, targetUserID: owner, target: orderID, peer: peer)
            return ["order_id": orderID, "cancel": "requested"]
        case "halt":
            try requireActor()
            let scope: OperatorHalts.Scope
            if request["strategy_id"] != nil {
                let (strategyID, owner) = try namedStrategy()
                scope = .strategy(id: strategyID, userID: owner)
            } else if request["engine"] as? Bool ?? false {
                guard caller.isAdmin else { throw Refusal("only an admin halts the whole engine") }
                scope = .engine
            } else {
                scope = .user(try target())
            }
            let reason = request["reason"] as? String ?? "halted by \(caller.username)"
            try OperatorHalts.halt(db, scope, reason: reason, actor: actor, actorUserID: caller.userID, peer: peer)
            switch scope {
            case .engine: return ["halted": "engine"]
            case .user(let id): return ["halted": id]
            case .strategy(let id, _): return ["halted": "strategy", "strategy_id": id]
            }
        case "resume":
            guard caller.isAdmin else { throw Refusal("only an admin resumes trading after a halt") }
            let scope: OperatorHalts.Scope
            if request["strategy_id"] != nil {
                let (strategyID, owner) = try namedStrategy()
                scope = .strategy(id: strategyID, userID: owner)
            } else {
                scope = request["engine"] as? Bool ?? false ? .engine : .user(try target())
            }
            let lifted = try OperatorHalts.resume(db, scope, actor: actor, actorUserID: caller.userID, peer: peer)
            if case .strategy(let id, _) = scope { return ["lifted": lifted, "strategy_id": id] }
            return ["lifted": lifted]
        case "flatten":
            try requireActor()
            let user = try target()
            guard let desk = hooks.desk else { throw Refusal("no order desk in this process") }
            let result = desk.flatten(userID: user, now: SystemClock().now())
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .flatten, targetUserID: user,
                                details: "{\"closing_orders\":\(result.closingOrders),\"cancel_requests\":\(result.cancelRequests)}", peer: peer)
            return ["closing_orders": result.closingOrders, "cancel_requests": result.cancelRequests, "skipped": result.skipped]
        default:
            throw Refusal("unknown command '\(command)' (login, logout, status, strategies, strategy.start, strategy.stop, positions, orders, order.cancel, halt, resume, flatten)")
        }
    }

    private func login(_ request: [String: Any], peer: String?, _ db: PostgresConnection, _ limiter: inout LoginLimiter) throws -> [String: Any] {
        guard let username = request["username"] as? String, let password = request["password"] as? String else {
            throw Refusal("login needs username and password")
        }
        let peerKey = peer ?? "local"
        let now = Date().timeIntervalSince1970
        if let wait = limiter.blocked(user: username, peer: peerKey, now: now) {
            try AuditLog.record(db, actor: "ctl:\(username)", action: .loginFailed, target: username,
                                details: "{\"reason\":\"rate_limited\"}", peer: peer)
            throw Refusal("too many failed logins: try again in \(Int(wait.rounded(.up))) s")
        }
        let row = try db.query("SELECT user_id::text, password_hash, role, coalesce(is_active, true) FROM users WHERE username = $1",
                               [username]).rows.first
        // Unknown users cost a verification too, so timing does not tell which names exist.
        let stored = row?[1] ?? Self.decoyHash
        let matches = (try? PasswordHasher.verify(password, against: stored)) ?? false
        guard let row, matches, row[3] == "t" else {
            limiter.fail(user: username, peer: peerKey, now: now)
            try AuditLog.record(db, actor: "ctl:\(username)", actorUserID: row?[0], action: .loginFailed, targetUserID: row?[0], target: username,
                                details: row?[3] == "f" ? "{\"reason\":\"disabled\"}" : "{\"reason\":\"bad credentials\"}", peer: peer)
            throw Refusal("login failed")
        }
        limiter.succeed(user: username, peer: peerKey)
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = rng.next() }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let userID = row[0]!
        let expires = try db.transaction { conn -> String in
            let expires = try conn.query("""
                INSERT INTO user_sessions (user_id, token_hash, expires_at, ip_address, user_agent)
                VALUES ($1::uuid, $2, now() + make_interval(mins => $3::int), $4::inet, $5) RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                """, [userID, Self.hash(token), String(settings.sessionTTLMinutes), Self.ipAddress(peer), request["client"] as? String]).scalar!
            try conn.query("UPDATE users SET last_login = now() WHERE user_id = $1::uuid", [userID])
            try AuditLog.record(conn, actor: "ctl:\(username)", actorUserID: userID, action: .login, targetUserID: userID, peer: peer)
            return expires
        }
        return ["token": token, "user_id": userID, "role": row[2] ?? "", "expires_at": expires]
    }

    /// A syntactically valid hash no password matches, for unknown usernames (same cost as ln=15).
    static let decoyHash = (try? PasswordHasher(logN: 15).hash(UUID().uuidString)) ?? "$scrypt$ln=15,r=8,p=1$AAAA$AAAA"

    /// The peer's address if it is an IP (TCP); nil for ipc/inproc.
    static func ipAddress(_ peer: String?) -> String? {
        guard let peer, !peer.isEmpty else { return nil }
        let looksIP = peer.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
        return looksIP ? peer : nil
    }
}

/// Failed-login limits per username and per peer within a sliding window.
struct LoginLimiter {
    let max: Int
    let window: Double
    private var failures: [String: [Double]] = [:]

    init(max: Int, window: Double) {
        self.max = max
        self.window = window
    }

    /// Seconds to wait, or nil when an attempt is allowed.
    mutating func blocked(user: String, peer: String, now: Double) -> Double? {
        var wait: Double?
        for key in ["u:" + user, "p:" + peer] {
            let recent = (failures[key] ?? []).filter { now - $0 < window }
            failures[key] = recent
            if recent.count >= max, let oldest = recent.first { wait = Swift.max(wait ?? 0, window - (now - oldest)) }
        }
        return wait
    }

    mutating func fail(user: String, peer: String, now: Double) {
        failures["u:" + user, default: []].append(now)
        failures["p:" + peer, default: []].append(now)
    }

    mutating func succeed(user: String, peer: String) {
        failures["u:" + user] = nil
    }
}
