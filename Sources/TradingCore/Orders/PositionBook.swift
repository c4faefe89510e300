/// One net position of a user in an instrument (`positions`): signed quantity (short is
/// negative), average entry price, realized P&L. Pure.
public struct NetPosition: Sendable, Equatable {
    public enum Action: String, Sendable, Codable {
        case open = "OPEN", increase = "INCREASE", decrease = "DECREASE", close = "CLOSE"
    }

    public enum Status: String, Sendable, Codable {
        case open = "OPEN", partiallyClosed = "PARTIALLY_CLOSED", closed = "CLOSED"
    }

    public private(set) var quantity: Int64 = 0
    /// Average entry price of the open quantity, in exact 1/10,000 units × quantity terms: kept as
    /// the open cost (Σ signed quantity × price) so that it is exact; see ``averagePrice``.
    public private(set) var openCost: Int128 = 0
    /// Realized P&L in 1/10,000 units (exact).
    public private(set) var realized: Int128 = 0
    public private(set) var status: Status = .closed
    /// Whether the current open quantity was ever reduced (for PARTIALLY_CLOSED).
    private var reduced = false

    public init() {}

    /// Average entry price of the open quantity, rounded half-even to 4 decimals; nil when flat.
    public var averagePrice: FixedDecimal? {
        guard quantity != 0 else { return nil }
        return FixedDecimal(units: Int64(divideRoundingHalfEven(openCost, Int128(quantity))))
    }

    /// Unrealized P&L at `mark`, in 1/10,000 units.
    public func unrealized(at mark: FixedDecimal) -> Int128 {
        Int128(quantity) * Int128(mark.units) - openCost
    }

    /// Applies a fill (positive quantity buys, negative sells) and returns the actions it was,
    /// in order (a fill through zero closes, then opens the other side), with the realized P&L
    /// each produced.
    @discardableResult
    public mutating func apply(fill signedQuantity: Int64, price: FixedDecimal) -> [(action: Action, pnl: Int128)] {
        precondition(signedQuantity != 0)
        var remaining = signedQuantity
        var actions: [(Action, Int128)] = []
        // Reduce the open side first.
        if quantity != 0 && (quantity > 0) != (remaining > 0) {
            let closing = min(quantity.magnitude, remaining.magnitude)
            let closingSigned = quantity > 0 ? Int64(closing) : -Int64(closing)  // of the open side's sign
            // The closed part's share of the open cost, rounded half-even to 1/10,000 (a full close
            // takes the whole cost, so rounding never accumulates: realized − openCost always
            // equals the fills' net cash flow exactly).
            // The product fits 128 bits for any position the engine can hold (|openCost| below
            // 10^18 x 10^18); if it ever did not, the share is the average cost times the part.
            let (product, overflow) = openCost.multipliedReportingOverflow(by: Int128(closingSigned))
            let costShare = closing == quantity.magnitude ? openCost
                : overflow ? divideRoundingHalfEven(openCost, Int128(quantity)) * Int128(closingSigned)
                : divideRoundingHalfEven(product, Int128(quantity))
            let pnl = Int128(closingSigned) * Int128(price.units) - costShare
            realized += pnl
            openCost -= costShare
            quantity -= closingSigned
            remaining += closingSigned
            if quantity == 0 {
                openCost = 0
                reduced = false
                status = .closed
                actions.append((.close, pnl))
            } else {
                reduced = true
                status = .partiallyClosed
                actions.append((.decrease, pnl))
            }
        }
        if remaining != 0 {
            let wasFlat = quantity == 0
            quantity += remaining
            openCost += Int128(remaining) * Int128(price.units)
            if wasFlat {
                reduced = false
                status = .open
                actions.append((.open, 0))
            } else {
                status = reduced ? .partiallyClosed : .open
                actions.append((.increase, 0))
            }
        }
        return actions
    }
}

/// a / b rounded to the nearest integer, ties to even (banker's rounding).
public func divideRoundingHalfEven(_ a: Int128, _ b: Int128) -> Int128 {
    precondition(b != 0)
    var (q, r) = a.quotientAndRemainder(dividingBy: b)
    // Work with magnitudes to round away from the truncated quotient correctly for any signs.
    let twice = r.magnitude * 2, divisor = b.magnitude
    if twice > divisor || (twice == divisor && q % 2 != 0) {
        q += (a < 0) != (b < 0) ? -1 : 1
    }
    return q
}
