/// Exponential moving average, α = 2 / (period + 1), seeded with the simple average of the first
/// `period` values (the usual convention, e.g. in TA-Lib).
public struct ExponentialMovingAverage: Sendable {
    public let period: Int
    public let alpha: Double
    private var seedSum = 0.0
    private var seen = 0
    public private(set) var value: Double?

    public init(period: Int) {
        precondition(period > 0)
        self.period = period
        self.alpha = 2.0 / Double(period + 1)
    }

    public mutating func update(_ x: Double) -> Double? {
        if let current = value {
            let next = current + alpha * (x - current)
            value = next
            return next
        }
        seedSum += x
        seen += 1
        if seen == period {
            value = seedSum / Double(period)
        }
        return value
    }
}

/// MACD: EMA(fast) − EMA(slow), its EMA(signal), and the histogram (difference of the two).
public struct MACD: Sendable {
    public struct Value: Sendable, Equatable {
        public var macd: Double
        public var signal: Double
        public var histogram: Double

        public init(macd: Double, signal: Double, histogram: Double) {
            self.macd = macd
            self.signal = signal
            self.histogram = histogram
        }
    }

    private var fast: ExponentialMovingAverage
    private var slow: ExponentialMovingAverage
    private var signal: ExponentialMovingAverage

    public init(fast: Int = 12, slow: Int = 26, signal: Int = 9) {
        self.fast = ExponentialMovingAverage(period: fast)
        self.slow = ExponentialMovingAverage(period: slow)
        self.signal = ExponentialMovingAverage(period: signal)
    }

    public mutating func update(_ x: Double) -> Value? {
        let f = fast.update(x)
        guard let s = slow.update(x), let f else { return nil }
        let macd = f - s
        guard let sig = signal.update(macd) else { return nil }
        return Value(macd: macd, signal: sig, histogram: macd - sig)
    }
}
