/// One strategy's trading in one Asia/Kolkata day, from its fills: P&L net of charges, with the
/// gross and the charges kept beside it.
public struct StrategyDay: Sendable, Equatable, Codable {
    public var strategyID: String
    /// Days since 1970-01-01 (IST).
    public var day: Int64
    /// Executions (fills) of the strategy's orders.
    public var trades: Int = 0
    /// Closing or reducing executions with a gain / a loss (net of their own charges).
    public var winning: Int = 0
    public var losing: Int = 0
    /// Realized P&L net of every execution's charges, 1/10,000 units.
    public var totalPnL: Int128 = 0
    /// Realized P&L before charges, and the charges of the day's executions.
    public var grossPnL: Int128 = 0
    public var charges: Int128 = 0
    /// The largest fall of cumulative net P&L from its running peak within the day.
    public var maxDrawdown: Int128 = 0
    var peak: Int128 = 0
    /// Net P&L of each closing execution (its realized P&L less its own charges), for the
    /// win rate and the Sharpe ratio.
    public var closedPnLs: [Int128] = []

    public init(strategyID: String, day: Int64) {
        self.strategyID = strategyID
        self.day = day
    }

    /// A day read back from `strategy_performance` after a restart, to go on from.
    public init(restoring strategyID: String, day: Int64, trades: Int, winning: Int, losing: Int, grossPnL: Int128, charges: Int128,
                maxDrawdown: Int128, peak: Int128, closedPnLs: [Int128]) {
        self.init(strategyID: strategyID, day: day)
        self.trades = trades
        self.winning = winning
        self.losing = losing
        self.grossPnL = grossPnL
        self.charges = charges
        totalPnL = grossPnL - charges
        self.maxDrawdown = maxDrawdown
        self.peak = peak
        self.closedPnLs = closedPnLs
    }

    /// The running peak of cumulative net P&L (stored with the day so a restart goes on from it).
    public var netPeak: Int128 { peak }

    enum CodingKeys: String, CodingKey {
        case strategyID, day, trades, winning, losing, totalPnL, grossPnL, charges, maxDrawdown, peak, closedPnLs
    }

    /// Rounds journaled before gross and charges existed still decode (with zero charges).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        strategyID = try c.decode(String.self, forKey: .strategyID)
        day = try c.decode(Int64.self, forKey: .day)
        trades = try c.decode(Int.self, forKey: .trades)
        winning = try c.decode(Int.self, forKey: .winning)
        losing = try c.decode(Int.self, forKey: .losing)
        totalPnL = try c.decode(Int128.self, forKey: .totalPnL)
        charges = try c.decodeIfPresent(Int128.self, forKey: .charges) ?? 0
        grossPnL = try c.decodeIfPresent(Int128.self, forKey: .grossPnL) ?? totalPnL + charges
        maxDrawdown = try c.decode(Int128.self, forKey: .maxDrawdown)
        peak = try c.decode(Int128.self, forKey: .peak)
        closedPnLs = try c.decode([Int128].self, forKey: .closedPnLs)
    }

    /// Winning closed executions over all closed executions, in percent.
    public var winRate: Double? {
        let closed = winning + losing
        return closed > 0 ? Double(winning) / Double(closed) * 100 : nil
    }

    /// Mean over standard deviation (population) of the closed executions' P&L: a per-trade
    /// Sharpe ratio with no risk-free rate and no annualization; nil below two trades.
    public var sharpeRatio: Double? {
        guard closedPnLs.count >= 2 else { return nil }
        let values = closedPnLs.map { Double($0) / 10_000 }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        guard variance > 0 else { return nil }
        return mean / variance.squareRoot()
    }

    mutating func add(fill realized: Int128, closing: Bool, charges fillCharges: Int128 = 0) {
        trades += 1
        charges += fillCharges
        if closing { grossPnL += realized }
        totalPnL = grossPnL - charges
        if closing {
            let net = realized - fillCharges
            closedPnLs.append(net)
            if net > 0 { winning += 1 } else if net < 0 { losing += 1 }
        }
        if totalPnL > peak { peak = totalPnL }
        maxDrawdown = max(maxDrawdown, peak - totalPnL)
    }
}
