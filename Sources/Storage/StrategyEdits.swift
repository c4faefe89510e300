public import Postgres

/// What `strategy add` and `strategy edit` need beyond ``StrategyDirectory``'s reads: a
/// strategy's stored fields, whose a name is, brokers by id or name, parameters composed by
/// PostgreSQL (so numbers keep the exact text the engine reads), and the edit itself.
extension StrategyDirectory {
    /// A strategy as stored: what an edit starts from.
    public struct Stored: Sendable, Equatable {
        public let strategyID: String, userID: String, name: String, type: String
        /// The `parameters` JSON as PostgreSQL writes it back (jsonb's form).
        public let parameters: String
        /// `strategies.broker_id`: the broker it first ran with (migration 11), or nil.
        public let boundBrokerID: String?
    }

    /// A live name another live strategy of the user already has (migration 14's unique
    /// index): the error `add` and `edit` turn a unique violation into, never a raw SQL error.
    public struct NameTaken: Error, Sendable {
        public let name: String
    }

    /// The unique index of migration 14.
    static let nameIndex = "strategies_user_name_key"

    /// What an edit does to the broker: leave it, pin one (the `broker_id` parameter and the
    /// remembered broker both become it), or drop both so the user's only active broker is used.
    public enum BrokerChange: Sendable, Equatable {
        case keep, set(String), clear
    }

    /// A strategy that is not removed, nil if there is none.
    public static func stored(_ db: PostgresConnection, strategyID: String) throws -> Stored? {
        try db.query("""
            SELECT strategy_id::text, user_id::text, name, strategy_type, parameters::text, broker_id::text
            FROM strategies WHERE strategy_id::text = lower($1) AND deleted_at IS NULL
            """, [strategyID]).rows.first.map { r in
            guard let id = r[0], let user = r[1], let name = r[2], let type = r[3], let parameters = r[4] else {
                throw PostgresError(code: .unexpectedResult, message: "a strategies row without its id, owner, name, type or parameters")
            }
            return Stored(strategyID: id, userID: user, name: name, type: type, parameters: parameters, boundBrokerID: r[5])
        }
    }

    /// The id of the user's live strategy named `name`, other than `excluding`; nil if none.
    public static func holder(_ db: PostgresConnection, ofName name: String, userID: String, excluding: String? = nil) throws -> String? {
        try db.query("""
            SELECT strategy_id::text FROM strategies
            WHERE user_id = $1::uuid AND name = $2 AND deleted_at IS NULL AND ($3::uuid IS NULL OR strategy_id <> $3::uuid)
            """, [userID, name, excluding?.lowercased()]).scalar
    }

    /// `json` (a JSON object) as jsonb writes it, with the broker change applied to its
    /// `broker_id` member. Nil when `json` is not JSON or no object.
    public static func parameters(_ db: PostgresConnection, _ json: String, broker: BrokerChange) throws -> String? {
        do {
            guard try db.query("SELECT jsonb_typeof($1::jsonb)", [json]).scalar == "object" else { return nil }
        } catch where error.sqlState?.hasPrefix(SQLState.dataExceptionClass) == true {
            return nil  // not JSON (22P02), or text PostgreSQL refuses (a NUL)
        }
        switch broker {
        case .keep: return try db.query("SELECT $1::jsonb::text", [json]).scalar
        case .set(let id): return try db.query("SELECT ($1::jsonb || jsonb_build_object('broker_id', $2::text))::text", [json, id]).scalar
        case .clear: return try db.query("SELECT ($1::jsonb - 'broker_id')::text", [json]).scalar
        }
    }

    /// Whether two JSON texts are the same JSON value (jsonb equality: key order and spacing
    /// do not count).
    public static func sameJSON(_ db: PostgresConnection, _ a: String, _ b: String) throws -> Bool {
        try db.query("SELECT $1::jsonb = $2::jsonb", [a, b]).scalar == "t"
    }

    /// Changes a strategy's name, parameters and remembered broker as its owner, audited as
    /// `strategy_edited`. Throws ``NameTaken`` when another live strategy of the owner took
    /// the name meanwhile.
    public static func edit(_ db: PostgresConnection, strategyID: String, owner: String, name: String, parameters: String,
                            broker: BrokerChange, actor: String, auditDetails: String) throws {
        let (pin, brokerID): (Bool, String?) = switch broker {
        case .keep: (false, nil)
        case .set(let id): (true, id)
        case .clear: (true, nil)
        }
        try translatingNameClash(name) {
            try UserScope.run(db, userID: owner) { conn in
                try conn.query("""
                    UPDATE strategies SET name = $2, parameters = $3::jsonb,
                           broker_id = CASE WHEN $4::boolean THEN $5::uuid ELSE broker_id END
                    WHERE strategy_id = $1::uuid AND deleted_at IS NULL
                    """, [strategyID.lowercased(), name, parameters, pin ? "true" : "false", brokerID])
                try AuditLog.record(conn, actor: actor, action: .strategyEdited, targetUserID: owner, target: strategyID.lowercased(),
                                    details: auditDetails)
            }
        }
    }

    /// Runs `body`, turning a violation of migration 14's index into ``NameTaken``.
    static func translatingNameClash<T>(_ name: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError where error.sqlState == "23505" && error.constraint == nameIndex {
            throw NameTaken(name: name)
        }
    }
}

extension BrokerDirectory {
    /// The user's brokers whose id or name is `idOrName`: (id, name, active).
    public static func find(_ db: PostgresConnection, userID: String, idOrName: String) throws -> [(brokerID: String, name: String, isActive: Bool)] {
        try db.query("""
            SELECT broker_id::text, name, coalesce(is_active, true)::text FROM brokers
            WHERE user_id = $1::uuid AND (broker_id::text = lower($2) OR name = $2) ORDER BY broker_id
            """, [userID, idOrName]).rows.compactMap { r in
            guard let id = r[0], let name = r[1] else { return nil }
            return (id, name, r[2] == "true")
        }
    }
}
