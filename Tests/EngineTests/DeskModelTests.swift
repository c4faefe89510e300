import Engine
import Foundation
import Logging
import Postgres
import Storage
import Synchronization
import TestSupport
import Testing
import TradingCore

/// A long-only strategy that trades at random: flat, it may buy (sometimes with a stoploss and a
/// target, whose bracket the engine places); long, it may sell its whole position. It records
/// the position it is told on each tick, for the model test to compare with the desk's.
final class RandomLongOnlyStrategy: TradingStrategy, Sendable {
    let identity: StrategyIdentity
    let symbol: String
    let exchange = "NSE"
    var barIntervals: Set<BarInterval> { [] }
    private let rng: Mutex<SplitMix64>
    /// (tick time, position told) for each tick.
    let told = Mutex<[(Timestamp, Int64)]>([])

    init(identity: StrategyIdentity, symbol: String, seed: UInt64) {
        self.identity = identity
        self.symbol = symbol
        rng = Mutex(SplitMix64(seed: seed))
    }

    func onTick(_ tick: Tick, position: Int64) throws -> [OrderIntent] {
        told.withLock { $0.append((tick.timestamp, position)) }
        let roll = rng.withLock { Int($0.next() % 100) }
        func intent(_ side: OrderSide, _ quantity: Int64, bracket: Bool) -> OrderIntent {
            var i = OrderIntent(strategyID: identity.strategyID, userID: identity.userID, brokerID: identity.brokerID, symbol: symbol,
                                exchange: exchange, side: side, quantity: quantity, referencePrice: tick.price, time: tick.timestamp,
                                reason: "random")
            if bracket {
                i.stoploss = FixedDecimal(units: tick.price.units - 20_000)
                i.target = FixedDecimal(units: tick.price.units + 20_000)
            }
            return i
        }
        if position == 0 && roll < 25 { return [intent(.buy, 10, bracket: roll < 8)] }
        if position > 0 && roll < 15 { return [intent(.sell, position, bracket: false)] }
        return []
    }
}

/// Model-based test of the desk and the strategies' view of it (issue 16): random sequences of
/// ticks, intents, halts and resumes (users and strategies), flattens, operator cancels and
/// modifies of bracket orders, strategy loss halts, the MIS square-off and day starts, a live
/// broker's reports (acceptances, rejections, whole, partial and repeated fills, cancels and
/// modifies it was asked for), funds, and restarts against PostgreSQL; after every step the
/// invariants that keep one truth must hold. The seed is in every message.
@Suite("One truth for orders and positions: random sequences against the invariants")
struct DeskModelTests {
    static let symbols = ["AAA", "BBB", "CCC"]

    /// Who trades: in process any names do; against PostgreSQL they are rows of its own.
    struct Ids {
        var users = ["u1", "u2"]
        var strategy: (String, String) -> String = { user, symbol in "s-\(user)-\(symbol)" }
        var broker: (String) -> String = { user in "b-\(user)" }
    }

    /// Where the desk's records go when the sequence runs against PostgreSQL, and how a restart
    /// reads the desk back (as `serve` does at start).
    struct Database {
        let url: String
        let store: OrderRoundStore
        let db: PostgresConnection
    }

    @Test func randomSequencesKeepEveryInvariant() {
        // DESK_MODEL_SEED=N runs one sequence (with DESK_MODEL_TRACE=1, printing every event).
        if let one = ProcessInfo.processInfo.environment["DESK_MODEL_SEED"].flatMap(UInt64.init) {
            _ = run(seed: one, steps: 200)
            return
        }
        let sequences = Int(ProcessInfo.processInfo.environment["DESK_MODEL_SEQUENCES"] ?? "") ?? 2_000
        for seed in 1...UInt64(sequences) where !run(seed: seed, steps: 200) { break }
    }

