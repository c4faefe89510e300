import Foundation
import Testing
import TradingCore

/// Bars checked against bars computed independently: Foundation's calendar in Asia/Kolkata for
/// the grid, a plain grouping for OHLCV.
@Suite("Bars from ticks on tick time")
struct BarAggregatorTests {
    static let ist = TimeZone(identifier: "Asia/Kolkata")!

    /// Independent bar start: IST calendar day, minutes since the session open, floored to the length.
    static func expectedStart(_ time: Timestamp, interval: BarInterval, openMinutes: Int) -> Timestamp {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = ist
        let date = Date(timeIntervalSince1970: Double(time.nanosecondsSinceEpoch) / 1e9)
        let midnight = calendar.startOfDay(for: date)
        if interval == .oneDay {
            return Timestamp(nanosecondsSinceEpoch: Int64(midnight.timeIntervalSince1970) * 1_000_000_000)
        }
        let sinceOpen = time.nanosecondsSinceEpoch - (Int64(midnight.timeIntervalSince1970) + Int64(openMinutes) * 60) * 1_000_000_000
        let length = interval.nanoseconds
        let bucket = sinceOpen >= 0 ? sinceOpen / length : -((-sinceOpen + length - 1) / length)
        return Timestamp(nanosecondsSinceEpoch: (Int64(midnight.timeIntervalSince1970) + Int64(openMinutes) * 60) * 1_000_000_000 + bucket * length)
    }

    struct ExpectedKey: Hashable {
        var symbol: String, exchange: String, interval: BarInterval, start: Timestamp
    }

    /// A recorded-style session: three symbols on NSE and one on MCX, ticks from before the open
    /// to past the close with quiet stretches, in time order per exchange.
    static func recordedTicks() -> [Tick] {
        var rng = SplitMix64(seed: 99)
        var ticks: [Tick] = []
        let day = Timestamp.parseRFC3339("2026-11-24T09:10:00+05:30")!
        var nse = day, mcx = day.adding(nanoseconds: -600_000_000_000)
        var prices: [String: Int64] = ["RELIANCE": 24_500_000, "INFY": 15_000_000, "TCS": 39_000_000, "CRUDEOIL": 60_000_000]
        for i in 0..<6_000 {
            let onMCX = i % 4 == 3
            // Mostly sub-second gaps, sometimes minutes of silence.
            let gap = rng.next() % 50 == 0 ? Int64(rng.next() % 400) * 1_000_000_000 : Int64(rng.next() % 3_000) * 1_000_000
            let symbol = onMCX ? "CRUDEOIL" : ["RELIANCE", "INFY", "TCS"][Int(rng.next() % 3)]
            prices[symbol]! += (Int64(rng.next() % 5) - 2) * 500
            let time: Timestamp
            if onMCX { mcx = mcx.adding(nanoseconds: gap); time = mcx } else { nse = nse.adding(nanoseconds: gap); time = nse }
            ticks.append(Tick(symbol: symbol, exchange: onMCX ? "MCX" : "NSE", timestamp: time,
                              price: FixedDecimal(units: prices[symbol]!), quantity: Int64(rng.next() % 100),
                              openInterest: onMCX && rng.next() % 3 == 0 ? FixedDecimal(Int64(rng.next() % 10_000)) : nil))
        }
        return ticks
    }

    @Test func everyBarEqualsTheIndependentlyComputedBar() {
        let ticks = Self.recordedTicks()
        var aggregator = BarAggregator()
        var produced: [Bar] = []
        for tick in ticks { produced += aggregator.add(tick) }
        produced += aggregator.flush()
        #expect(aggregator.lateTicks == 0)

        var expected: [ExpectedKey: Bar] = [:]
        for tick in ticks {
            for interval in BarInterval.allCases {
                let open = tick.exchange == "MCX" ? 540 : 555
                let key = ExpectedKey(symbol: tick.symbol, exchange: tick.exchange, interval: interval,
                                      start: Self.expectedStart(tick.timestamp, interval: interval, openMinutes: open))
                if var bar = expected[key] {
                    bar.high = max(bar.high, tick.price)
                    bar.low = min(bar.low, tick.price)
                    bar.close = tick.price
                    bar.volume += tick.quantity
                    bar.openInterest = tick.openInterest ?? bar.openInterest
                    bar.tickCount += 1
                    expected[key] = bar
                } else {
                    expected[key] = Bar(symbol: tick.symbol, exchange: tick.exchange, interval: interval, start: key.start,
                                        open: tick.price, high: tick.price, low: tick.price, close: tick.price,
                                        volume: tick.quantity, openInterest: tick.openInterest, tickCount: 1)
                }
            }
        }
        #expect(produced.count == expected.count)
        var seen = Set<ExpectedKey>()
        for bar in produced {
            let key = ExpectedKey(symbol: bar.symbol, exchange: bar.exchange, interval: bar.interval, start: bar.start)
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
