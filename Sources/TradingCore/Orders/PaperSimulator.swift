/// A working order at the paper venue.
public struct PaperOrder: Sendable, Equatable {
    public var orderID: String
    public var side: OrderSide
    public var type: OrderType
    public var quantity: Int64
    public var limitPrice: FixedDecimal?
    public var triggerPrice: FixedDecimal?
    /// SL and SL-M orders become live once the trigger trades.
    public var triggered: Bool

    public init(orderID: String, side: OrderSide, type: OrderType, quantity: Int64,
                limitPrice: FixedDecimal? = nil, triggerPrice: FixedDecimal? = nil) {
        self.orderID = orderID
        self.side = side
        self.type = type
        self.quantity = quantity
        self.limitPrice = limitPrice
        self.triggerPrice = triggerPrice
        self.triggered = false
    }
}

/// An execution at the paper venue.
public struct PaperFill: Sendable, Equatable {
    public var orderID: String
    public var quantity: Int64
    public var price: FixedDecimal
    public var time: Timestamp

    public init(orderID: String, quantity: Int64, price: FixedDecimal, time: Timestamp) {
        self.orderID = orderID
        self.quantity = quantity
        self.price = price
        self.time = time
    }
}

/// The paper simulator's default model (CONTRACT.md section 5): a MARKET order fills in full at
/// once at the price of the tick that triggered it; a LIMIT order fills in full when a tick
/// trades at or through its price, at the limit price; SL and SL-M orders trigger when a tick
/// trades at or through `trigger_price` — SL-M then fills at that tick's price, SL becomes a
/// limit order at its `price` (and fills on that same tick if it is marketable). No staleness,
/// session-hour or tick-size gate. Pure: one instance per instrument, fed that instrument's ticks.
public struct PaperSimulator: Sendable {
    public private(set) var working: [PaperOrder] = []

    public init() {}

    /// Places an order; a MARKET order fills now at `price` (the triggering tick's).
    public mutating func place(_ order: PaperOrder, at price: FixedDecimal, time: Timestamp) -> [PaperFill] {
        if order.type == .market {
            return [PaperFill(orderID: order.orderID, quantity: order.quantity, price: price, time: time)]
        }
        working.append(order)
        return []
    }

    /// Removes a working order; `false` if it was not working (already filled or unknown).
    public mutating func cancel(_ orderID: String) -> Bool {
        guard let index = working.firstIndex(where: { $0.orderID == orderID }) else { return false }
        working.remove(at: index)
        return true
    }

    /// A trade on the instrument: fills every working order it reaches, in placement order.
    public mutating func onTick(price: FixedDecimal, time: Timestamp) -> [PaperFill] {
        var fills: [PaperFill] = []
        var remaining: [PaperOrder] = []
        for var order in working {
            if (order.type == .stopLoss || order.type == .stopLossMarket) && !order.triggered, let trigger = order.triggerPrice {
                let reached = order.side == .buy ? price >= trigger : price <= trigger
                if reached { order.triggered = true }
            }
            switch order.type {
            case .stopLossMarket where order.triggered:
                fills.append(PaperFill(orderID: order.orderID, quantity: order.quantity, price: price, time: time))
                continue
            case .limit, .stopLoss:
                if order.type == .stopLoss && !order.triggered { break }
                guard let limit = order.limitPrice else { break }
                let marketable = order.side == .buy ? price <= limit : price >= limit
                if marketable {
                    fills.append(PaperFill(orderID: order.orderID, quantity: order.quantity, price: limit, time: time))
                    continue
                }
            default:
                break
            }
            remaining.append(order)
        }
        working = remaining
        return fills
    }
}
