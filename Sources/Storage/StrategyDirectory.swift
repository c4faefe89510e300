public import Postgres

/// Strategies and risk limits as the operator's commands manage them (`algotrader strategy ...`,
/// `algotrader risk ...`). Per-user writes run as that user under row-level security
/// (`UserScope`), each audited in the same transaction.
public enum StrategyDirectory {
    public struct Listing: Sendable {
        public let strategyID: String, username: String, name: String, type: String
        /// `active`, `inactive` or `removed`.
        public let state: String
        public let isRunning: Bool
        public let parameters: String
    }

    /// The strategies (not removed) whose id is `idOrName` or whose name is it: (id, owner).
    public static func find(_ db: PostgresConnection, idOrName: String) throws -> [(strategyID: String, userID: String)] {
        try db.query("""
            SELECT strategy_id::text, user_id::text FROM strategies
            WHERE deleted_at IS NULL AND (strategy_id::text = lower($1) OR name = $1) ORDER BY strategy_id
            """, [idOrName]).rows.compactMap { r in r[0].flatMap { id in r[1].map { (id, $0) } } }
    }

    /// A JSON object's members with their JSON types (`string`, `number`, `boolean`, `null`,
    /// `object`, `array`) and their text, as PostgreSQL reads the object; nil if `json` is no
    /// object.
    public static func members(_ db: PostgresConnection, ofObject json: String) throws -> [(key: String, type: String, text: String?)]? {
        guard try db.query("SELECT jsonb_typeof($1::jsonb)", [json]).scalar == "object" else { return nil }
        return try db.query("SELECT key, jsonb_typeof(value), value #>> '{}' FROM jsonb_each($1::jsonb)", [json]).rows.compactMap { r in
            guard let key = r[0], let type = r[1] else { return nil }
            return (key, type, r[2])
        }
    }

    /// Adds a strategy as its owner; returns its id. Throws ``NameTaken`` when a live strategy
    /// of the user has the name (migration 14).
    public static func add(_ db: PostgresConnection, userID: String, name: String, type: String, parameters: String, active: Bool,
                           actor: String, auditDetails: String) throws -> String {
        try translatingNameClash(name) { try UserScope.run(db, userID: userID) { conn -> String in
            guard let id = try conn.query("""
                INSERT INTO strategies (user_id, name, strategy_type, parameters, is_active) VALUES ($1::uuid, $2, $3, $4::jsonb, $5::boolean)
                RETURNING strategy_id::text
                """, [userID, name, type, parameters, active ? "true" : "false"]).scalar else {
                throw PostgresError(code: .unexpectedResult, message: "the strategy insert returned no id")
            }
            try AuditLog.record(conn, actor: actor, action: .strategyAdded, targetUserID: userID, target: id, details: auditDetails)
            return id
        } }
    }

    public static func list(_ db: PostgresConnection, userID: String?, includeRemoved: Bool) throws -> [Listing] {
        try db.query("""
            SELECT s.strategy_id::text, u.username, s.name, s.strategy_type,
                   CASE WHEN s.deleted_at IS NOT NULL THEN 'removed' WHEN s.is_active THEN 'active' ELSE 'inactive' END,
                   coalesce(s.is_running, false)::text, s.parameters::text
            FROM strategies s JOIN users u USING (user_id)
            WHERE ($1::uuid IS NULL OR s.user_id = $1::uuid) AND ($2::boolean OR s.deleted_at IS NULL)
            ORDER BY u.username, s.name
            """, [userID, includeRemoved ? "true" : "false"]).rows.map { r in
            guard let id = r[0], let user = r[1], let name = r[2], let type = r[3], let state = r[4] else {
                throw PostgresError(code: .unexpectedResult, message: "a strategies row without its id, owner, name or type")
            }
            return Listing(strategyID: id, username: user, name: name, type: type, state: state, isRunning: r[5] == "true",
                           parameters: r[6] ?? "{}")
        }
    }

    /// The owner of a strategy that is not removed, nil if there is none.
    public static func owner(_ db: PostgresConnection, strategyID: String) throws -> String? {
        try db.query("SELECT user_id::text FROM strategies WHERE strategy_id::text = lower($1) AND deleted_at IS NULL", [strategyID]).scalar
    }

