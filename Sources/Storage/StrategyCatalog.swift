import Postgres
public import TradingCore

/// A `strategies` row as the engine reads it.
public struct StrategyRow: Sendable {
    public var identity: StrategyIdentity
    public var type: String
    public var parameters: StrategyParameters
    /// Set when the row cannot run (bad parameters, no broker): the reason.
    public var problem: String?
    /// Its net filled quantity so far (from its `trades` rows), so a restarted strategy knows
    /// the position its orders built.
    public var position: Int64 = 0
    /// SHA-256 (hex) of the secret a process of an `external` strategy authenticates with.
    public var tokenHash: String?
}

/// Reads the strategies to run and records which run (`is_running`, `last_run`).
public final class StrategyCatalog {
    private let connection: LazyConnection

    public init(connectionString: String) {
        self.connection = LazyConnection(connectionString: connectionString)
    }

    private func connected() throws -> PostgresConnection { try connection.get() }

    public func close() { connection.close() }

    /// Every `is_active` strategy of an active user, its parameters typed by PostgreSQL
    /// (`jsonb_each`: numbers keep their exact text), and its broker resolved: `broker_id` from
    /// the parameters, else the broker it first ran with (`strategies.broker_id`, so adding a
    /// second broker stops nothing), else the user's only active broker.
    ///
    /// With `only` (an id or a name), that strategy whether active or not (a replay), with
    /// `parameterOverrides` (a JSON object) laid over its stored parameters.
    public func load(only: String? = nil, parameterOverrides: String = "{}") throws -> [StrategyRow] {
        let db = try connected()
        let which = """
            s.deleted_at IS NULL AND CASE WHEN $1::text IS NULL THEN s.is_active AND u.is_active
                                          ELSE s.strategy_id::text = lower($1) OR s.name = $1 END
            """
        let strategies = try db.query("""
            SELECT s.strategy_id::text, s.user_id::text, s.name, s.strategy_type, jsonb_typeof(s.parameters),
                   (SELECT count(*) FROM brokers b WHERE b.user_id = s.user_id AND b.is_active),
                   (SELECT min(b.broker_id::text) FROM brokers b WHERE b.user_id = s.user_id AND b.is_active),
                   s.broker_id::text, (SELECT coalesce(b.is_active, true) FROM brokers b WHERE b.broker_id = s.broker_id),
                   s.token_hash
            FROM strategies s JOIN users u ON u.user_id = s.user_id
            WHERE \(which)
            ORDER BY s.created_at, s.strategy_id
            """, [only]).rows
        let parameterRows = try db.query("""
            SELECT s.strategy_id::text, p.key, jsonb_typeof(p.value), p.value #>> '{}'
            FROM strategies s JOIN users u ON u.user_id = s.user_id,
                 jsonb_each(CASE WHEN jsonb_typeof(s.parameters) = 'object' THEN s.parameters || $2::jsonb ELSE '{}' END) p
            WHERE \(which)
            """, [only, parameterOverrides]).rows
        var positions: [String: Int64] = [:]
        // What each strategy is told it holds: its fills, plus what its own orders still working
        // would add (they are taken up again at start; not bracket orders or the engine's own).
        for row in try db.query("""
            SELECT strategy_id::text,
                   sum(CASE WHEN transaction_type = 'BUY' THEN 1 ELSE -1 END
                       * (coalesce(filled_quantity, 0)
                          + CASE WHEN status IN ('PENDING', 'OPEN', 'PARTIALLY_FILLED') AND parent_order_id IS NULL
                                      AND coalesce(metadata->>'placed_by_engine', 'false') <> 'true'
                                 THEN quantity - coalesce(filled_quantity, 0) ELSE 0 END))
            FROM trades WHERE coalesce(filled_quantity, 0) > 0 OR status IN ('PENDING', 'OPEN', 'PARTIALLY_FILLED') GROUP BY strategy_id
            """).rows {
            if let id = row[0], let q = row[1].flatMap({ Int64($0) }) { positions[id] = q }
        }
        var parameters: [String: [String: ParameterValue]] = [:]
        for row in parameterRows {
            let value = ParameterValue.fromJSONB(type: row[2], text: row[3])
            guard let strategy = row[0], let key = row[1] else { continue }  // jsonb_each never yields a NULL key
            parameters[strategy, default: [:]][key] = value
        }
        return try strategies.map { row in
            guard let id = row[0], let userID = row[1] else {
                throw PostgresError(code: .unexpectedResult, message: "a strategies row without its strategy_id or user_id")
            }
            let values = parameters[id] ?? [:]
            var problem: String?
            if row[4] != "object" { problem = "parameters must be a JSON object" }
            var broker: String?
            if case .string(let given)? = values["broker_id"] {
                broker = given.lowercased()
            } else if let bound = row[7] {
                broker = bound
                if row[8] == "f", problem == nil { problem = "its broker \(bound) (the one it first ran with) is disabled: enable it or set parameter 'broker_id'" }
            } else if Int(row[5] ?? "0") == 1 {
                broker = row[6]
            } else if problem == nil {
                problem = "parameter 'broker_id': is required when the user has \(row[5] ?? "0") active brokers"
            }
            return StrategyRow(identity: StrategyIdentity(strategyID: id, userID: userID, name: row[2] ?? "", brokerID: broker),
                               type: row[3] ?? "", parameters: StrategyParameters(values), problem: problem,
                               position: positions[id] ?? 0, tokenHash: row[9])
        }
    }

