/// One point of a backtest's equity curve: P&L net of charges, realized plus unrealized.
public struct EquityPoint: Sendable, Equatable {
    public var time: Timestamp
    /// Net realized P&L plus unrealized P&L at the last traded price, 1/10,000 units.
    public var equity: Int128
    public var realized: Int128
    public var unrealized: Int128
    /// The position: signed for a run of one instrument, the open quantity summed over several.
    public var position: Int64
}

/// One execution of a backtest, for its trade list: the position and the gross P&L it realized
/// are of its instrument.
public struct BacktestFill: Sendable, Equatable {
    public var time: Timestamp
    public var orderID: String
    public var symbol: String
    public var exchange: String
    public var side: OrderSide
    public var quantity: Int64
    public var price: FixedDecimal
    /// Gross P&L this fill realized (0 for one that opens or adds), 1/10,000 units.
    public var realized: Int128
    /// The instrument's position after it.
    public var position: Int64
}

/// The last price of an instrument in a minute of exchange time (the price panel of a chart).
public struct PricePoint: Sendable, Equatable {
    public var time: Timestamp
    public var price: FixedDecimal
}

/// What a backtest run reports (printed and stored in `backtest_runs`).
public struct BacktestFigures: Sendable, Equatable {
    public var ticks = 0
    public var orders = 0
    public var rejected = 0
    /// Executions.
    public var fills = 0
    public var winning = 0
    public var losing = 0
    public var grossPnL: Int128 = 0
    public var charges: Int128 = 0
    /// Realized net of charges.
    public var netPnL: Int128 = 0
    /// Unrealized at the last price, and the final position.
    public var unrealized: Int128 = 0
    public var endPosition: Int64 = 0
    /// The largest fall of the equity curve from its running peak.
    public var maxDrawdown: Int128 = 0
    /// Percent of the replayed time with a position open.
    public var exposurePercent: Double = 0
    public var winRate: Double?
    /// Mean over population standard deviation of the closed trades' net P&L (per trade, no
    /// risk-free rate, not annualized), as `strategy_performance.sharpe_ratio`.
    public var sharpeRatio: Double?
}

/// A halt of the strategy during a backtest (a breaker, its `max_loss`): when, and why.
public struct BacktestHalt: Sendable, Equatable {
    public var time: Timestamp
    public var reason: String
}

/// Follows a backtest's desk records (pure): final order states, fills, net and gross P&L,
/// the equity curve (a point per fill and per minute of exchange time), drawdown and exposure,
/// over one instrument or several (each valued at its own last price).
/// Realized P&L and charges are the desk's own (its `StrategyDay` per day, the figures a halt
/// reason quotes), never a second fold of the fills; only the unrealized part is valued here.
public struct BacktestLedger: Sendable {
    public private(set) var figures = BacktestFigures()
    /// The strategy's halts, in order: the P&L a halt reason quotes is the P&L at that moment.
    public private(set) var halts: [BacktestHalt] = []
    /// Orders in the order they were placed, at their last state.
    public private(set) var orders: [DeskOrder] = []
    private var orderIndex: [String: Int] = [:]
    public private(set) var curve: [EquityPoint] = []
    private var days: [Int64: StrategyDay] = [:]
    /// Per instrument (`EXCHANGE:SYMBOL`): the position and the last price.
    private var nets: [String: NetPosition] = [:]
    private var lastPrices: [String: FixedDecimal] = [:]
    /// Executions in order, and each instrument's price per minute.
    public private(set) var fills: [BacktestFill] = []
    public private(set) var prices: [String: [PricePoint]] = [:]
    private var lastPriceMinute: [String: Int64] = [:]
    private var peak: Int128 = 0
    private var firstTime: Timestamp?
    private var lastTime: Timestamp?
    /// The latest time the desk's records carried (a halt's record carries none of its own).
    private var recordTime: Timestamp?
    private var exposedNanoseconds: Int64 = 0
    private var exposureMark: Int64?
    private var lastMinute: Int64 = .min

    public init() {}

    /// The strategy's figures per Asia/Kolkata day with fills, in date order (stored in
    /// `backtest_performance`, as live trading's are in `strategy_performance`).
    public var dailyPerformance: [StrategyDay] { days.values.sorted { $0.day < $1.day } }

    /// `EXCHANGE:SYMBOL`, the key of an instrument here.
    public static func key(_ symbol: String, _ exchange: String) -> String { exchange + ":" + symbol }

    /// A replayed tick of one of the strategy's instruments (after the desk saw it).
    public mutating func tick(_ tick: Tick) {
        figures.ticks += 1
        accrueExposure(to: tick.timestamp)
        if firstTime == nil { firstTime = tick.timestamp }
        lastTime = tick.timestamp
        let key = Self.key(tick.symbol, tick.exchange)
        lastPrices[key] = tick.price
        let minute = tick.timestamp.nanosecondsSinceEpoch / 60_000_000_000
        if lastPriceMinute[key] == minute, let last = prices[key]?.indices.last {
            prices[key]?[last] = PricePoint(time: tick.timestamp, price: tick.price)
        } else {
            prices[key, default: []].append(PricePoint(time: tick.timestamp, price: tick.price))
            lastPriceMinute[key] = minute
        }
        mark(tick.timestamp, point: minute != lastMinute)
        lastMinute = minute
    }