    /// Stores the SHA-256 (hex) of a strategy's new secret as its owner, replacing (so revoking)
    /// the previous one, audited. The secret itself is never stored.
    public static func setToken(_ db: PostgresConnection, strategyID: String, owner: String, hash: String, actor: String) throws {
        try UserScope.run(db, userID: owner) { conn in
            try conn.query("UPDATE strategies SET token_hash = $2, token_issued_at = now() WHERE strategy_id = $1::uuid",
                           [strategyID.lowercased(), hash])
            try AuditLog.record(conn, actor: actor, action: .strategyTokenIssued, targetUserID: owner, target: strategyID.lowercased())
        }
    }

    /// Sets a strategy active or inactive, or removes it (a soft delete: its history stays).
    public static func setState(_ db: PostgresConnection, strategyID: String, owner: String, active: Bool, remove: Bool,
                                actor: String) throws {
        try UserScope.run(db, userID: owner) { conn in
            try conn.query("UPDATE strategies SET is_active = $2::boolean, deleted_at = CASE WHEN $3::boolean THEN now() END WHERE strategy_id = $1::uuid",
                           [strategyID.lowercased(), active ? "true" : "false", remove ? "true" : "false"])
            try AuditLog.record(conn, actor: actor, action: remove ? .strategyRemoved : (active ? .strategyStarted : .strategyStopped),
                                targetUserID: owner, target: strategyID.lowercased())
        }
    }
}

/// A user's risk limits (`risk_settings`), as decimal text.
public struct RiskLimits: Sendable {
    public var dailyLossLimit: String, maxPositionSize: String, maxDrawdownPercent: String, maxRiskPerTrade: String
    public var isActive: Bool

    public init(dailyLossLimit: String, maxPositionSize: String, maxDrawdownPercent: String, maxRiskPerTrade: String, isActive: Bool) {
        self.dailyLossLimit = dailyLossLimit
        self.maxPositionSize = maxPositionSize
        self.maxDrawdownPercent = maxDrawdownPercent
        self.maxRiskPerTrade = maxRiskPerTrade
        self.isActive = isActive
    }

    /// Sets (or replaces) a user's limits as that user, audited.
    public static func set(_ db: PostgresConnection, userID: String, _ limits: RiskLimits, actor: String, auditDetails: String) throws {
        try UserScope.run(db, userID: userID) { conn in
            try conn.query("""
                INSERT INTO risk_settings (user_id, daily_loss_limit, max_position_size, max_drawdown_percent, max_risk_per_trade, is_active)
                VALUES ($1::uuid, $2::numeric, $3::numeric, $4::numeric, $5::numeric, $6::boolean)
                ON CONFLICT (user_id) DO UPDATE SET daily_loss_limit = EXCLUDED.daily_loss_limit,
                    max_position_size = EXCLUDED.max_position_size, max_drawdown_percent = EXCLUDED.max_drawdown_percent,
                    max_risk_per_trade = EXCLUDED.max_risk_per_trade, is_active = EXCLUDED.is_active
                """, [userID, limits.dailyLossLimit, limits.maxPositionSize, limits.maxDrawdownPercent, limits.maxRiskPerTrade,
                      limits.isActive ? "true" : "false"])
            try AuditLog.record(conn, actor: actor, action: .riskChanged, targetUserID: userID, details: auditDetails)
        }
    }

    /// A user's limits as that user sees them, nil if none are set.
    public static func read(_ db: PostgresConnection, userID: String) throws -> RiskLimits? {
        try UserScope.run(db, userID: userID) { conn in
            try conn.query("""
                SELECT daily_loss_limit::text, max_position_size::text, max_drawdown_percent::text, max_risk_per_trade::text,
                       coalesce(is_active, true)::text FROM risk_settings
                """).rows.first.map { r in
                guard let loss = r[0], let size = r[1], let drawdown = r[2], let perTrade = r[3] else {
                    throw PostgresError(code: .unexpectedResult, message: "a risk_settings row with an empty limit")
                }
                return RiskLimits(dailyLossLimit: loss, maxPositionSize: size, maxDrawdownPercent: drawdown, maxRiskPerTrade: perTrade,
                                  isActive: r[4] == "true")
            }
        }
    }
}
