import Foundation
public import Postgres
import TradingCore

/// An operator's halts and resumes (`algotrader halt|resume` and the control socket's), each
/// stored with its audit row in one transaction. The change notifies the daemon at commit
/// (`HaltStore`), which applies it at once (docs/risk.md).
public enum OperatorHalts {
    /// What a halt or a resume applies to.
    public enum Scope: Sendable, Equatable {
        /// Every user (the kill switch).
        case engine
        /// One user; a resume lifts its strategies' halts too.
        case user(String)
        /// One strategy, with its owner (a breaker writes the same rows, with a `breach`).
        case strategy(id: String, userID: String)

        var userID: String? {
            switch self {
            case .engine: nil
            case .user(let id): id
            case .strategy(_, let userID): userID
            }
        }
        var strategyID: String? { if case .strategy(let id, _) = self { id } else { nil } }
        /// The audit row's `target`.
        var target: String {
            switch self {
            case .engine: "engine"
            case .user: "user"
            case .strategy: "strategy"
            }
        }
    }

    public static func halt(_ db: PostgresConnection, _ scope: Scope, reason: String, actor: String,
                            actorUserID: String? = nil, peer: String? = nil) throws {
        try db.transaction { conn in
            try conn.query("""
                INSERT INTO halts (user_id, strategy_id, reason, source, created_by) VALUES ($1::uuid, $2::uuid, $3, 'operator', $4)
                """, [scope.userID, scope.strategyID, reason, actor])
            try AuditLog.record(conn, actor: actor, actorUserID: actorUserID, action: .halt, targetUserID: scope.userID, target: scope.target,
                                details: JSONObjectWriter.object {
                                    $0.add("reason", reason)
                                    if let id = scope.strategyID { $0.add("strategy_id", id) }
                                }, peer: peer)
        }
    }

    /// Lifts the active halts in scope (the engine-wide one; all of a user's; one strategy's)
    /// and returns how many were lifted.
    @discardableResult
    public static func resume(_ db: PostgresConnection, _ scope: Scope, actor: String,
                              actorUserID: String? = nil, peer: String? = nil) throws -> Int {
        try db.transaction { conn in
            let lifted = try conn.query("""
                UPDATE halts SET resumed_at = now(), resumed_by = $3
                WHERE resumed_at IS NULL AND (CASE WHEN $2::uuid IS NULL THEN user_id IS NOT DISTINCT FROM $1::uuid
                                                   ELSE strategy_id = $2::uuid END)
                """, [scope.userID, scope.strategyID, actor]).affectedRows
            try AuditLog.record(conn, actor: actor, actorUserID: actorUserID, action: .resume, targetUserID: scope.userID, target: scope.target,
                                details: JSONObjectWriter.object {
                                    $0.add("lifted", lifted)
                                    if let id = scope.strategyID { $0.add("strategy_id", id) }
                                }, peer: peer)
            return lifted
        }
    }

}
