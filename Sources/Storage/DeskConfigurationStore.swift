public import Postgres
public import TradingCore

/// What configures the desk from the database: users' risk settings, live broker accounts, the
/// instrument master and exchange holidays (read at start and on SIGHUP, and by a replay).
public enum DeskConfigurationStore {
    /// Every user's `risk_settings` row (rows with an unreadable figure are skipped).
    public static func riskSettings(_ db: PostgresConnection) throws -> [String: RiskSettings] {
        var out: [String: RiskSettings] = [:]
        for r in try db.query("""
            SELECT user_id::text, daily_loss_limit::text, max_position_size::text, max_drawdown_percent::text,
                   max_risk_per_trade::text, coalesce(is_active, true)
            FROM risk_settings
            """).rows {
            guard let user = r[0], let daily = r[1].flatMap(FixedDecimal.init), let size = r[2].flatMap(FixedDecimal.init),
                  let drawdown = r[3].flatMap(FixedDecimal.init), let perTrade = r[4].flatMap(FixedDecimal.init) else { continue }
            out[user] = RiskSettings(dailyLossLimit: daily, maxPositionSize: size, maxDrawdownPercent: drawdown,
                                     maxRiskPerTrade: perTrade, isActive: r[5] == "t")
        }
        return out
    }

    /// Active broker accounts executed by a gateway: `broker_id` -> `api_type`.
    public static func liveBrokers(_ db: PostgresConnection) throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try db.query("SELECT broker_id::text, api_type FROM brokers WHERE execution_mode = 'live' AND coalesce(is_active, true)").rows {
            if let id = r[0], let type = r[1] { out[id] = type }
        }
        return out
    }

    /// The sealed credentials of active live broker accounts that have any: `broker_id` ->
    /// (`user_id`, the stored envelope). Only the engine opens them, for a gateway that
    /// authenticated for that broker (docs/security.md, "Credentials to gateways").
    public static func liveBrokerCredentials(_ db: PostgresConnection) throws -> [String: SealedCredentials] {
        var out: [String: SealedCredentials] = [:]
        for r in try db.query("""
            SELECT broker_id::text, user_id::text, api_credentials_encrypted::text FROM brokers
            WHERE execution_mode = 'live' AND coalesce(is_active, true) AND api_credentials_encrypted <> '{}'::jsonb
            """).rows {
            if let id = r[0], let user = r[1], let sealed = r[2] { out[id] = SealedCredentials(userID: user, envelope: sealed) }
        }
        return out
    }

    /// The instrument master (docs/execution.md); an empty table leaves every instrument at the
    /// contract's default (EQ, lot 1, tick 0.01).
    public static func instruments(_ db: PostgresConnection) throws -> InstrumentMaster {
        var out: [Instrument] = []
        for r in try db.query("""
            SELECT exchange, tradingsymbol, instrument_token, segment, instrument_type, lot_size, tick_size::text, freeze_quantity
            FROM instruments
            """).rows {
            guard let exchange = r[0], let symbol = r[1], let token = r[2].flatMap({ Int64($0) }), let lot = r[5].flatMap({ Int64($0) }),
                  let tick = r[6].flatMap(FixedDecimal.init) else { continue }
            out.append(Instrument(instrumentToken: token, tradingSymbol: symbol, exchange: exchange, segment: r[3] ?? exchange,
                                  instrumentType: r[4] ?? "EQ", lotSize: lot, tickSize: tick, freezeQuantity: r[7].flatMap { Int64($0) }))
        }
        return InstrumentMaster(out)
    }

    /// Exchange holidays, as IST days per exchange.
    public static func holidays(_ db: PostgresConnection) throws -> [String: Set<Int64>] {
        var out: [String: Set<Int64>] = [:]
        for r in try db.query("SELECT exchange, (holiday_date - DATE '1970-01-01')::int FROM exchange_holidays").rows {
            if let exchange = r[0], let day = r[1].flatMap({ Int64($0) }) { out[exchange, default: []].insert(day) }
        }
        return out
    }
}

/// A broker account's credentials as stored: encrypted, bound to its user and broker ids.
public struct SealedCredentials: Sendable, Equatable {
    public let userID: String
    public let envelope: String
    public init(userID: String, envelope: String) {
        self.userID = userID
        self.envelope = envelope
    }
}
