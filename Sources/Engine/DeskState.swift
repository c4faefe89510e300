public import Config
public import Storage
public import TradingCore

/// What the order desk reads from the database at start and on SIGHUP.
public enum DeskState {
    /// The open positions, with their realized P&L and charges so far.
    public static func openPositions(_ url: String) throws -> [RestoredPosition] {
        try reading(url, OpenPositionStore.load)
    }

    /// The desk's settings from the configuration and the database (instruments, holidays,
    /// the strategies' policies): the one place live trading and a replay get them from.
    public static func settings(_ config: EngineConfig, strategies: [(strategyID: String, parameters: StrategyParameters)]) throws -> DeskSettings {
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
    private static func reading<T>(_ url: String, _ body: (DatabaseConnection) throws -> T) throws -> T {
        let db = try DatabaseConnection(connectionString: url)
        defer { db.close() }
        return try body(db)
    }

    /// The day's results stored so far (`strategy_performance` of IST day `day`).
    public static func dayResults(_ url: String, day: Int64) throws -> [(userID: String, day: StrategyDay)] {
        try reading(url) { try StrategyDayStore.load($0, day: day) }
    }

    /// Orders still working when the engine last stopped.
    public static func workingOrders(_ url: String) throws -> [DeskOrder] {
        try reading(url, WorkingOrderStore.load)
    }

    /// What a reconciliation compares a live broker with, beside its working orders: each
    /// instrument's net of its live fills today (IST), and its orders that ended in the last two days.
    public static func liveBrokerHistory(_ url: String, brokerIDs: [String], now: Timestamp)
        throws -> [(brokerID: String, nets: [String: Int64], day: Int64, ended: [DeskOrder])] {
        let since = Timestamp(nanosecondsSinceEpoch: now.nanosecondsSinceEpoch - 2 * Timestamp.nanosecondsPerDay)
        let day = SessionCalendar.istDay(now)
        let dayStart = Timestamp(nanosecondsSinceEpoch: day * Timestamp.nanosecondsPerDay - SessionCalendar.istOffsetSeconds * 1_000_000_000)
        return try reading(url) { db in
            try brokerIDs.sorted().map {
                ($0, try WorkingOrderStore.liveNets(db, brokerID: $0, since: dayStart), day, try WorkingOrderStore.endedLive(db, brokerID: $0, since: since))
            }
        }
    }

    /// Each broker account's realized P&L less charges so far.
    public static func settledFunds(_ url: String) throws -> [String: Int128] {
        try reading(url, FundsStore.settled)
    }

    public static func riskSettings(_ url: String) throws -> [String: RiskSettings] {
        try reading(url, DeskConfigurationStore.riskSettings)
    }

    /// Active broker accounts executed by a gateway: `broker_id` -> `api_type`.
    public static func liveBrokers(_ url: String) throws -> [String: String] {
        try reading(url, DeskConfigurationStore.liveBrokers)
    }

    /// The sealed credentials of the live broker accounts.
    public static func liveBrokerCredentials(_ url: String) throws -> [String: SealedCredentials] {
        try reading(url, DeskConfigurationStore.liveBrokerCredentials)
    }

    public static func instruments(_ url: String) throws -> InstrumentMaster {
        try reading(url, DeskConfigurationStore.instruments)
    }

    /// Exchange holidays, as IST days per exchange.
    public static func holidays(_ url: String) throws -> [String: Set<Int64>] {
        try reading(url, DeskConfigurationStore.holidays)
    }
}
