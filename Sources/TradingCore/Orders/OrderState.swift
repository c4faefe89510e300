/// An event in an order's life, from the engine, the risk check, the simulator or a gateway.
public enum OrderEvent: Sendable, Equatable {
    /// Risk passed and the venue took it.
    case accepted
    /// Refused (by risk or the venue), with the reason.
    case rejected(reason: String)
    /// An execution of `quantity` at `price`; `executionID` makes a repeated report harmless.
    case filled(executionID: String, quantity: Int64, price: FixedDecimal)
    /// Cancelled (by request, by one-cancels-other, by a halt, or by the venue).
    case cancelled(reason: String)
    /// New quantity and/or prices for a working order.
    case modified(quantity: Int64?, price: FixedDecimal?, triggerPrice: FixedDecimal?)
}

/// Why an event cannot apply.
public struct OrderTransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public let from: OrderStatus
    public let event: String
    public let reason: String

    public var description: String { "\(event) is not allowed in \(from.rawValue): \(reason)" }
}

/// The order lifecycle as a value-type state machine over the `trades.status` set. Applying an
/// event returns what changed (for the order event and the `trade_logs` row); an illegal event
/// throws and leaves the state as it was. Pure: no I/O, no clock.
///
///     PENDING ──accepted──> OPEN ──fill──> PARTIALLY_FILLED ──fill──> FILLED
///        │                   │ │                 │ │
///        └──rejected──> REJECTED                 │ └──cancelled──> CANCELLED
///        └──cancelled──> CANCELLED <─cancelled───┘
///                            OPEN ──fill (all)──> FILLED
public struct OrderState: Sendable, Equatable, Codable {
    public private(set) var status: OrderStatus = .pending
    public private(set) var quantity: Int64
    public private(set) var price: FixedDecimal?
    public private(set) var triggerPrice: FixedDecimal?
    public private(set) var filledQuantity: Int64 = 0
    /// Σ fill quantity × fill price, in 1/10,000 units (exact).
    public private(set) var filledValue: Int128 = 0
    public private(set) var executionIDs: Set<String> = []

    public init(quantity: Int64, price: FixedDecimal? = nil, triggerPrice: FixedDecimal? = nil) {
        precondition(quantity > 0)
        self.quantity = quantity
        self.price = price
        self.triggerPrice = triggerPrice
    }

    public var remainingQuantity: Int64 { quantity - filledQuantity }

    /// The quantity-weighted mean of the fills, rounded half-even to 4 decimals (the column's
    /// scale); `nil` before the first fill.
    public var averagePrice: FixedDecimal? {
        guard filledQuantity > 0 else { return nil }
        return FixedDecimal(units: Int64(divideRoundingHalfEven(filledValue, Int128(filledQuantity))))
    }

    /// What an applied event did.
    public enum Outcome: Sendable, Equatable {
        /// The status changed (and/or quantities or prices did).
        case changed(from: OrderStatus, to: OrderStatus)
        /// A repeated execution report: nothing changed.
        case duplicate
    }

    @discardableResult
    public mutating func apply(_ event: OrderEvent) throws(OrderTransitionError) -> Outcome {
        let from = status
        func refuse(_ name: String, _ reason: String) -> OrderTransitionError {
            OrderTransitionError(from: from, event: name, reason: reason)
        }
        switch event {
        case .accepted:
            guard status == .pending else { throw refuse("accepted", "only a pending order can be accepted") }
            status = .open
        case .rejected:
            guard status == .pending || status == .open else { throw refuse("rejected", "only a pending or open order without fills can be rejected") }
            status = .rejected
        case .cancelled:
            guard !status.isTerminal else { throw refuse("cancelled", "the order is already \(status.rawValue)") }
            status = .cancelled
        case .modified(let newQuantity, let newPrice, let newTrigger):
            guard status == .open || status == .partiallyFilled || status == .pending else {
                throw refuse("modified", "only a working order can be modified")
            }
            if let newQuantity {
                guard newQuantity > filledQuantity else { throw refuse("modified", "quantity \(newQuantity) is not above the filled \(filledQuantity)") }
                quantity = newQuantity
            }
            if let newPrice { price = newPrice }
            if let newTrigger { triggerPrice = newTrigger }
        case .filled(let executionID, let fillQuantity, let fillPrice):
            if executionIDs.contains(executionID) { return .duplicate }
            guard status == .open || status == .partiallyFilled else { throw refuse("filled", "only a working order can fill") }
            guard fillQuantity > 0, fillQuantity <= remainingQuantity else {
                throw refuse("filled", "fill of \(fillQuantity) with \(remainingQuantity) remaining")
            }
            guard fillPrice.units > 0 else { throw refuse("filled", "fill price must be positive") }
            executionIDs.insert(executionID)
            filledQuantity += fillQuantity
            filledValue += Int128(fillQuantity) * Int128(fillPrice.units)
            status = filledQuantity == quantity ? .filled : .partiallyFilled
        }
        return .changed(from: from, to: status)
    }
}
