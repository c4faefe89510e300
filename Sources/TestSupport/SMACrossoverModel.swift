import Foundation
public import TradingCore

/// An independent model of CONTRACT.md section 5's `sma_crossover`, in Foundation's Decimal
/// (not the engine's integer arithmetic): where on a price path it buys and sells, starting flat.
public enum SMACrossoverModel {
    public struct Signal: Equatable, Sendable {
        public let index: Int
        public let side: String
        public let quantity: Int64
    }

    public static func signals(prices: [FixedDecimal], fast: Int, slow: Int, quantity: Int64) -> [Signal] {
        func mean(_ xs: ArraySlice<FixedDecimal>) -> Decimal { xs.reduce(Decimal(0)) { $0 + Decimal($1.units) } / Decimal(xs.count) }
        var out: [Signal] = []
        var position: Int64 = 0
        for i in prices.indices where i >= slow {  // both windows full at i - 1 and at i
            let fNow = mean(prices[(i - fast + 1)...i]), sNow = mean(prices[(i - slow + 1)...i])
            let fPrev = mean(prices[(i - fast)...(i - 1)]), sPrev = mean(prices[(i - slow)...(i - 1)])
            if fPrev <= sPrev && fNow > sNow && position == 0 {
                out.append(Signal(index: i, side: "BUY", quantity: quantity)); position = quantity
            } else if fPrev >= sPrev && fNow < sNow && position > 0 {
                out.append(Signal(index: i, side: "SELL", quantity: position)); position = 0
            }
        }
        return out
    }
}
