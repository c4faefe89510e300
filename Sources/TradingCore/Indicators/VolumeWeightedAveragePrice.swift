/// Volume-weighted average price since the start of the Asia/Kolkata trading day: Σ price × qty /
/// Σ qty, with exact sums; it restarts when a tick of a new day arrives.
public struct VolumeWeightedAveragePrice: Sendable {
    private var day: Int64?
    private var weighted: Int128 = 0
    private var volume: Int64 = 0

    public init() {}

    public mutating func update(price: FixedDecimal, quantity: Int64, at time: Timestamp) -> Double? {
        let today = SessionCalendar.istDay(time)
        if day != today {
            day = today
            weighted = 0
            volume = 0
        }
        weighted += Int128(price.units) * Int128(quantity)
        volume += quantity
        guard volume > 0 else { return nil }
        return Double(weighted) / Double(volume) / 10_000
    }
}
