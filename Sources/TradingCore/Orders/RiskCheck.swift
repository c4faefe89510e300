/// A user's `risk_settings` row, in exact units.
public struct RiskSettings: Sendable, Equatable {
    public var dailyLossLimit: FixedDecimal
    public var maxPositionSize: FixedDecimal
    /// Percent.
    public var maxDrawdownPercent: FixedDecimal
    /// Percent of `maxPositionSize`.
    public var maxRiskPerTrade: FixedDecimal
    public var isActive: Bool

    public init(dailyLossLimit: FixedDecimal, maxPositionSize: FixedDecimal, maxDrawdownPercent: FixedDecimal,
                maxRiskPerTrade: FixedDecimal, isActive: Bool = true) {
        self.dailyLossLimit = dailyLossLimit
        self.maxPositionSize = maxPositionSize
        self.maxDrawdownPercent = maxDrawdownPercent
        self.maxRiskPerTrade = maxRiskPerTrade
        self.isActive = isActive
    }
}

/// What the risk check knows about the user when an order arrives.
public struct RiskContext: Sendable, Equatable {
    /// The user's net position in the order's instrument (signed).
    public var position: Int64
    /// Realized plus unrealized P&L in the current Asia/Kolkata trading day, 1/10,000 units.
    public var dayPnL: Int128
    /// The user's equity measure and its peak (docs/risk.md), 1/10,000 units.
    public var equity: Int128
    public var equityPeak: Int128
    /// A halt set by a breach or an operator (user or whole engine).
    public var halted: Bool

    public init(position: Int64, dayPnL: Int128 = 0, equity: Int128 = 0, equityPeak: Int128 = 0, halted: Bool = false) {
        self.position = position
        self.dayPnL = dayPnL
        self.equity = equity
        self.equityPeak = equityPeak
        self.halted = halted
    }
}

/// The verdict on one order.
public enum RiskDecision: Sendable, Equatable {
    case accept
    case reject(reason: String)
    /// Rejected, and the user must be halted (a loss or drawdown limit was breached).
    case rejectAndHalt(reason: String)
}

/// Pre-trade checks of CONTRACT.md section 5, pure: position size, risk per trade, and the daily
/// loss and drawdown limits, whose breach halts the user. An order that only reduces the
/// position is always allowed (even when halted): it takes risk off.
public enum RiskCheck {
    /// - Parameters:
    ///   - price: the limit price for LIMIT orders, otherwise the price of the triggering tick.
    public static func evaluate(side: OrderSide, quantity: Int64, price: FixedDecimal, stoploss: FixedDecimal?,
                                settings: RiskSettings?, context: RiskContext) -> RiskDecision {
        let signed = side == .buy ? quantity : -quantity
        let resulting = context.position + signed
        let reducesOnly = context.position != 0 && (context.position > 0) != (signed > 0) && resulting.magnitude <= context.position.magnitude
            && (resulting == 0 || (resulting > 0) == (context.position > 0))
        if reducesOnly { return .accept }
        if context.halted { return .reject(reason: "trading is halted for this user; only orders that reduce a position are accepted") }
        guard let settings, settings.isActive else { return .accept }

        // Daily loss: realized + unrealized loss in the IST trading day.
        if -context.dayPnL >= Int128(settings.dailyLossLimit.units) {
            return .rejectAndHalt(reason: "daily loss \(Self.text(-context.dayPnL)) reached the limit \(settings.dailyLossLimit)")
        }
        // Drawdown from the peak of the equity measure, in percent.
        if context.equityPeak > 0 {
            let drawdown = context.equityPeak - context.equity
            // drawdown / peak * 100 >= limit  <=>  drawdown * 100 * 10_000 >= limit_units * peak
            if drawdown > 0 && drawdown * 1_000_000 >= Int128(settings.maxDrawdownPercent.units) * context.equityPeak {
                return .rejectAndHalt(reason: "drawdown from the equity peak reached \(settings.maxDrawdownPercent)%")
            }
        }
        // Position size: |resulting quantity × price| <= max_position_size.
        let exposure = Int128(resulting.magnitude) * Int128(price.units)  // units of 1/10,000
        if exposure > Int128(settings.maxPositionSize.units) {
            return .reject(reason: "position value \(Self.text(exposure)) would exceed max_position_size \(settings.maxPositionSize)")
        }
        // Risk per trade: loss between entry and stoploss, as a percent of max_position_size.
        if let stoploss {
            let loss = Int128(quantity) * Int128((price.units - stoploss.units).magnitude)  // units
            // loss <= pct/100 * maxPositionSize  <=>  loss * 100 * 10_000 <= pct_units * maxPositionSize_units
            if loss * 1_000_000 > Int128(settings.maxRiskPerTrade.units) * Int128(settings.maxPositionSize.units) {
                return .reject(reason: "risk to stoploss \(Self.text(loss)) exceeds max_risk_per_trade \(settings.maxRiskPerTrade)% of max_position_size")
            }
        }
        return .accept
    }

    static func text(_ units: Int128) -> String {
        FixedDecimal(units: Int64(clamping: units)).description
    }
}
