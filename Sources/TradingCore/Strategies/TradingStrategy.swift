/// Who runs a strategy and where its orders go.
public struct StrategyIdentity: Sendable, Equatable {
    public var strategyID: String
    public var userID: String
    public var name: String
    public var brokerID: String?

    public init(strategyID: String, userID: String, name: String, brokerID: String?) {
        self.strategyID = strategyID
        self.userID = userID
        self.name = name
        self.brokerID = brokerID
    }
}

/// A trading strategy: pure logic, no I/O. It receives the ticks of its instrument and the closed
/// bars of the intervals it asks for, with its current position, and returns order intents. Its
/// state is its own; the engine calls it from one serial queue, in order, never concurrently.
public protocol TradingStrategy: AnyObject {
    var identity: StrategyIdentity { get }
    var symbol: String { get }
    var exchange: String { get }
    /// Bar intervals whose closed bars it wants (may be empty).
    var barIntervals: Set<BarInterval> { get }

    func onTick(_ tick: Tick, position: Int64) throws -> [OrderIntent]
    func onBar(_ bar: Bar, position: Int64) throws -> [OrderIntent]

    /// Indicator values to store with a closed bar (`indicator_values`), by indicator name.
    func indicatorValues(for bar: Bar) -> [String: [String: Double]]
}

extension TradingStrategy {
    public func onBar(_ bar: Bar, position: Int64) throws -> [OrderIntent] { [] }
    public func indicatorValues(for bar: Bar) -> [String: [String: Double]] { [:] }

    func intent(_ side: OrderSide, quantity: Int64, price: FixedDecimal, time: Timestamp, reason: String) -> OrderIntent {
        OrderIntent(strategyID: identity.strategyID, userID: identity.userID, brokerID: identity.brokerID, symbol: symbol,
                    exchange: exchange, side: side, type: .market, quantity: quantity, referencePrice: price, time: time, reason: reason)
    }
}
