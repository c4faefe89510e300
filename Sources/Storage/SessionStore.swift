public import Postgres

/// Logins and their sessions (`users`, `user_sessions`): what the control socket (and the web
/// API after it) asks of them. Tokens are kept only as their hash.
public enum SessionStore {
    /// What a login checks a password against.
    public struct Credentials: Sendable, Equatable {
        public var userID: String
        public var passwordHash: String
        public var role: String
        public var isActive: Bool
    }

    /// Who a valid session belongs to.
    public struct Caller: Sendable, Equatable {
        public var userID: String
        public var username: String
        public var role: String
    }

    /// A row that lacks a column the schema makes NOT NULL: the database is not what this
    /// engine migrated.
    public struct MalformedRow: Error, CustomStringConvertible {
        public let description: String
    }

    /// The user named `username`, or nil.
    public static func credentials(_ db: PostgresConnection, username: String) throws -> Credentials? {
        guard let row = try db.query("SELECT user_id::text, password_hash, role, coalesce(is_active, true) FROM users WHERE username = $1",
                                     [username]).rows.first else { return nil }
        guard let id = row[0], let hash = row[1] else { throw MalformedRow(description: "users row without user_id or password_hash") }
        return Credentials(userID: id, passwordHash: hash, role: row[2] ?? "", isActive: row[3] == "t")
    }

    /// Opens a session for `tokenHash` lasting `minutes`, notes the login on the user, and lets
    /// `audit` write its row in the same transaction; returns the expiry (UTC, RFC 3339).
    public static func open(_ db: PostgresConnection, userID: String, tokenHash: String, minutes: Int, ipAddress: String?,
                            userAgent: String?, audit: (PostgresConnection) throws -> Void) throws -> String {
        try db.transaction { conn -> String in
            guard let expires = try conn.query("""
                INSERT INTO user_sessions (user_id, token_hash, expires_at, ip_address, user_agent)
                VALUES ($1::uuid, $2, now() + make_interval(mins => $3::int), $4::inet, $5)
                RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                """, [userID, tokenHash, String(minutes), ipAddress, userAgent]).scalar else {
                throw MalformedRow(description: "no expiry returned for a new session")
            }
            try conn.query("UPDATE users SET last_login = now() WHERE user_id = $1::uuid", [userID])
            try audit(conn)
            return expires
        }
    }

    /// The active user whose unexpired session has `tokenHash`, or nil.
    public static func caller(_ db: PostgresConnection, tokenHash: String) throws -> Caller? {
        guard let row = try db.query("""
            SELECT u.user_id::text, u.username, u.role FROM user_sessions s JOIN users u USING (user_id)
            WHERE s.token_hash = $1 AND s.expires_at > now() AND coalesce(u.is_active, true)
            """, [tokenHash]).rows.first else { return nil }
        guard let id = row[0], let name = row[1], let role = row[2] else { throw MalformedRow(description: "users row without user_id, username or role") }
        return Caller(userID: id, username: name, role: role)
    }

    /// Ends the session with `tokenHash`.
    public static func close(_ db: PostgresConnection, tokenHash: String) throws {
        try db.query("DELETE FROM user_sessions WHERE token_hash = $1", [tokenHash])
    }
}
