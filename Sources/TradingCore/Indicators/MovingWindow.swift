/// The last `capacity` prices with their exact sum in 1/10,000 units, so a simple moving average
/// is updated in O(1) without drift. (No running sum of squares: at the largest prices it would
/// overflow even 128 bits; the variance is computed from the values when asked.)
public struct MovingWindow: Sendable, Equatable {
    public let capacity: Int
    private var values: [Int64]
    private var next = 0
    public private(set) var count = 0
    /// Σ units.
    public private(set) var sum: Int128 = 0

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.values = Array(repeating: 0, count: capacity)
    }

    public var isFull: Bool { count == capacity }

    public mutating func add(_ value: FixedDecimal) {
        let units = value.units
        if count == capacity {
            let old = values[next]
            sum -= Int128(old)
        } else {
            count += 1
        }
        values[next] = units
        sum += Int128(units)
        next = (next + 1) % capacity
    }

    /// The population variance of the values, in price units squared: two passes in `Double`
    /// around the exact mean.
    public var populationVariance: Double? {
        guard count > 0 else { return nil }
        let mean = Double(sum) / Double(count)
        var squares = 0.0
        for index in 0..<count {
            let deviation = Double(values[index]) - mean
            squares += deviation * deviation
        }
        return squares / Double(count) / 100_000_000
    }

    /// The mean as a Double (exact sum, one rounding).
    public var mean: Double? {
        guard count > 0 else { return nil }
        return Double(sum) / Double(count) / 10_000
    }
}

/// Simple moving average over `period` values.
public struct SimpleMovingAverage: Sendable {
    public private(set) var window: MovingWindow
    public init(period: Int) { window = MovingWindow(capacity: period) }

    /// Adds a value; returns the average once `period` values were seen.
    public mutating func update(_ value: FixedDecimal) -> Double? {
        window.add(value)
        return window.isFull ? window.mean : nil
    }
}
