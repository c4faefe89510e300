/// Hard bounds the desk keeps, whatever the configuration, so that nothing it accepts can be
/// refused by the database afterwards (a row refused would leave the database behind the desk):
/// quantities fit `INTEGER` columns (`trades.quantity`, `positions.quantity`), and values fit the
/// P&L columns (`NUMERIC(20,4)`, below 10^16) with room to spare. The configurable order
/// controls (docs/risk.md) are far inside these; these only stop the absurd.
public enum StorageLimits {
    /// The largest quantity an order or a position may have (`INTEGER`).
    public static let maxQuantity = Int64(Int32.max)
    /// The largest value of one fill or one position, in 1/10,000 units (₹10^15).
    public static let maxValueUnits: Int128 = 10_000_000_000_000_000_000

    /// Why an order must be refused, if it must: its quantity, or the position it would leave.
    public static func orderRefusal(_ intent: OrderIntent, position: Int64, price: FixedDecimal) -> String? {
        guard intent.quantity > 0, intent.quantity <= maxQuantity else {
            return "quantity \(intent.quantity) is outside 1 to \(maxQuantity)"
        }
        let signed = Int128(intent.side == .buy ? intent.quantity : -intent.quantity)
        let resulting = Int128(position) + signed
        guard resulting.magnitude <= UInt128(maxQuantity) else {
            return "the position would be \(resulting), beyond the \(maxQuantity) a position may hold"
        }
        guard Int128(resulting.magnitude) * Int128(price.units) <= maxValueUnits else {
            return "the position would be worth more than ₹10^15"
        }
        return nil
    }

    /// Why a fill must be refused, if it must: a value no market could produce.
    public static func fillRefusal(quantity: Int64, price: FixedDecimal) -> String? {
        guard quantity > 0, quantity <= maxQuantity else { return "fill quantity \(quantity) is outside 1 to \(maxQuantity)" }
        guard Int128(quantity) * Int128(price.units) <= maxValueUnits else { return "a fill worth more than ₹10^15" }
        return nil
    }
}
