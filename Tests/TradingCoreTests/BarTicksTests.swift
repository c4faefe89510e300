import Testing
import TradingCore

/// Issue 19: a replay on bars feeds four ticks per bar; the engine's own aggregation rebuilds
/// the bars from them exactly, finer bars into coarser ones, and instruments interleave in time.
@Suite("Ticks made from bars")
struct BarTicksTests {
    let maker = BarTicks(sessions: TradingCalendar.standard.sessions)

    func bar(_ minute: Int64, symbol: String = "A", open: Int64, high: Int64, low: Int64, close: Int64, volume: Int64 = 10,
             interval: BarInterval = .oneMinute) -> Bar {
        Bar(symbol: symbol, exchange: "NSE", interval: interval,
            start: TradingCalendar.instant(day: 20_458, minutes: 555 + minute), open: FixedDecimal(open), high: FixedDecimal(high),
            low: FixedDecimal(low), close: FixedDecimal(close), volume: volume, tickCount: 0)
    }

    @Test func aBarIsItsOpenThenTheNearerExtremeThenTheOtherThenItsCloseWithTheVolumeSplit() {
        let up = maker.ticks(of: bar(0, open: 100, high: 101, low: 95, close: 99, volume: 10))
        #expect(up.map(\.price) == [100, 101, 95, 99].map { FixedDecimal($0) })
        #expect(up.map(\.quantity) == [2, 2, 2, 4])
        let start = bar(0, open: 1, high: 1, low: 1, close: 1).start.nanosecondsSinceEpoch
        #expect(up.map(\.timestamp.nanosecondsSinceEpoch) == [0, 15, 30, 45].map { start + $0 * 1_000_000_000 })
        let down = maker.ticks(of: bar(1, open: 100, high: 106, low: 98, close: 99, volume: 3))
        #expect(down.map(\.price) == [100, 98, 106, 99].map { FixedDecimal($0) })
        #expect(down.map(\.quantity) == [0, 0, 0, 3])
    }

    @Test func aDayBarSpansItsSessionAndTheLastHourBarEndsAtTheClose() {
        let dayStart = TradingCalendar.instant(day: 20_458, minutes: 0)
        let day = Bar(symbol: "A", exchange: "NSE", interval: .oneDay, start: dayStart, open: FixedDecimal(10), high: FixedDecimal(12),
                      low: FixedDecimal(9), close: FixedDecimal(11), volume: 4)
        let times = maker.ticks(of: day).map(\.timestamp)
        #expect(times.first == TradingCalendar.instant(day: 20_458, minutes: 555))
        #expect(times.allSatisfy { TradingCalendar.standard.isInSession("NSE", at: $0) })
        let lastHour = maker.ticks(of: bar(360, open: 10, high: 12, low: 9, close: 11, interval: .oneHour))  // 15:15-15:30
        #expect(lastHour.allSatisfy { $0.timestamp < TradingCalendar.instant(day: 20_458, minutes: 930) })
    }

    @Test func theAggregatorRebuildsFiveMinuteBarsFromOneMinuteBarsExactly() {
        var state: UInt64 = 19
        func next(_ n: Int64) -> Int64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int64((state >> 33) % UInt64(n))
        }
        var ones: [Bar] = []
        var price: Int64 = 1000
        for minute in Int64(0)..<30 {
            let close = price + next(21) - 10
            ones.append(bar(minute, open: price, high: max(price, close) + next(5), low: min(price, close) - next(5), close: close,
                            volume: next(1000)))
            price = close
        }
        var aggregator = BarAggregator(calendar: .standard, intervals: [.fiveMinutes])
        var rebuilt: [Bar] = []
        var ticks = BarTicks(sessions: TradingCalendar.standard.sessions)
        for tick in ticks.add(ones) + ticks.finish() { rebuilt += aggregator.add(tick) }
        rebuilt += aggregator.flush()
        #expect(rebuilt.count == 6)
        for (i, five) in rebuilt.enumerated() {
            let part = ones[(i * 5)..<(i * 5 + 5)]
            #expect(five.start == part.first!.start && five.open == part.first!.open && five.close == part.last!.close)
            #expect(five.high == part.map(\.high).max()! && five.low == part.map(\.low).min()!)
            #expect(five.volume == part.reduce(0) { $0 + $1.volume })
        }
    }

    @Test func instrumentsInterleaveInTimeAcrossPagesAndTiesKeepTheirOrder() {
        var ticks = BarTicks(sessions: TradingCalendar.standard.sessions)
        // A 5min bar of B and the 1min bars of A within it, split over two pages.
        let b = bar(0, symbol: "B", open: 50, high: 51, low: 49, close: 50, interval: .fiveMinutes)
        var out = ticks.add([bar(0, symbol: "A", open: 1, high: 1, low: 1, close: 1), b, bar(1, symbol: "A", open: 2, high: 2, low: 2, close: 2)])
        out += ticks.add([bar(2, symbol: "A", open: 3, high: 3, low: 3, close: 3)])
        out += ticks.finish()
        #expect(out.count == 16)
        #expect(zip(out, out.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
        #expect(out[0].symbol == "A" && out[1].symbol == "B", "A's bar came first at the same start")
    }

    @Test func aReplayReadsTheFinestStoredBarsThatServeEveryIntervalAsked() {
        #expect(BarReplayPlan.choose(needs: [.fiveMinutes, .fifteenMinutes], stored: [.oneMinute, .fiveMinutes, .oneDay], instrument: "NSE:A")
                == .bars(.oneMinute))
        #expect(BarReplayPlan.choose(needs: [.oneHour], stored: [.fifteenMinutes, .thirtyMinutes], instrument: "NSE:A") == .bars(.fifteenMinutes))
        #expect(BarReplayPlan.choose(needs: [.oneDay], stored: [.oneDay], instrument: "NSE:A") == .bars(.oneDay))
        #expect(BarReplayPlan.choose(needs: [], stored: [.fiveMinutes], instrument: "NSE:A") == .bars(.fiveMinutes))
        guard case .missing(let why) = BarReplayPlan.choose(needs: [.oneMinute], stored: [.fiveMinutes], instrument: "NSE:A") else {
            Issue.record("5min bars cannot make 1min ones"); return
        }
        #expect(why.contains("1min") && why.contains("5min") && why.contains("NSE:A"))
        #expect(BarReplayPlan.choose(needs: [.fiveMinutes], stored: [], instrument: "NSE:A") == .missing("no bars of NSE:A"))
    }
}
