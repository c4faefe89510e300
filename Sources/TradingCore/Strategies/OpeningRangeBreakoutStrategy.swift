/// `opening_range_breakout`: the high and low of the first `range_minutes` (15) after the
/// exchange's session open define the day's range. After it, the first tick above the range high
/// while flat buys `quantity` at market; while long, a tick below the range low sells the whole
/// position (the stop), and so does the first tick at or after `exit_time` ("15:15", IST) if
/// given. One entry per Asia/Kolkata day. Never short.
public final class OpeningRangeBreakoutStrategy: TradingStrategy {
    public let identity: StrategyIdentity
    public let symbol: String
    public let exchange: String
    public let quantity: Int64
    public let rangeMinutes: Int64
    public let exitMinute: Int64?
    public var barIntervals: Set<BarInterval> { [.oneMinute] }
    private let calendar: SessionCalendar
    private var day: Int64?
    private var rangeHigh: FixedDecimal?
    private var rangeLow: FixedDecimal?
    private var enteredToday = false

    public static let parameterNames: Set<String> = ["symbol", "exchange", "range_minutes", "quantity", "exit_time", "broker_id"]

    public init(identity: StrategyIdentity, parameters: StrategyParameters, calendar: SessionCalendar = .standard) throws(StrategyConfigurationError) {
        try parameters.onlyKnown(Self.parameterNames)
        self.identity = identity
        self.calendar = calendar
        symbol = try parameters.string("symbol")
        exchange = try parameters.string("exchange", default: "NSE")
        rangeMinutes = try parameters.integer("range_minutes", default: 15, in: 1...600)
        quantity = try parameters.integer("quantity", in: 1...100_000_000)
        exitMinute = try parameters.timeOfDay("exit_time")
    }

    public func onTick(_ tick: Tick, position: Int64) -> [OrderIntent] {
        let today = SessionCalendar.istDay(tick.timestamp)
        if day != today {
            day = today
            rangeHigh = nil
            rangeLow = nil
            enteredToday = false
        }
        let minuteOfDay = (tick.timestamp.nanosecondsSinceEpoch / 1_000_000_000 + SessionCalendar.istOffsetSeconds) % 86_400 / 60
        let open = calendar.sessionOpenMinutes[exchange] ?? calendar.defaultOpenMinutes
        if minuteOfDay < open { return [] }
        if minuteOfDay < open + rangeMinutes {
            rangeHigh = max(rangeHigh ?? tick.price, tick.price)
            rangeLow = min(rangeLow ?? tick.price, tick.price)
            return []
        }
        guard let high = rangeHigh, let low = rangeLow else { return [] }  // no ticks in the range: no trade today
        if position > 0 {
            if let exitMinute, minuteOfDay >= exitMinute {
                return [intent(.sell, quantity: position, price: tick.price, time: tick.timestamp, reason: "exit time")]
            }
            if tick.price < low {
                return [intent(.sell, quantity: position, price: tick.price, time: tick.timestamp, reason: "fell below the opening range")]
            }
            return []
        }
        if position == 0 && !enteredToday && tick.price > high {
            if let exitMinute, minuteOfDay >= exitMinute { return [] }
            enteredToday = true
            return [intent(.buy, quantity: quantity, price: tick.price, time: tick.timestamp, reason: "broke above the opening range")]
        }
        return []
    }

    public func indicatorValues(for bar: Bar) -> [String: [String: Double]] {
        guard bar.interval == .oneMinute, let high = rangeHigh, let low = rangeLow else { return [:] }
        return ["opening_range": ["high": Double(high.units) / 10_000, "low": Double(low.units) / 10_000]]
    }
}
