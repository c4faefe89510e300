/// Per live broker account, what a reconciliation compares the broker's account with, beside
/// the working orders (``OrderBook``): the live orders that ended lately, each instrument's net
/// of the engine's fills at the broker, and what holds the broker's new orders back.
struct BrokerBook: Sendable {
    /// Why a connected live broker's new orders are rejected, most important first.
    enum Hold: Int, Sendable, Comparable, CaseIterable {
        case difference, session, reconciling
        static func < (a: Hold, b: Hold) -> Bool { a.rawValue < b.rawValue }
    }

    /// Live orders that ended (by order id), kept for two days: a broker lists today's orders.
    private(set) var finished: [String: DeskOrder] = [:]
    /// broker -> "SYMBOL|EXCHANGE" -> the net of the engine's fills there (an instrument traded
    /// and flat again stays, at 0: the engine traded it through the broker).
    private(set) var nets: [String: [String: Int64]] = [:]
    private var holds: [String: [Hold: String]] = [:]

    mutating func noteFill(broker: String, instrument: String, signed: Int64) {
        nets[broker, default: [:]][instrument, default: 0] += signed
    }

    mutating func noteEnded(_ order: DeskOrder) {
        finished[order.orderID] = order
    }

    /// Drops ended orders placed before `cutoff`.
    mutating func prune(before cutoff: Timestamp) {
        finished = finished.filter { $0.value.orderTime >= cutoff }
    }

    /// Restores what was read at start for `broker` (replacing what the book had for it).
    mutating func restore(broker: String, nets: [String: Int64], finished orders: [DeskOrder]) {
        self.nets[broker] = nets
        for order in orders { finished[order.orderID] = order }
    }

    mutating func set(_ hold: Hold, _ reason: String?, broker: String) {
        holds[broker, default: [:]][hold] = reason
        if holds[broker]?.isEmpty == true { holds[broker] = nil }
    }

    /// The reason the broker's new orders are rejected now, if any.
    func holdReason(_ broker: String) -> String? {
        holds[broker].flatMap { held in held.keys.min().flatMap { held[$0] } }
    }

    func isHeld(_ broker: String, _ hold: Hold) -> Bool { holds[broker]?[hold] != nil }
}
