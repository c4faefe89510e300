/// `trades.product`: how the broker margins the position.
public enum Product: String, Sendable, Equatable, Codable, CaseIterable {
    /// Intraday: squared off automatically before the close.
    case mis = "MIS"
    /// Cash and carry: equity delivery.
    case cnc = "CNC"
    /// Normal: overnight F&O and commodity positions.
    case nrml = "NRML"
}

/// `trades.validity`: how long an order works.
public enum Validity: String, Sendable, Equatable, Codable, CaseIterable {
    /// Until filled, cancelled, or the end of the exchange's session.
    case day = "DAY"
    /// Immediate or cancel: what does not fill at once is cancelled.
    case ioc = "IOC"
}
