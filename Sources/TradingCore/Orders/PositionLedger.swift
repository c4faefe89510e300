/// What every user holds, and the prices it is valued at: the one owner of positions. Each open
/// position carries where its last fill came from (strategy, broker account) and its product in
/// the same record, so a flatten, a square-off and the margin it blocks read one truth (they
/// were three maps kept in step by hand). A strategy's position, the `positions` rows, the
/// marks and the funds' blocked margin all derive from it.
public struct PositionLedger: Sendable {
    public struct Key: Hashable, Sendable {
        public var userID: String, symbol: String, exchange: String

        public init(userID: String, symbol: String, exchange: String) {
            self.userID = userID
            self.symbol = symbol
            self.exchange = exchange
        }
    }

    /// The strategy and broker account of a position's last fill.
    public struct Origin: Sendable, Equatable {
        public var strategyID: String
        public var brokerID: String?
    }

    /// One open position (a `positions` row).
    struct Open: Sendable {
        var positionID: String
        var openingTradeID: String
        var openedAt: Timestamp
        var net: NetPosition
        /// `net.realized` when this row opened: a row's realized P&L is its own, not that of the
        /// position it replaced when a fill went through zero.
        var realizedBase: Int128 = 0
        /// Charges of this row's executions.
        var charges: Int128 = 0
        var product: Product = .mis
        var instrumentType = "EQ"
        var origin: Origin?
    }

    /// Instruments whose last price is kept for any tick (see `noteTrade`).
    public static let maxPricedInstruments = 200_000

    var open: [Key: Open] = [:]
    /// The last traded price per instrument ("SYMBOL|EXCHANGE").
    var lastPrice: [String: FixedDecimal] = [:]
    /// The price each open position was last marked at.
    var marked: [String: FixedDecimal] = [:]

    static func instrument(_ symbol: String, _ exchange: String) -> String { symbol + "|" + exchange }

    /// The user's net quantity in an instrument.
    func quantity(_ key: Key) -> Int64 { open[key]?.net.quantity ?? 0 }

    func lastPrice(symbol: String, exchange: String) -> FixedDecimal? { lastPrice[Self.instrument(symbol, exchange)] }

    /// A trade seen on an instrument. Every instrument's last price is kept up to a bound, so a
    /// flood of made-up symbols cannot grow the desk; past it, only instruments already priced or
    /// `traded` keep theirs up to date (docs/ingest.md, "Bounds").
    mutating func noteTrade(symbol: String, exchange: String, price: FixedDecimal, traded: Bool) {
        let key = Self.instrument(symbol, exchange)
        if traded || lastPrice.count < Self.maxPricedInstruments || lastPrice[key] != nil { lastPrice[key] = price }
    }

    /// The user's open positions valued at their last traded prices (those with none yet count
    /// nothing): unrealized P&L, 1/10,000 units.
    func unrealized(userID: String) -> Int128 {
        var total: Int128 = 0
        for (key, position) in open where key.userID == userID {
            if let mark = lastPrice[Self.instrument(key.symbol, key.exchange)] { total += position.net.unrealized(at: mark) }
        }
        return total
    }

    /// Open positions in a stable order (by position id), optionally only some.
    func sorted(where include: (Key, Open) -> Bool = { _, _ in true }) -> [(key: Key, value: Open)] {
        open.filter { include($0.key, $0.value) && $0.value.net.quantity != 0 }.sorted { $0.value.positionID < $1.value.positionID }
    }

    /// Open positions whose last traded price moved since they were last marked, and that price.
    mutating func marks() -> [(positionID: String, price: FixedDecimal)] {
        var out: [(String, FixedDecimal)] = []
        for (key, position) in open {
            guard let price = lastPrice[Self.instrument(key.symbol, key.exchange)], marked[position.positionID] != price else { continue }
            marked[position.positionID] = price
            out.append((position.positionID, price))
        }
        return out
    }

    /// Margin the account's open positions block, at their average price.
    func blockedMargin(broker: String, schedule: Funds.MarginSchedule) -> Int128 {
        var blocked: Int128 = 0
        for position in open.values where position.origin?.brokerID == broker && position.net.quantity != 0 {
            blocked += schedule.margin(value: Int128(position.net.quantity.magnitude) * Int128((position.net.averagePrice ?? .zero).units),
                                       product: position.product)
        }
        return blocked
    }
}
