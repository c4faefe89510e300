public import Postgres

/// Users as the operator's commands manage them (`algotrader user ...`); each change audited in
/// the same transaction.
public enum UserDirectory {
    public struct Listing: Sendable {
        public let userID: String, username: String, email: String, role: String
        public let isActive: Bool
        /// RFC 3339 UTC, nil if never.
        public let lastLogin: String?
    }

    /// A user's id from its username or id, nil if there is none.
    public static func userID(_ db: PostgresConnection, nameOrID: String) throws -> String? {
        try db.query("SELECT user_id::text FROM users WHERE username = $1 OR user_id::text = lower($1)", [nameOrID]).scalar
    }

    /// Adds a user; nil when the username or e-mail address is taken.
    public static func add(_ db: PostgresConnection, username: String, email: String, passwordHash: String, role: String,
                           actor: String, auditDetails: String) throws -> String? {
        try db.transaction { conn -> String? in
            guard let id = try conn.query("""
                INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING RETURNING user_id::text
                """, [username, email, passwordHash, role]).scalar else { return nil }
            try AuditLog.record(conn, actor: actor, action: .userAdded, targetUserID: id, details: auditDetails)
            return id
        }
    }

    public static func list(_ db: PostgresConnection) throws -> [Listing] {
        try db.query("""
            SELECT user_id::text, username, email, role, coalesce(is_active, true)::text,
                   to_char(last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM users ORDER BY username
            """).rows.map { r in
            guard let id = r[0], let name = r[1], let email = r[2], let role = r[3] else {
                throw PostgresError(code: .unexpectedResult, message: "a users row without its id, name, e-mail or role")
            }
            return Listing(userID: id, username: name, email: email, role: role, isActive: r[4] == "true", lastLogin: r[5])
        }
    }

    /// Enables or disables a user; a disabled user's sessions end with it.
    public static func setActive(_ db: PostgresConnection, userID: String, active: Bool, actor: String) throws {
        try db.transaction { conn in
            try conn.query("UPDATE users SET is_active = $2::boolean WHERE user_id = $1::uuid", [userID, active ? "true" : "false"])
            if !active { try conn.query("DELETE FROM user_sessions WHERE user_id = $1::uuid", [userID]) }
            try AuditLog.record(conn, actor: actor, action: active ? .userEnabled : .userDisabled, targetUserID: userID)
        }
    }

    /// Sets a user's password hash; the user's sessions end.
    public static func setPassword(_ db: PostgresConnection, userID: String, passwordHash: String, actor: String) throws {
        try db.transaction { conn in
            try conn.query("UPDATE users SET password_hash = $2 WHERE user_id = $1::uuid", [userID, passwordHash])
            try conn.query("DELETE FROM user_sessions WHERE user_id = $1::uuid", [userID])
            try AuditLog.record(conn, actor: actor, action: .passwordChanged, targetUserID: userID)
        }
    }
}
