/// Turns ticks into 1min ... 1day bars on tick time (CONTRACT.md section 1).
///
/// Each exchange's feed time is the latest tick time seen for it; a bar closes when its
/// exchange's feed time reaches its end plus `grace`, whether or not it had ticks. A tick whose
/// bar has closed (its end plus grace is at or before the feed time, or a later bar of its
/// instrument is open) is late for that interval: it leaves that interval's bars unchanged (it is
/// still stored as a tick). Pure: no clock, no I/O.
///
/// Only instruments with a bar in progress are kept (one dictionary entry per instrument, a slot
/// per interval): the late rule needs no memory of closed bars, so state is bounded by the
/// instruments trading in the open bars, and by `maxInstruments` (docs/ingest.md, "Bounds").
public struct BarAggregator: Sendable {
    public struct Instrument: Hashable, Sendable {
        public var symbol: String
        public var exchange: String
    }

    /// The bars of one instrument in progress, per interval (in `intervals` order).
    struct Slots: Sendable {
        var open: [Bar?]
        var isEmpty: Bool { open.allSatisfy { $0 == nil } }
    }

    public let calendar: SessionCalendar
    public let intervals: [BarInterval]
    public let graceNanoseconds: Int64
    private var instruments: [Instrument: Slots] = [:]
    /// Feed time per exchange.
    public private(set) var feedTime: [String: Timestamp] = [:]
    /// Per exchange, the earliest end among its open bars: nothing can close before it.
    private var nextEnd: [String: Timestamp] = [:]
    /// Ticks that were late for at least one interval.
    public private(set) var lateTicks = 0
    /// Instruments with bars in progress, at most; ticks of further instruments are stored but
    /// make no bars until some close (counted in `ticksOverInstrumentLimit`).
    public let maxInstruments: Int
    public private(set) var ticksOverInstrumentLimit = 0
    /// Exchanges whose feed time is kept, at most: `exchange` is any 1-20 character string, so a
    /// flood of made-up exchanges must not grow the feed-time tables. Past it, an exchange with
    /// no open bar and no configured session is forgotten (the stalest first) to make room; when every kept exchange has
    /// open bars, ticks of a new one make no bars (counted in `ticksOverExchangeLimit`).
    public let maxExchanges: Int
    public private(set) var ticksOverExchangeLimit = 0

    public init(calendar: SessionCalendar = .standard, intervals: [BarInterval] = BarInterval.allCases, graceNanoseconds: Int64 = 0,
                maxInstruments: Int = 100_000, maxExchanges: Int = 256) {
        self.calendar = calendar
        self.intervals = intervals
        self.graceNanoseconds = graceNanoseconds
        self.maxInstruments = maxInstruments
        self.maxExchanges = max(1, maxExchanges)
    }

    /// Exchanges whose feed time is kept.
    public var exchangeCount: Int { feedTime.count }

    /// Whether `exchange` has (or can be given) a feed time: makes room past `maxExchanges` by
    /// forgetting the stalest exchange with no open bar.
    private mutating func admit(_ exchange: String) -> Bool {
        if feedTime[exchange] != nil { return true }
        if feedTime.count < maxExchanges { return true }
        // Never one with a configured session (NSE, MCX, ...): forgetting its feed time would let
        // a late tick reopen, and overwrite, a bar that had closed.
        let idle = feedTime.filter { nextEnd[$0.key] == nil && calendar.sessionOpenMinutes[$0.key] == nil }
        guard let stalest = idle.min(by: { $0.value < $1.value })?.key else { return false }
        feedTime[stalest] = nil
        return true
    }

    /// Instruments with bars in progress.
    public var instrumentCount: Int { instruments.count }

    /// Bars in progress, in no particular order.
    public var openBars: [Bar] { instruments.values.flatMap { $0.open.compactMap { $0 } } }

    private mutating func noteEnd(_ end: Timestamp, exchange: String) {
        if let current = nextEnd[exchange], current <= end { return }
        nextEnd[exchange] = end
    }

