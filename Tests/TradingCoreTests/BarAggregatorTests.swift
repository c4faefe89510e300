import Foundation
import TestSupport
import Testing
import TradingCore

/// Bars checked against bars computed independently: Foundation's calendar in Asia/Kolkata for
/// the grid, a plain grouping for OHLCV.
@Suite("Bars from ticks on tick time")
struct BarAggregatorTests {
    @Test func everyBarEqualsTheIndependentlyComputedBar() {
        let ticks = RecordedSession.ticks(start: Timestamp.parseRFC3339("2026-11-24T09:10:00+05:30")!)
        var aggregator = BarAggregator()
        var produced: [Bar] = []
        for tick in ticks { produced += aggregator.add(tick) }
        produced += aggregator.flush()
        #expect(aggregator.lateTicks == 0)
        let expected = IndependentBars.compute(ticks)
        #expect(produced.count == expected.count)
        var seen = Set<IndependentBars.Key>()
        for bar in produced {
            let key = IndependentBars.Key(symbol: bar.symbol, exchange: bar.exchange, interval: bar.interval, start: bar.start)
            #expect(seen.insert(key).inserted, "no bar is produced twice")
            #expect(expected[key] == bar, "\(key)")
        }
    }

    @Test func nseHourBarsStartAtQuarterPastAndMCXAtTheHour() {
        let calendar = SessionCalendar.standard
        let t = Timestamp.parseRFC3339("2026-11-24T10:20:00+05:30")!
        #expect(calendar.barStart(t, interval: .oneHour, exchange: "NSE") == Timestamp.parseRFC3339("2026-11-24T10:15:00+05:30")!)
        #expect(calendar.barStart(t, interval: .oneHour, exchange: "MCX") == Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!)
        #expect(calendar.barStart(t, interval: .oneDay, exchange: "NSE") == Timestamp.parseRFC3339("2026-11-24T00:00:00+05:30")!)
        #expect(calendar.barStart(t, interval: .thirtyMinutes, exchange: "NSE") == Timestamp.parseRFC3339("2026-11-24T10:15:00+05:30")!)
        let early = Timestamp.parseRFC3339("2026-11-24T09:07:00+05:30")!
        #expect(calendar.barStart(early, interval: .fifteenMinutes, exchange: "NSE") == Timestamp.parseRFC3339("2026-11-24T09:00:00+05:30")!,
                "pre-open ticks fall on the same grid, extended backwards")
    }

    @Test func barsCloseOnTheExchangeFeedTimeNotPerSymbol() {
        var aggregator = BarAggregator(intervals: [.oneMinute])
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:10+05:30")!
        func tick(_ symbol: String, _ offsetSeconds: Int64, exchange: String = "NSE") -> Tick {
            Tick(symbol: symbol, exchange: exchange, timestamp: t0.adding(nanoseconds: offsetSeconds * 1_000_000_000), price: FixedDecimal(100), quantity: 1)
        }
        #expect(aggregator.add(tick("A", 0)).isEmpty)
        #expect(aggregator.add(tick("B", 20)).isEmpty)
        #expect(aggregator.add(tick("Z", 55, exchange: "MCX")).isEmpty, "another exchange's time does not close NSE bars")
        let closed = aggregator.add(tick("B", 50))  // 10:01:00: NSE feed time reaches the end of the 10:00 bars
        #expect(closed.map(\.symbol).sorted() == ["A", "B"], "A's bar closes though A did not trade")
    }

    @Test func aTickOlderThanAClosedBarIsLateAndChangesNothing() {
        var aggregator = BarAggregator(intervals: [.oneMinute, .fiveMinutes])
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:10+05:30")!
        func tick(_ offsetSeconds: Int64, _ price: Int64) -> Tick {
            Tick(symbol: "A", exchange: "NSE", timestamp: t0.adding(nanoseconds: offsetSeconds * 1_000_000_000), price: FixedDecimal(price), quantity: 1)
        }
        _ = aggregator.add(tick(0, 100))
        let closed = aggregator.add(tick(60, 101))  // closes 10:00 1min bar
        #expect(closed.count == 1 && closed[0].close == FixedDecimal(100))
        _ = aggregator.add(tick(5, 999))  // 10:00:15 arrives late
        #expect(aggregator.lateTicks == 1)
        let rest = aggregator.flush()
        let fiveMinute = rest.first { $0.interval == .fiveMinutes }
        #expect(fiveMinute?.high == FixedDecimal(999), "the 10:00 five-minute bar was still open: the tick belongs to it")
        #expect(rest.first { $0.interval == .oneMinute }?.high == FixedDecimal(101))
    }

    @Test func graceKeepsABarOpenPastItsEnd() {
        var aggregator = BarAggregator(intervals: [.oneMinute], graceNanoseconds: 2_000_000_000)
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:10+05:30")!
        _ = aggregator.add(Tick(symbol: "A", exchange: "NSE", timestamp: t0, price: FixedDecimal(1)))
        #expect(aggregator.add(Tick(symbol: "B", exchange: "NSE", timestamp: t0.adding(nanoseconds: 51_000_000_000), price: FixedDecimal(1))).isEmpty)
        #expect(aggregator.add(Tick(symbol: "B", exchange: "NSE", timestamp: t0.adding(nanoseconds: 52_000_000_000), price: FixedDecimal(1))).count == 1)
    }
}
