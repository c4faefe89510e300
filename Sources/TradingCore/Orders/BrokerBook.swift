/// Per live broker account, what a reconciliation compares the broker's account with, beside
/// the working orders (``OrderBook``): the live orders that ended lately, each instrument's net
/// of the engine's fills at the broker today (IST), and what holds the broker's new orders back.
struct BrokerBook: Sendable {
    /// Why a connected live broker's new orders are rejected, most important first.
    enum Hold: Int, Sendable, Comparable, CaseIterable {
        case difference, session, reconciling
        static func < (a: Hold, b: Hold) -> Bool { a.rawValue < b.rawValue }
    }

    /// Live orders that ended (by order id), kept for two days: a broker lists today's orders.
    private(set) var finished: [String: DeskOrder] = [:]
    /// broker -> "SYMBOL|EXCHANGE" -> the net of the engine's fills there on the IST day
    /// `netsDay[broker]` (an instrument traded and flat again stays, at 0: the engine traded it
    /// through the broker). Today's only, as the broker's day positions are: the all-time net
    /// differs from the broker's account as soon as a CNC buy moves to holdings, a contract
    /// expires or a position is closed by hand on an earlier day.
    private var nets: [String: [String: Int64]] = [:]
    private var netsDay: [String: Int64] = [:]
    private var holds: [String: [Hold: String]] = [:]

    mutating func noteFill(broker: String, instrument: String, signed: Int64, day: Int64) {
        if netsDay[broker] != day {
            nets[broker] = [:]
            netsDay[broker] = day
        }
        nets[broker, default: [:]][instrument, default: 0] += signed
    }

    /// The broker's nets on IST day `day` (nothing if the engine has no fill there that day).
    func nets(broker: String, day: Int64) -> [String: Int64] {
        netsDay[broker] == day ? nets[broker] ?? [:] : [:]
    }

    mutating func noteEnded(_ order: DeskOrder) {
        finished[order.orderID] = order
    }

    /// Drops ended orders placed before `cutoff`.
    mutating func prune(before cutoff: Timestamp) {
        finished = finished.filter { $0.value.orderTime >= cutoff }
    }

    /// Restores what was read at start for `broker` (replacing what the book had for it): its
    /// nets on IST day `day`.
    mutating func restore(broker: String, nets: [String: Int64], day: Int64, finished orders: [DeskOrder]) {
        self.nets[broker] = nets
        netsDay[broker] = day
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
