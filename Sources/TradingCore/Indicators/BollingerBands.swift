/// Bollinger Bands: the simple average of the last `period` values ± `width` population standard
/// deviations. The mean comes from an exact sum (see ``MovingWindow``); the deviation from two
/// passes in `Double`, which no price can overflow.
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
        let variance = window.populationVariance ?? 0
        let sd = variance > 0 ? variance.squareRoot() : 0
        let mean = Double(window.sum) / Double(window.count) / 10_000
        return Value(middle: mean, upper: mean + width * sd, lower: mean - width * sd, standardDeviation: sd)
    }
}
