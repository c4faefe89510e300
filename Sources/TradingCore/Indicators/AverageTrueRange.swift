/// Wilder's Average True Range over bars. True range = max(high − low, |high − previous close|,
/// |low − previous close|) (the first bar's is high − low); the first ATR is the simple average
/// of the first `period` true ranges, then (previous × (period − 1) + TR) / period.
public struct AverageTrueRange: Sendable {
    public let period: Int
    private var previousClose: Double?
    private var sum = 0.0
    private var seen = 0
    public private(set) var value: Double?

    public init(period: Int = 14) {
        precondition(period > 0)
        self.period = period
    }

    public mutating func update(high: Double, low: Double, close: Double) -> Double? {
        let range: Double
        if let pc = previousClose {
            range = max(high - low, abs(high - pc), abs(low - pc))
        } else {
            range = high - low
        }
        previousClose = close
        if let current = value {
            let next = (current * Double(period - 1) + range) / Double(period)
            value = next
            return next
        }
        sum += range
        seen += 1
        if seen == period { value = sum / Double(period) }
        return value
    }
}
