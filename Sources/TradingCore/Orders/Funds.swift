/// The money in each broker account (docs/execution.md, "Funds and margin"): its cash — the
/// starting capital (paper: `execution.paper.capital`; live: what the account's gateway last
/// reported) plus the realized P&L and less the charges of its fills since — and the margin its
/// open positions and working orders block, which is derived from them, never stored. An order
/// that would add exposure needs margin for what it adds; more than is available, and it is
/// refused with the figures.
public struct Funds: Sendable, Equatable {
    /// Margin as a percentage of value, by product: CNC blocks the full value (delivery is paid
    /// for); MIS (intraday) and NRML (carry-forward) block `misPercent` and `nrmlPercent`.
    public struct MarginSchedule: Sendable, Equatable {
        public var misPercent: FixedDecimal
        public var nrmlPercent: FixedDecimal

        public init(misPercent: FixedDecimal = FixedDecimal(20), nrmlPercent: FixedDecimal = FixedDecimal(100)) {
            self.misPercent = misPercent
            self.nrmlPercent = nrmlPercent
        }

        /// The margin for exposure of `value` (1/10,000 units) under `product`.
        public func margin(value: Int128, product: Product) -> Int128 {
            let percent: FixedDecimal
            switch product {
            case .cnc: return value
            case .mis: percent = misPercent
            case .nrml: percent = nrmlPercent
            }
            // value x percent / 100, percent in 1/10,000 units: rounded up, so never under-blocked.
            let scaled = value * Int128(percent.units)
            let divisor: Int128 = 1_000_000
            return scaled / divisor + (scaled % divisor > 0 ? 1 : 0)
        }
    }

    /// The starting capital of a paper account (1/10,000 units); nil: paper accounts unchecked.
    public var paperCapital: Int128?
    public var schedule = MarginSchedule()
    /// Live accounts' capital as their gateways last reported it (broker id -> units).
    public private(set) var reported: [String: Int128] = [:]
    /// Realized P&L less charges of each account's fills, since its capital was set.
    public private(set) var settled: [String: Int128] = [:]

    public init(paperCapital: Int128? = nil, schedule: MarginSchedule = MarginSchedule()) {
        self.paperCapital = paperCapital
        self.schedule = schedule
    }

    /// The account's cash, or nil when it is not checked (a live account its gateway has not
    /// reported funds for, or paper capital not configured).
    public func cash(broker: String, live: Bool) -> Int128? {
        let base = live ? reported[broker] : paperCapital
        return base.map { $0 + (settled[broker] ?? 0) }
    }

    /// A fill's realized P&L and charges move the account's cash.
    public mutating func settle(broker: String, realized: Int128, charges: Int128) {
        settled[broker, default: 0] += realized - charges
    }

    /// A live account's available cash as its gateway reports it: it replaces what was known,
    /// and what was settled since the last report is in it.
    public mutating func report(broker: String, cash: Int128) {
        reported[broker] = cash
        settled[broker] = 0
    }

    /// After a restart: the account's realized P&L less charges so far, read from its positions.
    public mutating func restore(broker: String, settled amount: Int128) {
        settled[broker] = amount
    }
}
