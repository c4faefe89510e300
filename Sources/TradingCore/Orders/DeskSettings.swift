/// Everything a desk is configured with, as one value: built in one place from the
/// configuration and the database (instruments, holidays, strategies' parameters), and applied
/// the same way live (at start and on SIGHUP) and in a replay, so a backtest cannot drift from
/// live trading. Before, each set the desk's fields by hand, and the two lists differed.
/// Risk settings and live broker accounts are the engine's to reload on their own.
public struct DeskSettings: Sendable {
    public var instruments = InstrumentMaster()
    public var calendar = TradingCalendar.standard
    public var sessionActions = true
    public var liftDailyLossHaltsAtDayStart = false
    public var riskIncludesCharges = true
    public var paperModel: PaperModel = .default
    /// Paper accounts' starting capital (nil: unchecked) and the margin schedule.
    public var paperCapital: Int128?
    public var marginSchedule = Funds.MarginSchedule()
    public var controls = OrderControls.none
    public var chargeSchedule: ChargeSchedule?
    public var defaultProduct: Product = .mis
    /// Per strategy: product, validity, `max_loss`.
    public var strategyPolicies: [String: StrategyOrderPolicy] = [:]

    public init() {}

    /// The policies of strategies from their parameters (one that cannot be read has none: the
    /// strategy's own start refuses it).
    public static func policies(_ parameters: [(strategyID: String, parameters: StrategyParameters)]) -> [String: StrategyOrderPolicy] {
        var out: [String: StrategyOrderPolicy] = [:]
        for (id, p) in parameters { out[id] = try? StrategyOrderPolicy(parameters: p) }
        return out
    }
}

extension TradingDesk {
    /// Takes `settings`; what the desk holds (orders, positions, the day, funds' cash) stays.
    public mutating func apply(_ settings: DeskSettings) {
        instruments = settings.instruments
        calendar = settings.calendar
        sessionActions = settings.sessionActions
        liftDailyLossHaltsAtDayStart = settings.liftDailyLossHaltsAtDayStart
        riskIncludesCharges = settings.riskIncludesCharges
        paperModel = settings.paperModel
        funds.paperCapital = settings.paperCapital
        funds.schedule = settings.marginSchedule
        controls = settings.controls
        chargeSchedule = settings.chargeSchedule
        defaultProduct = settings.defaultProduct
        strategyPolicies = settings.strategyPolicies
    }
}
