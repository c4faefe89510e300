/// An OHLCV bar of one symbol on one exchange. `start` is its `market_data.timestamp`.
public struct Bar: Sendable, Equatable {
    public var symbol: String
    public var exchange: String
    public var interval: BarInterval
    public var start: Timestamp
    public var open: FixedDecimal
    public var high: FixedDecimal
    public var low: FixedDecimal
    public var close: FixedDecimal
    /// Sum of the ticks' `qty`, saturating at `Int64.max` (the `bigint` column): with `qty` at most
    /// 10^9 that takes 9.2 billion ticks in one bar, but no input may make the sum trap.
    public var volume: Int64
    /// The last `oi` seen in the bar, if any.
    public var openInterest: WideDecimal?
    /// Ticks aggregated.
    public var tickCount: Int

    public init(symbol: String, exchange: String, interval: BarInterval, start: Timestamp, open: FixedDecimal,
                high: FixedDecimal, low: FixedDecimal, close: FixedDecimal, volume: Int64,
                openInterest: WideDecimal? = nil, tickCount: Int = 1) {
        self.symbol = symbol
        self.exchange = exchange
        self.interval = interval
        self.start = start
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.openInterest = openInterest
        self.tickCount = tickCount
    }

    /// A bar opened by one tick.
    public init(tick: Tick, interval: BarInterval, start: Timestamp) {
        self.init(symbol: tick.symbol, exchange: tick.exchange, interval: interval, start: start, open: tick.price,
                  high: tick.price, low: tick.price, close: tick.price, volume: tick.quantity,
                  openInterest: tick.openInterest, tickCount: 1)
    }

    /// Adds a tick of the same bar (ticks arrive in time order within a bar: the last is the close).
    public mutating func add(_ tick: Tick) {
        if tick.price > high { high = tick.price }
        if tick.price < low { low = tick.price }
        close = tick.price
        let (sum, overflow) = volume.addingReportingOverflow(tick.quantity)
        volume = overflow ? .max : sum
        if let oi = tick.openInterest { openInterest = oi }
        tickCount &+= 1
    }
}
