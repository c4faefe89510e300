public import Postgres

/// Broker accounts as the operator's commands manage them (`algotrader broker ...`, `algotrader
/// keys rotate`). Credentials are stored sealed (the caller seals and opens them; this type
/// never sees a key); every change is audited in its transaction.
public enum BrokerDirectory {
    public struct Listing: Sendable {
        public let brokerID: String, username: String, name: String, apiType: String, mode: String
        public let isActive: Bool
        /// The key the credentials are sealed under; nil without credentials.
        public let keyID: String?
        public let hasCredentials: Bool
    }

    /// Credentials sealed for storage, and the id of the key that sealed them.
    public struct Sealed: Sendable {
        public let text: String, keyID: String
        public init(text: String, keyID: String) {
            self.text = text
            self.keyID = keyID
        }
    }

    /// Adds an account as its owner; `seal` is given the new account's id (the credentials are
    /// bound to it) and returns its sealed credentials, or nil for none.
    public static func add(_ db: PostgresConnection, userID: String, name: String, apiType: String, mode: String, actor: String,
                           auditDetails: String, seal: (_ brokerID: String) throws -> Sealed?) throws -> String {
        try UserScope.run(db, userID: userID) { conn -> String in
            guard let id = try conn.query("""
                INSERT INTO brokers (user_id, name, api_type, api_credentials_encrypted, execution_mode)
                VALUES ($1::uuid, $2, $3, '{}', $4) RETURNING broker_id::text
                """, [userID, name, apiType, mode]).scalar else {
                throw PostgresError(code: .unexpectedResult, message: "the broker insert returned no id")
            }
            if let sealed = try seal(id) {
                try conn.query("UPDATE brokers SET api_credentials_encrypted = $2::jsonb, credentials_key_id = $3 WHERE broker_id = $1::uuid",
                               [id, sealed.text, sealed.keyID])
            }
            try AuditLog.record(conn, actor: actor, action: .brokerAdded, targetUserID: userID, target: id, details: auditDetails)
            return id
        }
    }

    public static func list(_ db: PostgresConnection, userID: String?) throws -> [Listing] {
        try db.query("""
            SELECT b.broker_id::text, u.username, b.name, b.api_type, b.execution_mode, coalesce(b.is_active, true)::text,
                   b.credentials_key_id, (b.api_credentials_encrypted <> '{}'::jsonb)::text
            FROM brokers b JOIN users u USING (user_id)
            WHERE $1::uuid IS NULL OR b.user_id = $1::uuid ORDER BY u.username, b.name
            """, [userID]).rows.map { r in
            guard let id = r[0], let user = r[1], let name = r[2], let api = r[3], let mode = r[4] else {
                throw PostgresError(code: .unexpectedResult, message: "a brokers row without its id, owner, name, api type or mode")
            }
            return Listing(brokerID: id, username: user, name: name, apiType: api, mode: mode, isActive: r[5] == "true", keyID: r[6],
                           hasCredentials: r[7] == "true")
        }
    }

    /// An account's owner, nil if there is no such account.
    public static func owner(_ db: PostgresConnection, brokerID: String) throws -> String? {
        try db.query("SELECT user_id::text FROM brokers WHERE broker_id::text = lower($1)", [brokerID]).scalar
    }

    public static func disable(_ db: PostgresConnection, brokerID: String, owner: String, actor: String) throws {
        try UserScope.run(db, userID: owner) { conn in
            try conn.query("UPDATE brokers SET is_active = false WHERE broker_id = $1::uuid", [brokerID])
            try AuditLog.record(conn, actor: actor, action: .brokerDisabled, targetUserID: owner, target: brokerID.lowercased())
        }
    }

    /// An account's owner and sealed credentials (`{}` for none), nil if there is no such account.
    public static func sealedCredentials(_ db: PostgresConnection, brokerID: String) throws -> (userID: String, sealed: String)? {
        guard let r = try db.query("SELECT user_id::text, api_credentials_encrypted::text FROM brokers WHERE broker_id::text = lower($1)",
                                   [brokerID]).rows.first, let user = r[0], let sealed = r[1] else { return nil }
        return (user, sealed)
    }

    /// An account as a login needs it: owner, api type, mode, active, sealed credentials (`{}` for none).
    public struct Account: Sendable {
        public let userID: String, apiType: String, mode: String, isActive: Bool, sealed: String
    }

    public static func account(_ db: PostgresConnection, brokerID: String) throws -> Account? {
        guard let r = try db.query("""
            SELECT user_id::text, api_type, execution_mode, coalesce(is_active, true)::text, api_credentials_encrypted::text
            FROM brokers WHERE broker_id::text = lower($1)
            """, [brokerID]).rows.first, let user = r[0], let api = r[1], let mode = r[2], let sealed = r[4] else { return nil }
        return Account(userID: user, apiType: api, mode: mode, isActive: r[3] == "true", sealed: sealed)
    }

    /// Replaces one account's credentials as its owner, the row locked: `change` gets the sealed
    /// credentials stored now and returns the new sealing (a renewed session token merged in);
    /// audited `credentials_changed` with `details` in the same transaction.
    public static func changeCredentials(_ db: PostgresConnection, brokerID: String, owner: String, actor: String, details: String,
                                         _ change: (_ sealed: String) throws -> Sealed) throws {
        try UserScope.run(db, userID: owner) { conn in
            guard let stored = try conn.query("SELECT api_credentials_encrypted::text FROM brokers WHERE broker_id = $1::uuid FOR UPDATE",
                                              [brokerID]).scalar else {
                throw PostgresError(code: .unexpectedResult, message: "broker \(brokerID) is gone")
            }
            let sealed = try change(stored)
            try conn.query("UPDATE brokers SET api_credentials_encrypted = $2::jsonb, credentials_key_id = $3 WHERE broker_id = $1::uuid",
                           [brokerID, sealed.text, sealed.keyID])
            try AuditLog.record(conn, actor: actor, action: .credentialsChanged, targetUserID: owner, target: brokerID, details: details)
        }
    }

    /// Re-seals every account's credentials in one transaction (rows locked): `reseal` gets each
    /// account's (broker, owner, sealed) and returns the new sealing, or nil to leave it as it is.
    /// Returns how many changed; `audit` is recorded in the same transaction with that count.
    public static func reseal(_ db: PostgresConnection, _ reseal: (_ brokerID: String, _ userID: String, _ sealed: String) throws -> Sealed?,
                              audit: (_ changed: Int, _ unchanged: Int, _ conn: PostgresConnection) throws -> Void) throws -> (changed: Int, unchanged: Int) {
        try db.transaction { conn in
            let rows = try conn.query("""
                SELECT broker_id::text, user_id::text, api_credentials_encrypted::text FROM brokers
                WHERE api_credentials_encrypted <> '{}'::jsonb FOR UPDATE
                """).rows
            var changed = 0, unchanged = 0
            for row in rows {
                guard let broker = row[0], let user = row[1], let stored = row[2] else { continue }
                guard let sealed = try reseal(broker, user, stored) else {
                    unchanged += 1
                    continue
                }
                try conn.query("UPDATE brokers SET api_credentials_encrypted = $2::jsonb, credentials_key_id = $3 WHERE broker_id = $1::uuid",
                               [broker, sealed.text, sealed.keyID])
                changed += 1
            }
            try audit(changed, unchanged, conn)
            return (changed, unchanged)
        }
    }
}
