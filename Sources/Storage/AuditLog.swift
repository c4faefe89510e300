public import Postgres

/// Appends to `audit_log` (migration 4): who did what to whom, when. The table is append-only;
/// this is the only writer.
public enum AuditLog {
    public enum Action: String, Sendable {
        case login, loginFailed = "login_failed", logout
        case userAdded = "user_added", userDisabled = "user_disabled", userEnabled = "user_enabled"
        case passwordChanged = "password_changed"
        case brokerAdded = "broker_added", brokerDisabled = "broker_disabled", credentialsChanged = "credentials_changed"
        case credentialsRead = "credentials_read", keysRotated = "keys_rotated"
        case strategyAdded = "strategy_added", strategyStarted = "strategy_started", strategyStopped = "strategy_stopped"
        case strategyRemoved = "strategy_removed"
        case halt, resume, flatten, orderCancelled = "order_cancelled"
        case riskChanged = "risk_changed"
        case instrumentsImported = "instruments_imported", calendarImported = "calendar_imported"
    }

    /// `actor`: `cli:<os user>`, `ctl:<username>` or `engine`. `details` is a JSON object.
    public static func record(_ db: PostgresConnection, actor: String, actorUserID: String? = nil, action: Action,
                              targetUserID: String? = nil, target: String? = nil, details: String = "{}", peer: String? = nil) throws {
        try db.query("""
            INSERT INTO audit_log (actor, actor_user_id, action, target_user_id, target, details, peer)
            VALUES ($1, $2::uuid, $3, $4::uuid, $5, $6::jsonb, $7)
            """, [actor, actorUserID, action.rawValue, targetUserID, target, details, peer])
    }
}