    /// The same against PostgreSQL, with restarts: every round stored as the event writer stores
    /// it, and a restart reading the desk back as `serve` does (positions, the day's results,
    /// working orders, strategies told what they hold).
    @Test func randomSequencesWithRestartsKeepEveryInvariantInPostgreSQL() throws {
        let sequences = Int(ProcessInfo.processInfo.environment["DESK_MODEL_DB_SEQUENCES"] ?? "") ?? 20
        for seed in 1...UInt64(sequences) {
            let url = try TestDatabase.makeMigrated()
            let db = try TestDatabase.connect(url)
            var ids = Ids()
            var strategyIDs: [String: String] = [:], brokers: [String: String] = [:]
            ids.users = []
            for name in ["m1", "m2"] {
                let rows = try SampleRows.userStrategyBrokerTrade(db, username: name)
                try db.query("DELETE FROM trades WHERE trade_id = $1::uuid", [rows.tradeID])
                try db.query("DELETE FROM strategies WHERE strategy_id = $1::uuid", [rows.strategyID])
                ids.users.append(rows.userID)
                brokers[rows.userID] = rows.brokerID
                for symbol in Self.symbols {
                    strategyIDs[rows.userID + symbol] = try db.query("""
                        INSERT INTO strategies (user_id, name, strategy_type, parameters) VALUES ($1::uuid, $2, 'random', '{}') RETURNING strategy_id::text
                        """, [rows.userID, "random-\(symbol)"]).scalar!
                }
            }
            ids.strategy = { [strategyIDs] user, symbol in strategyIDs[user + symbol]! }
            ids.broker = { [brokers] user in brokers[user]! }
            let store = OrderRoundStore(connectionString: url)
            defer { store.close() }
            guard run(seed: seed, steps: 200, ids: ids, database: Database(url: url, store: store, db: db)) else { break }
        }
    }

