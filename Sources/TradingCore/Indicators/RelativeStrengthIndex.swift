/// Wilder's RSI: the first average gain and loss are simple averages of the first `period`
/// changes; after that each is smoothed as (previous × (period − 1) + current) / period.
/// RSI = 100 − 100 / (1 + average gain / average loss); 100 when there was no loss.
public struct RelativeStrengthIndex: Sendable {
    public let period: Int
    private var previous: Double?
    private var gains = 0.0
    private var losses = 0.0
    private var changes = 0
    private var averageGain: Double?
    private var averageLoss = 0.0

    public init(period: Int = 14) {
        precondition(period > 0)
        self.period = period
    }

    public mutating func update(_ x: Double) -> Double? {
        defer { previous = x }
        guard let previous else { return nil }
        let change = x - previous
        let gain = max(change, 0), loss = max(-change, 0)
        if let avgGain = averageGain {
            let n = Double(period)
            averageGain = (avgGain * (n - 1) + gain) / n
            averageLoss = (averageLoss * (n - 1) + loss) / n
        } else {
            gains += gain
            losses += loss
            changes += 1
            guard changes == period else { return nil }
            averageGain = gains / Double(period)
            averageLoss = losses / Double(period)
        }
        guard let g = averageGain else { return nil }
        if averageLoss == 0 { return 100 }
        return 100 - 100 / (1 + g / averageLoss)
    }
}
