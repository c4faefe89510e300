/// The ticks a replay on bars feeds the pipeline and the paper desk (docs/strategies.md, "Replays
/// on bars"): four per bar, the open, then the high or the low, whichever lies nearer the open
/// (the high on a tie), then the other, then the close, at 0, 1/4, 1/2 and 3/4 of the bar's
/// time in session (a day bar spans its day's session; an intraday bar ends at the session's
/// close at the latest). The volume is split evenly, the rest on the close, and the open
/// interest rides on the close, so the engine's own aggregation rebuilds every bar exactly, and
/// coarser bars from finer ones. An order made when a bar closes therefore fills at the next
/// bar's open; a limit or stop order fills when the bar's range reaches its price, as a tick
/// would. This is the common approximation (NautilusTrader's bar execution does the same): a
/// bar says nothing of the path inside it. Pure: no I/O.
public struct BarTicks: Sendable {
    private let sessions: [String: TradingCalendar.Session]
    /// Ticks made but not yet handed out: a later bar of another instrument (or interval) may
    /// still have ticks before them.
    private var pending: [(tick: Tick, order: Int)] = []
    private var made = 0

    /// `sessions`: the exchanges' session hours (`market.sessions`); an exchange without an
    /// entry is taken as 09:15-15:30.
    public init(sessions: [String: TradingCalendar.Session]) {
        self.sessions = sessions
    }

    /// The four ticks of one bar, in time order.
    public func ticks(of bar: Bar) -> [Tick] {
        let session = sessions[bar.exchange] ?? TradingCalendar.Session(open: 555, close: 930)
        let day = SessionCalendar.istDay(bar.start)
        let sessionOpen = TradingCalendar.instant(day: day, minutes: session.open).nanosecondsSinceEpoch
        let sessionClose = TradingCalendar.instant(day: day, minutes: session.close).nanosecondsSinceEpoch
        let first: Int64, span: Int64
        if bar.interval == .oneDay {
            first = sessionOpen
            span = max(sessionClose - sessionOpen, 4)
        } else {
            first = bar.start.nanosecondsSinceEpoch
            let end = first + bar.interval.nanoseconds
            span = sessionClose > first && sessionClose < end ? sessionClose - first : bar.interval.nanoseconds
        }
        let highFirst = bar.high.units - bar.open.units <= bar.open.units - bar.low.units
        let prices = [bar.open, highFirst ? bar.high : bar.low, highFirst ? bar.low : bar.high, bar.close]
        let share = bar.volume / 4
        return prices.enumerated().map { i, price in
            Tick(symbol: bar.symbol, exchange: bar.exchange, timestamp: Timestamp(nanosecondsSinceEpoch: first + span / 4 * Int64(i)),
                 price: price, quantity: i == 3 ? bar.volume - 3 * share : share, openInterest: i == 3 ? bar.openInterest : nil)
        }
    }

    /// Takes the next bars (in start order, as stored) and returns the ticks no later bar can
    /// precede, in time order (ties in the order their bars came).
    public mutating func add(_ bars: [Bar]) -> [Tick] {
        guard let horizon = bars.last?.start else { return [] }
        for bar in bars {
            for tick in ticks(of: bar) {
                pending.append((tick, made))
                made += 1
            }
        }
        pending.sort { ($0.tick.timestamp, $0.order) < ($1.tick.timestamp, $1.order) }
        // Every later bar starts at or after `horizon`, and so do all of its ticks.
        let ready = pending.partitioningIndex { $0.tick.timestamp >= horizon }
        let out = pending[..<ready].map(\.tick)
        pending.removeFirst(ready)
        return out
    }

    /// The ticks still held, once the last bars were added.
    public mutating func finish() -> [Tick] {
        defer { pending = [] }
        return pending.map(\.tick)
    }
}

extension Array {
    /// The first index whose element satisfies `predicate`, for an array where every element
    /// after one that does also does.
    func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if predicate(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
