/// `trades.status`: an order's place in its lifecycle.
public enum OrderStatus: String, Sendable, CaseIterable, Hashable, Codable {
    case pending = "PENDING"
    case open = "OPEN"
    case partiallyFilled = "PARTIALLY_FILLED"
    case filled = "FILLED"
    case cancelled = "CANCELLED"
    case rejected = "REJECTED"

    /// No further change is possible.
    public var isTerminal: Bool { self == .filled || self == .cancelled || self == .rejected }
}
