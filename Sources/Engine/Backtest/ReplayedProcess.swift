import Foundation
import TradingCore

/// The engine's side of a strategy process in a lock-step replay: what the strategy socket
/// keeps per process live (the last tick of each instrument delivered to it, its client order
/// ids, its filled position), the messages waiting to be delivered, and its requests turned
/// into the desk's operations. The replay queues a tick, then the events the desk made, then
/// the bars the tick closed; `drain` hands them over one at a time, and the orders the process
/// sent while handling one are applied at it, before the next.
final class ReplayedProcess {
    /// A request, checked as live, for the replay's desk.
    enum Action {
        case submit(OrderIntent)
        case cancel(orderID: String)
        case modify(orderID: String, quantity: Int64?, price: FixedDecimal?, triggerPrice: FixedDecimal?)
    }

    let process: LockStepProcess
    private var entry: StrategyServer.Entry { process.entry }
    var strategyID: String { entry.identity.strategyID }
    private let declared: Set<String>
    private var lastTicks: [String: (price: FixedDecimal, time: Timestamp)] = [:]
    private var clientOrders: [String: String] = [:]
    private var usedClientOrderIDs: Set<String> = []
    private var positions: [String: Int64] = [:]
    /// Messages to deliver; a tick's carries its instrument and price, which become the
    /// process's last tick when it is delivered (not when queued: the ticks of one instant are
    /// queued together, and an order answering the first fills at the first).
    private var outbox: [(topic: String, payload: [UInt8], answered: Bool, tick: (key: String, price: FixedDecimal, time: Timestamp)?)] = []
    private var outboxStart = 0
    /// The replay's own event numbering (the bus's `seq` has no meaning in a replay).
    private var seq: Int64 = 0

    init(_ process: LockStepProcess) {
        self.process = process
        declared = Set(process.entry.config.instruments.map { StrategyServer.key($0.symbol, $0.exchange) })
    }

    func queue(tick: Tick) {
        let key = StrategyServer.key(tick.symbol, tick.exchange)
        guard declared.contains(key) else { return }
        var payload: [UInt8] = []
        TickJSONEncoder.append(tick, to: &payload)
        outbox.append(("tick", payload, true, (key, tick.price, tick.timestamp)))
    }

    func queue(bars: [Bar]) {
        for bar in bars where entry.config.intervals.contains(bar.interval) && declared.contains(StrategyServer.key(bar.symbol, bar.exchange)) {
            outbox.append(("bar", StrategySessions.bar(bar).bytes, true, nil))
        }
    }

    /// The desk's events of this strategy, as the strategy socket sends them: a position
    /// message just before each fill, and `client_order_id` on each.
    func queue(events: [BusEvent]) {
        for event in events where event.order.intent.strategyID == strategyID {
            let intent = event.order.intent
            if let client = intent.clientOrderID { clientOrders[client] = event.order.orderID }
            let key = StrategyServer.key(intent.symbol, intent.exchange)
            if event.kind == .fill, let quantity = event.fillQuantity, quantity != 0 {
                positions[key, default: 0] += intent.side == .buy ? quantity : -quantity
                outbox.append(("position", StrategySessions.position(symbol: intent.symbol, exchange: intent.exchange,
                                                                     quantity: positions[key] ?? 0), false, nil))
            }
            seq += 1
            outbox.append((event.kind.rawValue, StrategySessions.withClientOrderID(event.json(seq: seq), intent.clientOrderID), true, nil))
        }
    }

    /// Delivers what is queued, one message at a time, until nothing is: `act` applies each
    /// request at the event it answered (its records come back through `queue(events:)`) and
    /// returns why the desk refused it, if it did (a modify: the process gets an `error`).
    func drain(_ act: (Action) throws -> String?) throws {
        while outboxStart < outbox.count {
            let message = outbox[outboxStart]
            outboxStart += 1
            // Delivered before anything it could cause is applied: its orders fill at it.
            if let tick = message.tick { lastTicks[tick.key] = (tick.price, tick.time) }
            guard message.answered else {
                process.tell(message.topic, message.payload)
                continue
            }
            for request in try process.deliver(message.topic, message.payload) {
                try handle(request, act)
            }
        }
        outbox.removeAll(keepingCapacity: true)
        outboxStart = 0
    }

    private func handle(_ request: StrategyRequest, _ act: (Action) throws -> String?) throws {
        switch request {
        case .order(let order):
            let last = lastTicks[StrategyServer.key(order.symbol, order.exchange)]
            if let why = StrategyScope.refusal(of: order, by: entry.identity, declared: entry.config,
                                               clientOrderIDUsed: usedClientOrderIDs.contains(order.clientOrderID), tickDelivered: last != nil) {
                process.refuse(why, clientOrderID: order.clientOrderID)
                return
            }
            guard let last else { return }
            usedClientOrderIDs.insert(order.clientOrderID)
            _ = try act(.submit(order.intent(identity: entry.identity, lastTick: last)))
        case .cancel(let client):
            guard let orderID = clientOrders[client] else {
                process.refuse("unknown client_order_id \(client)", clientOrderID: client)
                return
            }
            _ = try act(.cancel(orderID: orderID))
        case .modify(let client, let quantity, let price, let trigger):
            guard let orderID = clientOrders[client] else {
                process.refuse("unknown client_order_id \(client)", clientOrderID: client)
                return
            }
            if let why = try act(.modify(orderID: orderID, quantity: quantity, price: price, triggerPrice: trigger)) {
                process.refuse("modify refused: \(why)", clientOrderID: client)
            }
        case .log(let text):
            FileHandle.standardError.write(Data("strategy \(entry.identity.name): \(text)\n".utf8))
        case .hello, .heartbeat, .done:
            break
        }
    }
}
