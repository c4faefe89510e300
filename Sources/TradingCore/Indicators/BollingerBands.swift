/// Bollinger Bands: the simple average of the last `period` values ± `width` population standard
/// deviations. Sums are exact (see ``MovingWindow``), so the bands carry one rounding.
public struct BollingerBands: Sendable {
    public struct Value: Sendable, Equatable {
        public var middle: Double
        public var upper: Double
        public var lower: Double
        public var standardDeviation: Double
    }

    public let width: Double
    private var window: MovingWindow

    public init(period: Int = 20, width: Double = 2) {
        self.window = MovingWindow(capacity: period)
        self.width = width
    }

    public mutating func update(_ value: FixedDecimal) -> Value? {
        window.add(value)
        guard window.isFull else { return nil }
        let n = Int128(window.count)
        // Variance in units²: (n Σx² − (Σx)²) / n², exact in integers up to the division.
        let numerator = n * window.sumOfSquares - window.sum * window.sum
        let variance = Double(numerator) / Double(n * n) / 100_000_000
        let sd = variance > 0 ? variance.squareRoot() : 0
        let mean = Double(window.sum) / Double(n) / 10_000
        return Value(middle: mean, upper: mean + width * sd, lower: mean - width * sd, standardDeviation: sd)
    }
}
