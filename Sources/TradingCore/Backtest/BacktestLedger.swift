/// One point of a backtest's equity curve: P&L net of charges, realized plus unrealized.
public struct EquityPoint: Sendable, Equatable {
    public var time: Timestamp
    /// Net realized P&L plus unrealized P&L at the last traded price, 1/10,000 units.
    public var equity: Int128
    public var realized: Int128
    public var unrealized: Int128
    public var position: Int64
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
/// the equity curve (a point per fill and per minute of exchange time), drawdown and exposure.
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
    private var net = NetPosition()
    private var lastPrice: FixedDecimal?
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

    /// A replayed tick of the strategy's instrument (after the desk saw it).
    public mutating func tick(_ tick: Tick) {
        figures.ticks += 1
        accrueExposure(to: tick.timestamp)
        if firstTime == nil { firstTime = tick.timestamp }
        lastTime = tick.timestamp
        lastPrice = tick.price
        let minute = tick.timestamp.nanosecondsSinceEpoch / 60_000_000_000
        mark(tick.timestamp, point: minute != lastMinute)
        lastMinute = minute
    }

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
                net.apply(fill: event.order.intent.side == .buy ? quantity : -quantity, price: price)
                lastPrice = lastPrice ?? price
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
        if let exposureMark, net.quantity != 0, time.nanosecondsSinceEpoch > exposureMark {
            exposedNanoseconds += time.nanosecondsSinceEpoch - exposureMark
        }
        exposureMark = max(exposureMark ?? .min, time.nanosecondsSinceEpoch)
    }

    private mutating func mark(_ time: Timestamp, point: Bool) {
        let unrealized = lastPrice.map { net.unrealized(at: $0) } ?? 0
        let realized = figures.grossPnL - figures.charges
        let equity = realized + unrealized
        peak = max(peak, equity)
        figures.maxDrawdown = max(figures.maxDrawdown, peak - equity)
        if point {
            curve.append(EquityPoint(time: time, equity: equity, realized: realized, unrealized: unrealized, position: net.quantity))
        }
    }

    /// The figures once the replay is over.
    public mutating func finish() -> BacktestFigures {
        figures.orders = orders.count
        figures.rejected = orders.filter { $0.state.status == .rejected }.count
        figures.netPnL = figures.grossPnL - figures.charges
        figures.unrealized = lastPrice.map { net.unrealized(at: $0) } ?? 0
        figures.endPosition = net.quantity
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