    /// Each strategy's filled position per instrument (signed; its own orders, their brackets
    /// and the engine's orders for it): what a strategy process is told it holds.
    public func filledPositions(strategyIDs: [String]) throws -> [(strategyID: String, symbol: String, exchange: String, quantity: Int64)] {
        guard !strategyIDs.isEmpty else { return [] }
        return try connected().query("""
            SELECT strategy_id::text, symbol, exchange,
                   sum(CASE WHEN transaction_type = 'BUY' THEN 1 ELSE -1 END * coalesce(filled_quantity, 0))
            FROM trades WHERE strategy_id = ANY($1::uuid[]) AND coalesce(filled_quantity, 0) > 0
            GROUP BY strategy_id, symbol, exchange
            """, [PostgresArrayLiteral.text(strategyIDs)]).rows.compactMap { r in
            guard let id = r[0], let symbol = r[1], let exchange = r[2], let q = r[3].flatMap({ Int64($0) }) else { return nil }
            return (id, symbol, exchange, q)
        }
    }

    /// Marks `running` ids as running (and `last_run = now()`), every other row as not running.
    public func markRunning(_ running: [String]) throws {
        let db = try connected()
        try db.query("""
            UPDATE strategies SET is_running = (strategy_id = ANY($1::uuid[])),
                   last_run = CASE WHEN strategy_id = ANY($1::uuid[]) THEN now() ELSE last_run END
            WHERE is_running OR strategy_id = ANY($1::uuid[])
            """, [PostgresArrayLiteral.text(running)])
    }

    /// Remembers the broker each running strategy runs with, for those that have none yet: a
    /// strategy keeps the broker it first ran with when its user adds another.
    public func bindBrokers(_ brokers: [String: String]) throws {
        guard !brokers.isEmpty else { return }
        let ids = brokers.keys.sorted()
        try connected().query("""
            UPDATE strategies s SET broker_id = x.b::uuid FROM unnest($1::uuid[], $2::text[]) AS x(i, b)
            WHERE s.strategy_id = x.i AND s.broker_id IS NULL
              AND EXISTS (SELECT 1 FROM brokers WHERE broker_id = x.b::uuid AND user_id = s.user_id)
            """, [PostgresArrayLiteral.text(ids), PostgresArrayLiteral.text(ids.map { brokers[$0] })])
    }

    /// Refreshes `last_run` of running strategies.
    public func touch(_ running: [String]) throws {
        guard !running.isEmpty else { return }
        try connected().query("UPDATE strategies SET last_run = now() WHERE strategy_id = ANY($1::uuid[])", [PostgresArrayLiteral.text(running)])
    }
}
