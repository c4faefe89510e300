import Config
import Postgres
import Storage
import TradingCore

/// What the order desk reads from the database at start and on SIGHUP.
enum DeskState {
    /// The open positions, with their realized P&L and charges so far.
    static func openPositions(_ url: String) throws -> [RestoredPosition] {
        try reading(url, OpenPositionStore.load)
    }

    /// The desk's settings from the configuration and the database (instruments, holidays,
    /// the strategies' policies): the one place live trading and a replay get them from.
    static func settings(_ config: EngineConfig, strategies: [(strategyID: String, parameters: StrategyParameters)]) throws -> DeskSettings {
        var settings = DeskSettings()
        settings.instruments = try instruments(config.databaseURL)
        var calendar = config.tradingCalendar
        calendar.holidays = try holidays(config.databaseURL)
        settings.calendar = calendar
        settings.sessionActions = config.sessionActions
        settings.liftDailyLossHaltsAtDayStart = config.liftDailyLossHaltsAtDayStart
        settings.riskIncludesCharges = config.riskIncludesCharges
        settings.paperModel = config.paperModel
        settings.paperCapital = config.funds.paperCapital
        settings.marginSchedule = config.funds.schedule
        settings.controls = config.orderControls
        settings.chargeSchedule = config.chargeSchedule
        settings.defaultProduct = config.defaultProduct
        settings.strategyPolicies = DeskSettings.policies(strategies)
        return settings
    }

    /// One read on a connection of its own (start and SIGHUP only).
    private static func reading<T>(_ url: String, _ body: (PostgresConnection) throws -> T) throws -> T {
        let db = try PostgresConnection(connectionString: url)
        defer { db.close() }
        return try body(db)
    }

    /// The day's results stored so far (`strategy_performance` of IST day `day`).
    static func dayResults(_ url: String, day: Int64) throws -> [(userID: String, day: StrategyDay)] {
        try reading(url) { try StrategyDayStore.load($0, day: day) }
    }

    /// Orders still working when the engine last stopped.
    static func workingOrders(_ url: String) throws -> [DeskOrder] {
        try reading(url, WorkingOrderStore.load)
    }

    /// Each broker account's realized P&L less charges so far.
    static func settledFunds(_ url: String) throws -> [String: Int128] {
        try reading(url, FundsStore.settled)
    }

    static func riskSettings(_ url: String) throws -> [String: RiskSettings] {
        let db = try PostgresConnection(connectionString: url)
        defer { db.close() }
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
    static func liveBrokers(_ url: String) throws -> [String: String] {
        let db = try PostgresConnection(connectionString: url)
        defer { db.close() }
        var out: [String: String] = [:]
        for r in try db.query("SELECT broker_id::text, api_type FROM brokers WHERE execution_mode = 'live' AND coalesce(is_active, true)").rows {
            if let id = r[0], let type = r[1] { out[id] = type }
        }
        return out
    }

    /// The instrument master (docs/execution.md); an empty table leaves every instrument at the
    /// contract's default (EQ, lot 1, tick 0.01).
    static func instruments(_ url: String) throws -> InstrumentMaster {
        let db = try PostgresConnection(connectionString: url)
        defer { db.close() }
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
    static func holidays(_ url: String) throws -> [String: Set<Int64>] {
        let db = try PostgresConnection(connectionString: url)
        defer { db.close() }
        var out: [String: Set<Int64>] = [:]
        for r in try db.query("SELECT exchange, (holiday_date - DATE '1970-01-01')::int FROM exchange_holidays").rows {
            if let exchange = r[0], let day = r[1].flatMap({ Int64($0) }) { out[exchange, default: []].insert(day) }
        }
        return out
    }
}