    /// One sequence; false (after recording why) when an invariant broke.
    func run(seed: UInt64, steps: Int, ids: Ids = Ids(), database: Database? = nil) -> Bool {
        var rng = SplitMix64(seed: seed)
        func roll(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let sink = CollectingSink()
        var pipeline = StrategyPipeline(shardCount: 1, calendar: .standard, graceNanoseconds: 0, sink: sink, logger: Logger(label: "t"))
        var strategies: [String: RandomLongOnlyStrategy] = [:]
        var generation: UInt64 = 0
        /// The strategies (new objects after a restart, told what they hold) on a new pipeline.
        func startStrategies(initial: [String: Int64]) {
            var specs: [StrategySpec] = []
            strategies = [:]
            for (u, user) in ids.users.enumerated() {
                for (s, symbol) in Self.symbols.enumerated() {
                    let id = ids.strategy(user, symbol)
                    strategies[id] = RandomLongOnlyStrategy(identity: StrategyIdentity(strategyID: id, userID: user, name: id, brokerID: ids.broker(user)),
                                                            symbol: symbol, seed: seed &* 31 &+ UInt64(u * 7 + s) &+ generation &* 1_000)
                    specs.append(StrategySpec(identity: strategies[id]!.identity, type: "random", parameters: StrategyParameters([:]),
                                              initialPosition: initial[id] ?? 0))
                }
            }
            let current = strategies
            pipeline.apply(specs) { spec in current[spec.identity.strategyID]! }
        }
        startStrategies(initial: [:])
        var desk = TradingDesk(ids: UUIDv7Generator(seed: seed))
        if roll(2) == 0 { desk.chargeSchedule = .zerodha }
        // Half the sequences trade paper accounts with a starting capital small enough for the
        // funds check to refuse entries (10 shares at about 100 block 200 under MIS).
        let capital: Int128? = roll(2) == 0 ? Int128(300 + roll(700)) * 10_000 : nil
        if let capital { desk.funds = Funds(paperCapital: capital) }
        // Half the sequences give the second user a live broker account: its orders go to a
        // gateway (the model's broker below) and come back as reports, late, partial, repeated.
        let liveBroker: String? = roll(2) == 0 ? ids.broker(ids.users[1]) : nil
        if let liveBroker {
            desk.liveBrokers = [liveBroker]
            desk.setConnectedBrokers([liveBroker])
        }
        /// What the model's broker was asked per order: a cancel, a new size; its exec ids.
        var asked: [String: (cancel: Bool, size: Int64?)] = [:]
        var execIDs: [String: [(id: String, quantity: Int64)]] = [:]
        for user in ids.users {
            desk.riskSettings[user] = RiskSettings(dailyLossLimit: FixedDecimal(Int64(200 + roll(2_000))), maxPositionSize: FixedDecimal(10_000_000),
                                                   maxDrawdownPercent: FixedDecimal(99), maxRiskPerTrade: FixedDecimal(100))
        }
        for id in strategies.keys where roll(3) == 0 { desk.strategyPolicies[id] = StrategyOrderPolicy(maxLoss: FixedDecimal(Int64(50 + roll(300)))) }
        var time = Timestamp.parseRFC3339("2026-11-24T14:50:00+05:30")!
        _ = desk.advance(to: time)
        var prices = Dictionary(uniqueKeysWithValues: Self.symbols.map { ($0, Int64(1_000_000 + roll(1_000) * 100)) })
        var haltedUsers: Set<String> = []
        var lastRow: [String: DeskOrder] = [:], lastEvent: [String: DeskOrder] = [:]
        var fills: [String: Int64] = [:]  // user|symbol -> signed filled quantity
        /// Every fill as published, for the folds of day P&L and cash: its IST day, signed
        /// quantity, price and charges (the growth of its order's cumulative charges).
        var fillLog: [(user: String, symbol: String, day: Int64, quantity: Int64, price: Int64, charges: Int64)] = []
        var chargesSeen: [String: Int64] = [:]
        /// Symbols the desk has a traded price for (a restarted desk has none until a tick).
        var priced: Set<String> = []
        var lastFunds: [String: (cash: Int128, blocked: Int128)] = [:]
        /// Per user: shares restored at restarts. A restored position's cost is its rounded
        /// average price, so what it realizes later may differ by up to half a unit a share.
        var restoredQuantity: [String: Int128] = [:]
        var problem: String?

        let trace = ProcessInfo.processInfo.environment["DESK_MODEL_TRACE"] != nil
        func take(_ records: [DeskRecord]) {
            var events: [BusEvent] = []
            for record in records {
                if trace, case .event(let e) = record {
                    let i = e.order.intent
                    print("  \(e.kind == .fill ? "fill \(e.fillQuantity ?? 0)" : "order \(e.order.state.status)") \(i.strategyID) \(i.side) \(i.quantity) "
                          + "parent=\(e.order.parentOrderID != nil) engine=\(i.placedByEngine) reason=\(e.order.reason ?? i.reason)")
                }
                switch record {
                case .order(let order): lastRow[order.orderID] = order
                case .gatewayRequest(let request):
                    switch request.kind {
                    case .new: asked[request.order.orderID] = asked[request.order.orderID] ?? (false, nil)
                    case .cancel: asked[request.order.orderID, default: (false, nil)].cancel = true
                    case .modify: asked[request.order.orderID, default: (false, nil)].size = request.quantity
                    }
                case .event(let event):
                    events.append(event)
                    if event.kind == .order { lastEvent[event.order.orderID] = event.order }
                    if event.kind == .fill {
                        let i = event.order.intent
                        let signed = (i.side == .buy ? 1 : -1) * (event.fillQuantity ?? 0)
                        fills["\(i.userID)|\(i.symbol)", default: 0] += signed
                        let charged = event.order.charges ?? 0
                        // A fill counts in the clock's day, or its own when later (an old tick's
                        // fill counts today), as the desk counts it.
                        let day = max(SessionCalendar.istDay(event.time), SessionCalendar.istDay(time))
                        fillLog.append((i.userID, i.symbol, day, signed, event.fillPrice?.units ?? 0,
                                        charged - chargesSeen[event.order.orderID, default: 0]))
                        chargesSeen[event.order.orderID] = charged
                        lastEvent[event.order.orderID] = event.order
                    }
                default: break
                }
            }
            if !events.isEmpty { pipeline.ordersUpdated(events) }
            if let database, !records.isEmpty {
                do {
                    try database.store.apply(OrderRound(records: records, firstSeq: try database.store.nextSeq(),
                                                        roundID: UUID().uuidString.lowercased()), deduplicate: false)
                } catch {
                    problem = "storing a round: \(error)"
                }
            }
        }

        func restart(_ database: Database) throws {
            pipeline.drain()
            pipeline.stop()
            generation += 1
            if trace { print("restart \(generation)") }
            let db = database.db
            var next = TradingDesk(ids: UUIDv7Generator(seed: seed &+ generation &* 7_919))
            next.chargeSchedule = desk.chargeSchedule
            next.riskSettings = desk.riskSettings
            next.strategyPolicies = desk.strategyPolicies
            next.funds = Funds(paperCapital: desk.funds.paperCapital, schedule: desk.funds.schedule)
            next.liveBrokers = desk.liveBrokers
            next.setConnectedBrokers(desk.connectedBrokers)
            _ = next.advance(to: time)
            next.restoreDay(try StrategyDayStore.load(db, day: SessionCalendar.istDay(time)))
            for (broker, amount) in try FundsStore.settled(db) { next.funds.restore(broker: broker, settled: amount) }
            priced = []
            for p in try OpenPositionStore.load(db) {
                next.restore(p)
                restoredQuantity[p.userID, default: 0] += Int128(p.quantity.magnitude)
            }
            let catalog = StrategyCatalog(connectionString: database.url)
            defer { catalog.close() }
            let initial = Dictionary(try catalog.load().map { ($0.identity.strategyID, $0.position) }, uniquingKeysWith: { a, _ in a })
            pipeline = StrategyPipeline(shardCount: 1, calendar: .standard, graceNanoseconds: 0, sink: sink, logger: Logger(label: "t"))
            startStrategies(initial: initial)
            let halted = desk.haltedStrategies  // in the daemon, the halts table
            desk = next
            take(desk.setHalts(users: haltedUsers, engine: false, time: time))
            take(desk.setHaltedStrategies(halted, time: time))
            take(desk.restoreWorking(try WorkingOrderStore.load(db), time: time))
            pipeline.drain()
        }

        /// The day's loss and the funds against folds of the published fills (nil when they hold).
        func moneyProblem(step: Int, restarted: Bool, firstFill: Int) -> String? {
            let today = SessionCalendar.istDay(time)
            for user in ids.users {
                // Day P&L: today's fills' cash flows and charges, plus what is held at the last
                // prices; checked when the user held nothing at the day's start (a position
                // carried overnight counts from its average price, which the model does not keep)
                // and every holding is priced. Rounding of a restored average price is allowed.
                var flat = true, marked = true, settledFlat = true
                var value: Int128 = 0, tolerance: Int128 = 0
                for symbol in Self.symbols {
                    let held = fills["\(user)|\(symbol)", default: 0]
                    let todays = fillLog.reduce(Int64(0)) { $0 + ($1.user == user && $1.symbol == symbol && $1.day == today ? $1.quantity : 0) }
                    if held != todays { flat = false }
                    if held != 0 { settledFlat = false }
                    if held != 0 && !priced.contains(symbol) { marked = false }
                    value += Int128(held) * Int128(prices[symbol]!)
                    tolerance += Int128(held.magnitude)
                }
                var flow: Int128 = 0, charges: Int128 = 0, allFlow: Int128 = 0, allCharges: Int128 = 0
                for f in fillLog where f.user == user {
                    allFlow -= Int128(f.quantity) * Int128(f.price)
                    allCharges += Int128(f.charges)
                    if f.day == today {
                        flow -= Int128(f.quantity) * Int128(f.price)
                        charges += Int128(f.charges)
                    }
                }
                if flat && marked {
                    let expected = flow + value - charges, actual = desk.dayPnL(userID: user, at: time)
                    if (expected - actual).magnitude > (tolerance + restoredQuantity[user, default: 0]).magnitude {
                        return "step \(step): \(user)'s day P&L is \(actual) on the desk, the fold of today's fills gives \(expected)"
                    }
                }
                // Funds: flat, the cash is the capital plus every fill's cash flow less charges;
                // margin grows only by orders the cash covered (a step's own charges aside).
                guard let capital, let now = desk.fundsInUse(broker: ids.broker(user), live: ids.broker(user) == liveBroker) else { continue }
                if settledFlat && (now.cash - (capital + allFlow - allCharges)).magnitude > restoredQuantity[user, default: 0].magnitude {
                    return "step \(step): \(user)'s cash is \(now.cash), capital and fills give \(capital + allFlow - allCharges)"
                }
                let stepCharges = fillLog[firstFill...].reduce(Int128(0)) { $0 + ($1.user == user ? Int128($1.charges) : 0) }
                if let before = lastFunds[user], !restarted, now.blocked > before.blocked, now.blocked > max(now.cash + stepCharges, before.cash) {
                    return "step \(step): \(user)'s margin grew to \(now.blocked) beyond the cash \(now.cash) (was \(before.cash))"
                }
                lastFunds[user] = now
            }
            return nil
        }

        for step in 0..<steps where problem == nil {
            let action = roll(23)
            let firstFill = fillLog.count
            if trace { print("step \(step) action \(action) time \(time)") }
            switch action {
            case 0...11:  // a tick: the desk's clock and venues, then the strategies, then their intents
                time = time.adding(nanoseconds: Int64(1 + roll(roll(10) == 0 ? 3_600 : 90)) * 1_000_000_000)
                let symbol = Self.symbols[roll(Self.symbols.count)]
                prices[symbol]! += Int64(roll(41) - 20) * 500
                // Now and then a tick stamped a day earlier (accepted: any age within the window);
                // what it fills counts in today's figures.
                let stamp = roll(25) == 0 ? time.adding(nanoseconds: -86_400_000_000_000) : time
                let tick = Tick(symbol: symbol, exchange: "NSE", timestamp: stamp, price: FixedDecimal(units: prices[symbol]!), quantity: 1)
                priced.insert(symbol)
                take(desk.advance(to: time))
                take(desk.onTick(tick))
                pipeline.drain()  // the fills reach the strategies before they see the tick
                // What each strategy of this symbol must be told: the desk's position.
                var expected: [String: Int64] = [:]
                // The desk's position plus what its own orders still working will add (a live
                // order is PENDING until its gateway reports): the position it will have, so a
                // second signal before the fill is not a second order.
                for user in ids.users {
                    let id = ids.strategy(user, symbol)
                    expected[id] = desk.workingOrderIDs.compactMap(desk.workingOrder).reduce(desk.position(userID: user, symbol: symbol, exchange: "NSE")) {
                        let i = $1.intent
                        guard i.strategyID == id, $1.parentOrderID == nil, !i.placedByEngine else { return $0 }
                        return $0 + (i.side == .buy ? 1 : -1) * $1.state.remainingQuantity
                    }
                }
                let before = sink.intentsSeen.withLock { $0.count }
                pipeline.submit([tick])
                pipeline.drain()
                for (id, position) in expected {
                    guard let last = strategies[id]!.told.withLock({ $0.last }), last.0 == tick.timestamp else { continue }
                    if last.1 != position { problem = "\(id) was told \(last.1), the desk holds \(position)" }
                }
                let intents = sink.intentsSeen.withLock { Array($0[before...]) }
                for intent in intents { take(desk.submit(intent, now: time)) }
                pipeline.drain()
            case 12:
                let user = ids.users[roll(2)]
                if haltedUsers.contains(user) { haltedUsers.remove(user) } else { haltedUsers.insert(user) }
                take(desk.setHalts(users: haltedUsers, engine: false, time: time))
            case 13:
                // An operator's strategy halt or resume (the loss halts the desk raised are in the set too).
                let id = strategies.keys.sorted()[roll(strategies.count)]
                var halted = desk.haltedStrategies
                if halted.contains(id) { halted.remove(id) } else { halted.insert(id) }
                take(desk.setHaltedStrategies(halted, time: time))
            case 14:
                take(desk.flatten(userID: ids.users[roll(2)], time: time).1)
            case 15, 16:
                let working = desk.workingOrderIDs
                if !working.isEmpty { take(desk.cancel(orderID: working[roll(working.count)], reason: "operator", time: time)) }
            case 17:
                let working = desk.workingOrderIDs
                if !working.isEmpty, let order = desk.workingOrder(working[roll(working.count)]) {
                    let shift = Int64(roll(5) + 1) * 500
                    take(desk.modify(orderID: order.orderID, quantity: nil, price: order.state.price.map { FixedDecimal(units: $0.units + shift) },
                                     triggerPrice: order.state.triggerPrice.map { FixedDecimal(units: $0.units - shift) }, time: time))
                }
            case 20...22 where liveBroker != nil:
                // The broker answers one of its orders: a cancel or a modify asked for, or an
                // acceptance, a rejection, or a fill (whole or partial, sometimes repeated).
                let live = desk.workingOrderIDs.filter { desk.workingOrder($0)?.intent.brokerID == liveBroker }
                guard !live.isEmpty else { break }
                let orderID = live[roll(live.count)]
                let order = desk.workingOrder(orderID)!
                var report = GatewayReport(kind: .accepted, reportID: "r\(seed)-\(step)", orderID: orderID, time: time)
                if asked[orderID]?.cancel == true {
                    report.kind = .cancelled
                } else if let size = asked[orderID]?.size, roll(2) == 0 {
                    report.kind = .modified
                    report.quantity = size
                    asked[orderID]?.size = nil
                } else {
                    switch roll(6) {
                    case 0: report.kind = .accepted
                    case 1: report.kind = .rejected
                        report.reason = "RMS: margin exceeds"
                    default:
                        report.kind = .fill
                        if let seen = execIDs[orderID]?.last, roll(4) == 0 {
                            report.execID = seen.id  // a report the gateway sent twice
                            report.quantity = seen.quantity
                        } else {
                            let remaining = order.state.remainingQuantity
                            report.execID = "x\(seed)-\(step)"
                            report.quantity = roll(2) == 0 ? remaining : 1 + Int64(roll(Int(remaining)))
                            execIDs[orderID, default: []].append((report.execID!, report.quantity!))
                        }
                        report.price = order.state.price ?? FixedDecimal(units: prices[order.intent.symbol]!)
                    }
                }
                take(desk.onGatewayReport(report, servedBrokers: [liveBroker!]).records)
            case 19 where database != nil:  // a restart: the desk and the strategies read back as serve does
                do {
                    try restart(database!)
                } catch {
                    problem = "restart: \(error)"
                }
            default:  // time passes with no tick (crossing 15:20 squares off MIS; midnight starts a day)
                time = time.adding(nanoseconds: Int64(60 + roll(7_200)) * 1_000_000_000)
                take(desk.advance(to: time))
            }
            pipeline.drain()
            if problem != nil { problem = "step \(step): " + problem!; break }
            for user in ids.users {
                for symbol in Self.symbols {
                    let held = desk.position(userID: user, symbol: symbol, exchange: "NSE")
                    if held < 0 && ids.broker(user) != liveBroker { problem = "step \(step): \(user) is short \(held) \(symbol) though every strategy is long-only" }
                    if held != fills["\(user)|\(symbol)", default: 0] {
                        problem = "step \(step): \(user) \(symbol) holds \(held), its fills add up to \(fills["\(user)|\(symbol)", default: 0])"
                    }
                }
            }
            if problem == nil { problem = moneyProblem(step: step, restarted: action == 19 && database != nil, firstFill: firstFill) }
            for (orderID, row) in lastRow {
                guard let event = lastEvent[orderID] else { problem = "step \(step): order \(orderID) stored, never published"; break }
                if row.state.status != event.state.status || row.state.filledQuantity != event.state.filledQuantity {
                    problem = "step \(step): order \(orderID) stored \(row.state.status) \(row.state.filledQuantity), published \(event.state.status) \(event.state.filledQuantity)"
                }
            }
        }
        pipeline.stop()
        if let database, problem == nil {
            // Nothing published is missing from PostgreSQL, and what it holds is what the desk holds.
            do {
                let stored = try database.db.query("SELECT order_id, status, filled_quantity FROM trades WHERE order_id IS NOT NULL").rows
                    .reduce(into: [String: (String, Int64)]()) { $0[$1[0]!] = ($1[1] ?? "", Int64($1[2] ?? "0") ?? 0) }
                for (orderID, event) in lastEvent where stored[orderID]?.0 != event.state.status.rawValue || stored[orderID]?.1 != event.state.filledQuantity {
                    problem = "order \(orderID): published \(event.state.status) \(event.state.filledQuantity), stored \(String(describing: stored[orderID]))"
                }
                let working = Set(desk.workingOrderIDs)
                for (orderID, row) in stored where ["PENDING", "OPEN", "PARTIALLY_FILLED"].contains(row.0) && !working.contains(orderID) {
                    problem = "order \(orderID) is \(row.0) in trades but the desk does not work it"
                }
                for r in try database.db.query("SELECT user_id::text, symbol, sum(quantity) FROM positions WHERE status <> 'CLOSED' GROUP BY 1, 2").rows
                where Int64(r[2] ?? "0") != desk.position(userID: r[0]!, symbol: r[1]!, exchange: "NSE") {
                    problem = "positions table holds \(r[2] ?? "?") \(r[1]!) for \(r[0]!), the desk \(desk.position(userID: r[0]!, symbol: r[1]!, exchange: "NSE"))"
                }
            } catch {
                problem = "reading PostgreSQL: \(error)"
            }
        }
        #expect(problem == nil, "seed \(seed)\(database == nil ? "" : " (with restarts)"): \(problem ?? "")")
        return problem == nil
    }
}
