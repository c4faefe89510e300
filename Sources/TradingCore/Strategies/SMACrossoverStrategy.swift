/// `sma_crossover` exactly as CONTRACT.md section 5 specifies: simple moving averages of the last
/// `fast` and `slow` tick prices, compared exactly (cross-multiplied integer sums, no floating
/// point). It signals only on a tick where both windows were already full on the previous tick:
/// fast crossing above slow while flat buys `quantity` at market; fast crossing below slow while
/// long sells the whole position. It never goes short.
public final class SMACrossoverStrategy: TradingStrategy {
    public let identity: StrategyIdentity
    public let symbol: String
    public let exchange: String
    public let quantity: Int64
    public var barIntervals: Set<BarInterval> { [.oneMinute] }
    private var fast: MovingWindow
    private var slow: MovingWindow
    /// The comparison of fast and slow on the previous tick, when both windows were full then.
    private var previous: Int?

    public static let parameterNames: Set<String> = ["symbol", "exchange", "fast", "slow", "quantity", "broker_id"]

    public init(identity: StrategyIdentity, parameters: StrategyParameters) throws(StrategyConfigurationError) {
        try parameters.onlyKnown(Self.parameterNames)
        self.identity = identity
        symbol = try parameters.string("symbol")
        exchange = try parameters.string("exchange", default: "NSE")
        let fastLength = try parameters.integer("fast", in: 1...10_000)
        let slowLength = try parameters.integer("slow", in: 2...10_000)
        guard fastLength < slowLength else { throw StrategyConfigurationError(parameter: "fast", "must be less than slow (\(slowLength))") }
        quantity = try parameters.integer("quantity", in: 1...100_000_000)
        fast = MovingWindow(capacity: Int(fastLength))
        slow = MovingWindow(capacity: Int(slowLength))
    }

    /// -1, 0 or 1 as fast is below, equal to or above slow: fastSum/fastN vs slowSum/slowN,
    /// compared as fastSum × slowN vs slowSum × fastN.
    private var comparison: Int {
        let lhs = fast.sum * Int128(slow.capacity), rhs = slow.sum * Int128(fast.capacity)
        return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0)
    }

    public func onTick(_ tick: Tick, position: Int64) -> [OrderIntent] {
        fast.add(tick.price)
        slow.add(tick.price)
        guard fast.isFull && slow.isFull else { return [] }
        let now = comparison
        defer { previous = now }
        guard let previous else { return [] }
        if previous <= 0 && now > 0 && position == 0 {
            return [intent(.buy, quantity: quantity, price: tick.price, time: tick.timestamp, reason: "fast SMA crossed above slow")]
        }
        if previous >= 0 && now < 0 && position > 0 {
            return [intent(.sell, quantity: position, price: tick.price, time: tick.timestamp, reason: "fast SMA crossed below slow")]
        }
        return []
    }

    public func indicatorValues(for bar: Bar) -> [String: [String: Double]] {
        guard bar.interval == .oneMinute, let f = fast.mean, let s = slow.mean, fast.isFull, slow.isFull else { return [:] }
        return ["sma_crossover": ["sma_fast": f, "sma_slow": s]]
    }
}
