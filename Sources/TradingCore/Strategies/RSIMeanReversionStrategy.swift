/// `rsi_mean_reversion`: on each closed bar of `interval` (default 5min), Wilder's RSI of the
/// closes over `period` (14). Flat and RSI below `oversold` (30): buy `quantity` at market; long
/// and RSI above `overbought` (70): sell the whole position. Never short.
public final class RSIMeanReversionStrategy: TradingStrategy {
    public let identity: StrategyIdentity
    public let symbol: String
    public let exchange: String
    public let interval: BarInterval
    public let quantity: Int64
    public let oversold: Double
    public let overbought: Double
    public var barIntervals: Set<BarInterval> { [interval] }
    private var rsi: RelativeStrengthIndex
    private var last: Double?
    /// The start of the last bar fed to the RSI: `last` is that bar's value.
    private var lastStart: Timestamp?

    public static let parameterNames: Set<String> = ["symbol", "exchange", "interval", "period", "oversold", "overbought", "quantity", "broker_id"]

    public init(identity: StrategyIdentity, parameters: StrategyParameters) throws(StrategyConfigurationError) {
        try parameters.onlyKnown(Self.parameterNames)
        self.identity = identity
        symbol = try parameters.string("symbol")
        exchange = try parameters.string("exchange", default: "NSE")
        interval = try parameters.interval("interval", default: .fiveMinutes)
        let period = try parameters.integer("period", default: 14, in: 2...1_000)
        let low = try parameters.decimal("oversold", default: FixedDecimal(30))
        let high = try parameters.decimal("overbought", default: FixedDecimal(70))
        guard low > .zero, high < FixedDecimal(100), low < high else {
            throw StrategyConfigurationError(parameter: "oversold", "must satisfy 0 < oversold < overbought < 100")
        }
        oversold = Double(low.units) / 10_000
        overbought = Double(high.units) / 10_000
        quantity = try parameters.integer("quantity", in: 1...100_000_000)
        rsi = RelativeStrengthIndex(period: Int(period))
    }

    public func onTick(_ tick: Tick, position: Int64) -> [OrderIntent] { [] }

    public func onBar(_ bar: Bar, position: Int64) -> [OrderIntent] {
        guard bar.interval == interval else { return [] }
        lastStart = bar.start
        guard let value = rsi.update(Double(bar.close.units) / 10_000) else { return [] }
        last = value
        let time = bar.start.adding(nanoseconds: interval.nanoseconds)
        if value < oversold && position == 0 {
            return [intent(.buy, quantity: quantity, price: bar.close, time: time, reason: "RSI \(Int(value)) below \(Int(oversold))")]
        }
        if value > overbought && position > 0 {
            return [intent(.sell, quantity: position, price: bar.close, time: time, reason: "RSI \(Int(value)) above \(Int(overbought))")]
        }
        return []
    }

    /// The RSI of `bar` itself: for the bar just closed, the value it traded on; for a bar still
    /// open (stored as it is at shutdown), the value it would have if it closed now, computed on
    /// a copy so the strategy's state is untouched (it used to carry the previous bar's value).
    public func indicatorValues(for bar: Bar) -> [String: [String: Double]] {
        guard bar.interval == interval else { return [:] }
        if bar.start == lastStart { return last.map { ["rsi": ["value": $0]] } ?? [:] }
        var probe = rsi
        guard let value = probe.update(Double(bar.close.units) / 10_000) else { return [:] }
        return ["rsi": ["value": value]]
    }
}