    private var unrealized: Int128 {
        nets.reduce(0) { sum, entry in sum + (lastPrices[entry.key].map { entry.value.unrealized(at: $0) } ?? 0) }
    }

    /// One instrument's signed position; over several, the open quantity summed (a long and a
    /// short of two instruments must not read as flat).
    private var netQuantity: Int64 {
        nets.count == 1 ? nets.values.first?.quantity ?? 0 : nets.values.reduce(0) { $0 + $1.quantity.magnitude.clampedToInt64 }
    }
    private var exposed: Bool { nets.values.contains { $0.quantity != 0 } }

    /// The desk's records for this strategy.
    public mutating func record(_ records: [DeskRecord]) {
        for record in records {
            switch record {
            case .order(let order):
                if let index = orderIndex[order.orderID] {
                    orders[index] = order
                } else {
                    orderIndex[order.orderID] = orders.count
                    orders.append(order)
                }
                recordTime = max(recordTime ?? order.orderTime, order.executionTime ?? order.orderTime)
            case .event(let event) where event.kind == .fill:
                guard let quantity = event.fillQuantity, let price = event.fillPrice else { continue }
                figures.fills += 1
                accrueExposure(to: event.time)  // the time before this fill, at the position before it
                let intent = event.order.intent
                let key = Self.key(intent.symbol, intent.exchange)
                let realized = nets[key, default: NetPosition()].apply(fill: intent.side == .buy ? quantity : -quantity, price: price)
                    .reduce(0) { $0 + $1.pnl }
                lastPrices[key] = lastPrices[key] ?? price
                fills.append(BacktestFill(time: event.time, orderID: event.order.orderID, symbol: intent.symbol, exchange: intent.exchange,
                                          side: intent.side, quantity: quantity, price: price, realized: realized,
                                          position: nets[key]?.quantity ?? 0))
                mark(event.time, point: true)
            case .performance(let day):
                // The desk's figures for the day replace what was known of it: the run's gross
                // and charges are the sum of its days'.
                days[day.day] = day
                figures.grossPnL = days.values.reduce(0) { $0 + $1.grossPnL }
                figures.charges = days.values.reduce(0) { $0 + $1.charges }
            case .strategyHalt(_, _, let reason, _):
                halts.append(BacktestHalt(time: [recordTime, lastTime].compactMap { $0 }.max() ?? Timestamp(nanosecondsSinceEpoch: 0), reason: reason))
            default:
                continue
            }
        }
    }

    /// Adds the time since the last mark to the exposure if a position was open over it.
    private mutating func accrueExposure(to time: Timestamp) {
        if let exposureMark, exposed, time.nanosecondsSinceEpoch > exposureMark {
            exposedNanoseconds += time.nanosecondsSinceEpoch - exposureMark
        }
        exposureMark = max(exposureMark ?? .min, time.nanosecondsSinceEpoch)
    }

    private mutating func mark(_ time: Timestamp, point: Bool) {
        let unrealized = self.unrealized
        let realized = figures.grossPnL - figures.charges
        let equity = realized + unrealized
        peak = max(peak, equity)
        figures.maxDrawdown = max(figures.maxDrawdown, peak - equity)
        if point {
            curve.append(EquityPoint(time: time, equity: equity, realized: realized, unrealized: unrealized, position: netQuantity))
        }
    }

    /// The figures once the replay is over.
    public mutating func finish() -> BacktestFigures {
        figures.orders = orders.count
        figures.rejected = orders.filter { $0.state.status == .rejected }.count
        figures.netPnL = figures.grossPnL - figures.charges
        figures.unrealized = unrealized
        figures.endPosition = netQuantity
        var all = StrategyDay(strategyID: "", day: 0)
        var closed: [Int128] = []
        for day in days.values.sorted(by: { $0.day < $1.day }) {
            all.winning += day.winning
            all.losing += day.losing
            closed += day.closedPnLs
        }
        all.closedPnLs = closed
        figures.winning = all.winning
        figures.losing = all.losing
        figures.winRate = all.winRate
        figures.sharpeRatio = all.sharpeRatio
        if let firstTime, let lastTime, lastTime > firstTime {
            figures.exposurePercent = Double(exposedNanoseconds) / Double(lastTime.nanosecondsSinceEpoch - firstTime.nanosecondsSinceEpoch) * 100
        }
        if let lastTime, curve.last?.time != lastTime { mark(lastTime, point: true) }
        return figures
    }
}

extension UInt64 {
    var clampedToInt64: Int64 { self > UInt64(Int64.max) ? .max : Int64(self) }
}
