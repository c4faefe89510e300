/// BUY or SELL (`trades.transaction_type`).
public enum OrderSide: String, Sendable, Equatable, Codable {
    case buy = "BUY", sell = "SELL"
}

/// `trades.order_type`.
public enum OrderType: String, Sendable, Equatable, Codable {
    case market = "MARKET", limit = "LIMIT", stopLoss = "SL", stopLossMarket = "SL-M"
}

/// What a strategy wants done; risk checks and execution turn it into an order.
public struct OrderIntent: Sendable, Equatable, Codable {
    public var strategyID: String
    public var userID: String
    public var brokerID: String?
    public var symbol: String
    public var exchange: String
    public var side: OrderSide
    public var type: OrderType
    public var quantity: Int64
    public var limitPrice: FixedDecimal?
    public var triggerPrice: FixedDecimal?
    public var stoploss: FixedDecimal?
    public var target: FixedDecimal?
    /// The price of the tick that triggered it (paper fills and risk use it).
    public var referencePrice: FixedDecimal
    /// The exchange time of the triggering tick or bar close.
    public var time: Timestamp
    /// Why, in a few words ("fast SMA crossed above slow").
    public var reason: String
    /// MIS, CNC or NRML; nil takes the strategy's (its `product` parameter) or the engine's default.
    public var product: Product?
    /// DAY or IOC; nil takes the strategy's (its `validity` parameter) or DAY.
    public var validity: Validity?
    /// The engine placed it for the strategy (an MIS square-off, a flatten, a loss halt's exit),
    /// not the strategy: its fills move the strategy's position, but nothing was pending for it.
    public var placedByEngine = false
    /// The id a strategy process gave the order (`buy`/`sell` returned it), echoed on its events
    /// to that process; nil for built-in strategies and the engine's own orders.
    public var clientOrderID: String?

    public init(strategyID: String, userID: String, brokerID: String?, symbol: String, exchange: String, side: OrderSide,
                type: OrderType = .market, quantity: Int64, limitPrice: FixedDecimal? = nil, triggerPrice: FixedDecimal? = nil,
                stoploss: FixedDecimal? = nil, target: FixedDecimal? = nil, referencePrice: FixedDecimal, time: Timestamp, reason: String,
                product: Product? = nil, validity: Validity? = nil) {
        self.strategyID = strategyID
        self.userID = userID
        self.brokerID = brokerID
        self.symbol = symbol
        self.exchange = exchange
        self.side = side
        self.type = type
        self.quantity = quantity
        self.limitPrice = limitPrice
        self.triggerPrice = triggerPrice
        self.stoploss = stoploss
        self.target = target
        self.referencePrice = referencePrice
        self.time = time
        self.reason = reason
        self.product = product
        self.validity = validity
    }

    enum CodingKeys: String, CodingKey {
        case strategyID, userID, brokerID, symbol, exchange, side, type, quantity, limitPrice, triggerPrice, stoploss, target
        case referencePrice, time, reason, product, validity, placedByEngine, clientOrderID
    }

    /// Journal rounds written before `placedByEngine` existed still decode (as the strategy's own).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        strategyID = try c.decode(String.self, forKey: .strategyID)
        userID = try c.decode(String.self, forKey: .userID)
        brokerID = try c.decodeIfPresent(String.self, forKey: .brokerID)
        symbol = try c.decode(String.self, forKey: .symbol)
        exchange = try c.decode(String.self, forKey: .exchange)
        side = try c.decode(OrderSide.self, forKey: .side)
        type = try c.decode(OrderType.self, forKey: .type)
        quantity = try c.decode(Int64.self, forKey: .quantity)
        limitPrice = try c.decodeIfPresent(FixedDecimal.self, forKey: .limitPrice)
        triggerPrice = try c.decodeIfPresent(FixedDecimal.self, forKey: .triggerPrice)
        stoploss = try c.decodeIfPresent(FixedDecimal.self, forKey: .stoploss)
        target = try c.decodeIfPresent(FixedDecimal.self, forKey: .target)
        referencePrice = try c.decode(FixedDecimal.self, forKey: .referencePrice)
        time = try c.decode(Timestamp.self, forKey: .time)
        reason = try c.decode(String.self, forKey: .reason)
        product = try c.decodeIfPresent(Product.self, forKey: .product)
        validity = try c.decodeIfPresent(Validity.self, forKey: .validity)
        placedByEngine = try c.decodeIfPresent(Bool.self, forKey: .placedByEngine) ?? false
        clientOrderID = try c.decodeIfPresent(String.self, forKey: .clientOrderID)
    }
}
