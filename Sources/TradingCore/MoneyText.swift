/// Money of 1/10,000 units as text, exactly: sums of fills are `Int128` and are printed or sent
/// to PostgreSQL without passing through a `Double`.
public enum MoneyText {
    /// All four decimals, as a NUMERIC literal: `-1.2345`.
    public static func exact(_ units: Int128) -> String {
        decimal(units, scale: 10_000, digits: 4)
    }

    /// Rupees to the paisa, rounded half-even: `1.24` for 1.2350, `1.22` for 1.2250.
    public static func rupees(_ units: Int128) -> String {
        decimal(divideRoundingHalfEven(units, 100), scale: 100, digits: 2)
    }

    private static func decimal(_ value: Int128, scale: UInt128, digits: Int) -> String {
        let magnitude = value.magnitude
        let fraction = String(magnitude % scale)
        let padding = String(repeating: "0", count: digits - fraction.count)
        return "\(value < 0 ? "-" : "")\(magnitude / scale).\(padding)\(fraction)"
    }
}
