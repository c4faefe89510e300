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
    /// Still to fill (the partial-fill model fills an order over several ticks).
    public var remaining: Int64
    /// With the latency model: the order reaches the venue at this time and trades on no tick
    /// before it.
    public var activeAt: Timestamp?

    public init(orderID: String, side: OrderSide, type: OrderType, quantity: Int64,
                limitPrice: FixedDecimal? = nil, triggerPrice: FixedDecimal? = nil) {
        self.orderID = orderID
        self.side = side
        self.type = type
        self.quantity = quantity
        self.limitPrice = limitPrice
        self.triggerPrice = triggerPrice
        self.triggered = false
        self.remaining = quantity
        self.activeAt = nil
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

/// The optional execution models (configuration `execution.paper.*`); all off by default, which
/// is CONTRACT.md section 5's default model exactly.
public struct PaperModel: Sendable, Equatable {
    /// Market-like fills (MARKET, triggered SL-M) move against the order by this many basis
    /// points of the tick price, rounded half-even to the price column's scale.
    public var slippageBasisPoints: Int64
    /// An order reaches the venue this long after it is placed: it trades on the first tick at
    /// or after that time (a MARKET order at that tick's price, not the triggering one's).
    public var latencyNanoseconds: Int64
    /// At most this quantity of one order fills per tick (0: no limit); the rest waits for the
    /// next ticks, so orders fill partially.
    public var maxFillQuantityPerTick: Int64

    public init(slippageBasisPoints: Int64 = 0, latencyNanoseconds: Int64 = 0, maxFillQuantityPerTick: Int64 = 0) {
        self.slippageBasisPoints = slippageBasisPoints
        self.latencyNanoseconds = latencyNanoseconds
        self.maxFillQuantityPerTick = maxFillQuantityPerTick
    }

    public static let `default` = PaperModel()

    /// `price` moved against a `side` order by the slippage.
    func slipped(_ price: FixedDecimal, _ side: OrderSide) -> FixedDecimal {
        guard slippageBasisPoints != 0 else { return price }
        let delta = divideRoundingHalfEven(Int128(price.units) * Int128(slippageBasisPoints), 10_000)
        // Kept inside the price columns' range (a positive price below 10^14).
        let moved = Int128(price.units) + (side == .buy ? delta : -delta)
        return FixedDecimal(units: Int64(min(max(moved, 1), Int128(FixedDecimal.unitsLimit - 1))))
    }

    func fillQuantity(_ remaining: Int64) -> Int64 {
        maxFillQuantityPerTick > 0 ? min(remaining, maxFillQuantityPerTick) : remaining
    }
}

/// The paper simulator (CONTRACT.md section 5). Default model: a MARKET order fills in full at
/// once at the price of the tick that triggered it; a LIMIT order fills in full when a tick
/// trades at or through its price, at the limit price; SL and SL-M orders trigger when a tick
/// trades at or through `trigger_price` — SL-M then fills at that tick's price, SL becomes a
/// limit order at its `price` (and fills on that same tick if it is marketable). No staleness,
/// session-hour or tick-size gate. ``PaperModel`` adds slippage, latency and partial fills.
/// Pure: one instance per instrument, fed that instrument's ticks.
public struct PaperSimulator: Sendable {
    public private(set) var working: [PaperOrder] = []
    public var model: PaperModel

    public init(model: PaperModel = .default) {
        self.model = model
    }

    /// Places an order at the time of the tick that triggered it (`price`): a MARKET order
    /// fills now at that price unless the latency model holds it back.
    public mutating func place(_ order: PaperOrder, at price: FixedDecimal, time: Timestamp) -> [PaperFill] {
        var order = order
        if model.latencyNanoseconds > 0 {
            order.activeAt = Timestamp(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch &+ model.latencyNanoseconds)
            working.append(order)
            return []
        }
        if order.type == .market {
            let quantity = model.fillQuantity(order.remaining)
            let fill = PaperFill(orderID: order.orderID, quantity: quantity, price: model.slipped(price, order.side), time: time)
            order.remaining -= quantity
            if order.remaining > 0 { working.append(order) }
            return [fill]
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

    /// Changes a working order's quantity (the total ordered) and prices; `false` if it is not
    /// working or the new quantity is not above what already filled.
    public mutating func modify(_ orderID: String, quantity: Int64?, limitPrice: FixedDecimal?, triggerPrice: FixedDecimal?) -> Bool {
        guard let index = working.firstIndex(where: { $0.orderID == orderID }) else { return false }
        var order = working[index]
        if let quantity {
            let filled = order.quantity - order.remaining
            guard quantity > filled else { return false }
            order.remaining = quantity - filled
            order.quantity = quantity
        }
        if let limitPrice { order.limitPrice = limitPrice }
        if let triggerPrice { order.triggerPrice = triggerPrice }
        working[index] = order
        return true
    }

    /// A trade on the instrument: fills every working order it reaches, in placement order.
    public mutating func onTick(price: FixedDecimal, time: Timestamp) -> [PaperFill] {
        var fills: [PaperFill] = []
        var remaining: [PaperOrder] = []
        for var order in working {
            if let activeAt = order.activeAt, time < activeAt {
                remaining.append(order)
                continue
            }
            if (order.type == .stopLoss || order.type == .stopLossMarket) && !order.triggered, let trigger = order.triggerPrice {
                let reached = order.side == .buy ? price >= trigger : price <= trigger
                if reached { order.triggered = true }
            }
            var fillPrice: FixedDecimal?
            switch order.type {
            case .market:
                fillPrice = model.slipped(price, order.side)
            case .stopLossMarket where order.triggered:
                fillPrice = model.slipped(price, order.side)
            case .limit, .stopLoss:
                if order.type == .stopLoss && !order.triggered { break }
                guard let limit = order.limitPrice else { break }
                let marketable = order.side == .buy ? price <= limit : price >= limit
                if marketable { fillPrice = limit }
            default:
                break
            }
            if let fillPrice {
                let quantity = model.fillQuantity(order.remaining)
                fills.append(PaperFill(orderID: order.orderID, quantity: quantity, price: fillPrice, time: time))
                order.remaining -= quantity
                if order.remaining == 0 { continue }
            }
            remaining.append(order)
        }
        working = remaining
        return fills
    }
}
