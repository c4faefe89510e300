/// Turns ticks into 1min ... 1day bars on tick time (CONTRACT.md section 1).
///
/// Each exchange's feed time is the latest tick time seen for it; a bar closes when its
/// exchange's feed time reaches its end plus `grace`. A tick older than the bar in progress (or
/// than the last closed bar) of an interval is late for that interval: it leaves that interval's
/// bars unchanged (it is still stored as a tick). Pure: no clock, no I/O.
public struct BarAggregator: Sendable {
    public struct Key: Hashable, Sendable {
        public var symbol: String
        public var exchange: String
        public var interval: BarInterval
    }

    public let calendar: SessionCalendar
    public let intervals: [BarInterval]
    public let graceNanoseconds: Int64
    /// The bar in progress per key.
    public private(set) var open: [Key: Bar] = [:]
    /// The start of the last closed bar per key (ticks at or before it are late).
    private var lastClosedStart: [Key: Timestamp] = [:]
    /// Feed time per exchange.
    public private(set) var feedTime: [String: Timestamp] = [:]
    /// Per exchange, the earliest end among its open bars: nothing can close before it.
    private var nextEnd: [String: Timestamp] = [:]
    /// Ticks that were late for at least one interval.
    public private(set) var lateTicks = 0

    public init(calendar: SessionCalendar = .standard, intervals: [BarInterval] = BarInterval.allCases, graceNanoseconds: Int64 = 0) {
        self.calendar = calendar
        self.intervals = intervals
        self.graceNanoseconds = graceNanoseconds
    }

    /// Adds a tick; returns the bars it closed (of its exchange), oldest first.
    public mutating func add(_ tick: Tick) -> [Bar] {
        // Feed time first: a tick at or past a bar's end (plus grace) closes it before the tick
        // opens the next one.
        var closed = advance(exchange: tick.exchange, to: tick.timestamp)
        var late = false
        for interval in intervals {
            let key = Key(symbol: tick.symbol, exchange: tick.exchange, interval: interval)
            let start = calendar.barStart(tick.timestamp, interval: interval, exchange: tick.exchange)
            if var bar = open[key] {
                if start == bar.start {
                    bar.add(tick)
                    open[key] = bar
                    continue
                }
                if start < bar.start {
                    late = true
                    continue
                }
                // Kept open by the grace period, but a later bar of the same key begins: bars of
                // one key never overlap, so this one is complete.
                closed.append(bar)
                lastClosedStart[key] = bar.start
            } else if let last = lastClosedStart[key], start <= last {
                late = true
                continue
            }
            open[key] = Bar(tick: tick, interval: interval, start: start)
            let end = calendar.barEnd(start: start, interval: interval)
            if let current = nextEnd[tick.exchange], current <= end {} else { nextEnd[tick.exchange] = end }
        }
        if late { lateTicks += 1 }
        return closed
    }

    /// Moves an exchange's feed time forward (never back) and returns the bars that closed.
    public mutating func advance(exchange: String, to time: Timestamp) -> [Bar] {
        if let current = feedTime[exchange], current >= time {
            return []
        }
        feedTime[exchange] = time
        guard let earliest = nextEnd[exchange], time.nanosecondsSinceEpoch >= earliest.nanosecondsSinceEpoch + graceNanoseconds else {
            return []
        }
        var closed: [Bar] = []
        var newEarliest: Timestamp?
        for (key, bar) in open where key.exchange == exchange {
            let end = calendar.barEnd(start: bar.start, interval: bar.interval)
            if time.nanosecondsSinceEpoch >= end.nanosecondsSinceEpoch + graceNanoseconds {
                closed.append(bar)
                lastClosedStart[key] = bar.start
                open[key] = nil
            } else if newEarliest == nil || end < newEarliest! {
                newEarliest = end
            }
        }
        nextEnd[exchange] = newEarliest
        return closed.sorted { $0.start != $1.start ? $0.start < $1.start : ($0.interval < $1.interval) }
    }

    /// Every open bar, removed (at shutdown: they are stored as they are).
    public mutating func flush() -> [Bar] {
        let bars = Array(open.values).sorted {
            $0.start != $1.start ? $0.start < $1.start : ($0.symbol != $1.symbol ? $0.symbol < $1.symbol : $0.interval < $1.interval)
        }
        for (key, bar) in open { lastClosedStart[key] = bar.start }
        open.removeAll()
        nextEnd.removeAll()
        return bars
    }

    /// Seeds a bar in progress (rebuilt from stored ticks after a restart) and the feed time.
    public mutating func resume(_ bar: Bar, feedTime time: Timestamp) {
        let key = Key(symbol: bar.symbol, exchange: bar.exchange, interval: bar.interval)
        open[key] = bar
        if (feedTime[bar.exchange] ?? Timestamp(nanosecondsSinceEpoch: .min)) < time { feedTime[bar.exchange] = time }
        let end = calendar.barEnd(start: bar.start, interval: bar.interval)
        if let current = nextEnd[bar.exchange] { if end < current { nextEnd[bar.exchange] = end } } else { nextEnd[bar.exchange] = end }
    }
}