    /// Adds a tick; returns the bars it closed (of its exchange), oldest first.
    public mutating func add(_ tick: Tick) -> [Bar] {
        // Feed time first: a tick at or past a bar's end (plus grace) closes it before the tick
        // opens the next one.
        guard admit(tick.exchange) else {
            ticksOverExchangeLimit += 1
            return []
        }
        var closed = advance(exchange: tick.exchange, to: tick.timestamp)
        let instrument = Instrument(symbol: tick.symbol, exchange: tick.exchange)
        var slots: Slots
        if let existing = instruments[instrument] {
            slots = existing
        } else {
            guard instruments.count < maxInstruments else {
                ticksOverInstrumentLimit += 1
                return closed
            }
            slots = Slots(open: Array(repeating: nil, count: intervals.count))
        }
        let feed = feedTime[tick.exchange]?.nanosecondsSinceEpoch ?? .min
        var late = false
        for (i, interval) in intervals.enumerated() {
            let start = calendar.barStart(tick.timestamp, interval: interval, exchange: tick.exchange)
            if var bar = slots.open[i] {
                if start == bar.start {
                    bar.add(tick)
                    slots.open[i] = bar
                    continue
                }
                if start < bar.start {
                    late = true
                    continue
                }
                // Kept open by the grace period, but a later bar of the same instrument begins:
                // bars of one key never overlap, so this one is complete.
                closed.append(bar)
                slots.open[i] = nil
            }
            let end = calendar.barEnd(start: start, interval: interval)
            if end.nanosecondsSinceEpoch &+ graceNanoseconds <= feed {
                // Its bar has closed on tick time already (stored, or it had no ticks).
                late = true
                continue
            }
            slots.open[i] = Bar(tick: tick, interval: interval, start: start)
            noteEnd(end, exchange: tick.exchange)
        }
        if slots.isEmpty { instruments[instrument] = nil } else { instruments[instrument] = slots }
        if late { lateTicks += 1 }
        return closed
    }

    /// Moves an exchange's feed time forward (never back) and returns the bars that closed.
    public mutating func advance(exchange: String, to time: Timestamp) -> [Bar] {
        if let current = feedTime[exchange], current >= time {
            return []
        }
        guard admit(exchange) else { return [] }
        feedTime[exchange] = time
        guard let earliest = nextEnd[exchange], time.nanosecondsSinceEpoch >= earliest.nanosecondsSinceEpoch &+ graceNanoseconds else {
            return []
        }
        var closed: [Bar] = []
        var newEarliest: Timestamp?
        for (instrument, var slots) in instruments where instrument.exchange == exchange {
            var changed = false
            for i in slots.open.indices {
                guard let bar = slots.open[i] else { continue }
                let end = calendar.barEnd(start: bar.start, interval: bar.interval)
                if time.nanosecondsSinceEpoch >= end.nanosecondsSinceEpoch &+ graceNanoseconds {
                    closed.append(bar)
                    slots.open[i] = nil
                    changed = true
                } else if newEarliest == nil || end < newEarliest! {
                    newEarliest = end
                }
            }
            if changed { instruments[instrument] = slots.isEmpty ? nil : slots }
        }
        nextEnd[exchange] = newEarliest
        return closed.sorted { $0.start != $1.start ? $0.start < $1.start : ($0.interval < $1.interval) }
    }

    /// Every open bar, removed (at shutdown: they are stored as they are).
    public mutating func flush() -> [Bar] {
        let bars = instruments.values.flatMap { $0.open.compactMap { $0 } }
        instruments.removeAll()
        nextEnd.removeAll()
        return bars.sorted {
            $0.start != $1.start ? $0.start < $1.start : ($0.symbol != $1.symbol ? $0.symbol < $1.symbol : $0.interval < $1.interval)
        }
    }

    /// Seeds a bar in progress (rebuilt from stored ticks after a restart) and the feed time.
    public mutating func resume(_ bar: Bar, feedTime time: Timestamp) {
        guard let i = intervals.firstIndex(of: bar.interval) else { return }
        let instrument = Instrument(symbol: bar.symbol, exchange: bar.exchange)
        guard instruments[instrument] != nil || instruments.count < maxInstruments else { return }
        var slots = instruments[instrument] ?? Slots(open: Array(repeating: nil, count: intervals.count))
        slots.open[i] = bar
        instruments[instrument] = slots
        if (feedTime[bar.exchange] ?? Timestamp(nanosecondsSinceEpoch: .min)) < time { feedTime[bar.exchange] = time }
        noteEnd(calendar.barEnd(start: bar.start, interval: bar.interval), exchange: bar.exchange)
    }
}
