/// An open position as `positions` holds it, read back at start (docs/schema.md).
public struct RestoredPosition: Sendable, Equatable {
    public var positionID: String
    public var openingTradeID: String
    public var userID: String
    public var symbol: String
    public var exchange: String
    /// Signed: short is negative.
    public var quantity: Int64
    public var averagePrice: FixedDecimal
    public var openedAt: Timestamp
    /// The strategy and broker account of the trade that opened it.
    public var strategyID: String?
    public var brokerID: String?
    public var product: Product?
    /// The row's realized P&L before charges so far, and its charges (1/10,000 units).
    public var grossRealized: Int128
    public var charges: Int128

    public init(positionID: String, openingTradeID: String, userID: String, symbol: String, exchange: String, quantity: Int64,
                averagePrice: FixedDecimal, openedAt: Timestamp, strategyID: String? = nil, brokerID: String? = nil,
                product: Product? = nil, grossRealized: Int128 = 0, charges: Int128 = 0) {
        self.positionID = positionID
        self.openingTradeID = openingTradeID
        self.userID = userID
        self.symbol = symbol
        self.exchange = exchange
        self.quantity = quantity
        self.averagePrice = averagePrice
        self.openedAt = openedAt
        self.strategyID = strategyID
        self.brokerID = brokerID
        self.product = product
        self.grossRealized = grossRealized
        self.charges = charges
    }
}
