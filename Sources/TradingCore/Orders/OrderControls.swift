/// The controls exchanges and SEBI expect of algorithmic orders (docs/risk.md), checked before
/// the risk limits: order rates, fat-finger caps, the price band around the last traded price,
/// and the breakers. Zero switches a control off.
public struct OrderControls: Sendable, Equatable {
    public var maxOrdersPerSecondPerUser: Int = 0
    public var maxOrdersPerMinutePerUser: Int = 0
    public var maxOrdersPerSecondPerStrategy: Int = 0
    public var maxOrdersPerMinutePerStrategy: Int = 0
    /// Largest value of one order (quantity x price).
    public var maxOrderValue: FixedDecimal = .zero
    /// Largest quantity of one order.
    public var maxOrderQuantity: Int64 = 0
    /// A LIMIT or trigger price further than this from the last traded price is refused (percent).
    public var priceBandPercent: FixedDecimal = .zero
    /// A strategy whose order messages (new, modify, cancel) exceed this multiple of its intents
    /// is halted, once it has sent `breakerMinimumOrders`.
    public var breakerOrdersPerIntent: Int = 0
    public var breakerMinimumOrders: Int = 0
    /// The exchange-approved algo id carried on every order (and sent to gateways).
    public var algoID: String?
    /// Refuse live orders while `algoID` is unset. Off by default: a broker or exchange that
    /// requires the id refuses the order itself, and the contract's gateways must work with only
    /// the required keys configured.
    public var requireAlgoID = false

    public init() {}

    /// Everything off (the desk's default when constructed bare, as in unit tests).
    public static let none = OrderControls()
}

/// Counts events in the last second and the last minute, per key: a sliding window of
/// timestamps, pruned as it goes.
struct RateWindow: Sendable {
    private var times: [String: [Int64]] = [:]

    /// Events of `key` in (now - window, now].
    func count(_ key: String, now: Timestamp, windowNanoseconds: Int64) -> Int {
        guard let list = times[key] else { return 0 }
        let from = now.nanosecondsSinceEpoch - windowNanoseconds
        var n = 0
        for t in list.reversed() { if t > from { n += 1 } else { break } }
        return n
    }

    mutating func record(_ key: String, now: Timestamp) {
        var list = times[key] ?? []
        let from = now.nanosecondsSinceEpoch - 60_000_000_000
        if let first = list.firstIndex(where: { $0 > from }) { list.removeFirst(first) } else { list.removeAll() }
        list.append(now.nanosecondsSinceEpoch)
        times[key] = list
    }
}
