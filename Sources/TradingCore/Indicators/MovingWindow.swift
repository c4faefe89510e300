/// The last `capacity` prices with their exact sum (and sum of squares) in 1/10,000 units, so a
/// simple moving average or a standard deviation is updated in O(1) without drift.
public struct MovingWindow: Sendable, Equatable {
    public let capacity: Int
    private var values: [Int64]
    private var next = 0
    public private(set) var count = 0
    /// Σ units.
    public private(set) var sum: Int128 = 0
    /// Σ units².
    public private(set) var sumOfSquares: Int128 = 0

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
            sumOfSquares -= Int128(old) * Int128(old)
        } else {
            count += 1
        }
        values[next] = units
        sum += Int128(units)
        sumOfSquares += Int128(units) * Int128(units)
        next = (next + 1) % capacity
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
