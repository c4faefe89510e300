public import Postgres
import TradingCore

/// Appends to `audit_log` (migrations 4 and 10): who did what to whom, when. The table is
/// append-only and no role may write it: every row goes through `audit_log_append`, a function
/// owned by the schema owner that only `algotrader_engine` may execute. This is the engine's one
/// caller of it.
public enum AuditLog {
    public enum Action: String, Sendable {
        case login, loginFailed = "login_failed", logout
        case userAdded = "user_added", userDisabled = "user_disabled", userEnabled = "user_enabled"
        case passwordChanged = "password_changed"
        case brokerAdded = "broker_added", brokerDisabled = "broker_disabled", credentialsChanged = "credentials_changed"
        case credentialsRead = "credentials_read", keysRotated = "keys_rotated"
        case strategyAdded = "strategy_added", strategyStarted = "strategy_started", strategyStopped = "strategy_stopped"
        case strategyRemoved = "strategy_removed", strategyTokenIssued = "strategy_token_issued"
        case strategyEdited = "strategy_edited"
        case reload
        case halt, resume, flatten, orderCancelled = "order_cancelled"
        case riskChanged = "risk_changed"
        case instrumentsImported = "instruments_imported", calendarImported = "calendar_imported", historyImported = "history_imported"
    }

    /// The bounds `audit_log_append` enforces (characters; details in bytes).
    static let maxActor = 256, maxTarget = 1024, maxPeer = 256, maxDetailsBytes = 65_536

    /// `actor`: `cli:<os user>`, `ctl:<username>` or `engine`. `details` is a JSON object.
    ///
    /// Works on a plain connection of the engine's login and inside `UserScope.run`, whose
    /// transaction has done `SET LOCAL ROLE algotrader_app`, a role that may not execute the
    /// function. There the call switches to `algotrader_engine` for this one statement and back.
    /// That is not a way around the rule: PostgreSQL allows `SET ROLE algotrader_engine` only to a
    /// session whose login is a member of algotrader_engine (the daemon's, the owner's), checked
    /// against the login, not the current role. The web's login, a member of algotrader_app only,
    /// is refused the switch and so cannot write an audit row at all.
    public static func record(_ db: PostgresConnection, actor: String, actorUserID: String? = nil, action: Action,
                              targetUserID: String? = nil, target: String? = nil, details: String = "{}", peer: String? = nil) throws {
        let asApplication = try db.query("SELECT current_user = $1", [UserScope.role]).scalar == "t"
        // SET LOCAL: UserScope's role is transaction-local, so is this switch; an error in
        // between aborts the transaction, which restores the role with it.
        if asApplication { try db.execute("SET LOCAL ROLE \(engineRole)") }
        try db.query("SELECT audit_log_append($1, $2::uuid, $3, $4::uuid, $5, $6::jsonb, $7)",
                     [clip(actor, maxActor), actorUserID, action.rawValue, targetUserID, target.map { clip($0, maxTarget) },
                      clipDetails(details), peer.map { clip($0, maxPeer) }])
        if asApplication { try db.execute("SET LOCAL ROLE \(UserScope.role)") }
    }

    /// The role whose members may append (the engine's login).
    public static let engineRole = "algotrader_engine"

    /// Text cut to `limit` characters with a visible mark, so an over-long value (a username an
    /// attacker typed) is still audited instead of making the row fail. Counted in Unicode
    /// scalars, as PostgreSQL's `length` counts (a Swift Character may hold several).
    static func clip(_ text: String, _ limit: Int) -> String {
        guard text.unicodeScalars.count > limit else { return text }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: text.unicodeScalars.prefix(limit - 16))
        return String(kept) + "…[clipped]"
    }

    /// Details over the bound become a JSON object saying so, with the start of the original.
    static func clipDetails(_ details: String) -> String {
        guard details.utf8.count > maxDetailsBytes else { return details }
        var clipped = JSONObjectWriter()
        clipped.add("clipped", true)
        clipped.add("bytes", details.utf8.count)
        clipped.add("head", String(details.prefix(1_024)))
        return clipped.text
    }
}
