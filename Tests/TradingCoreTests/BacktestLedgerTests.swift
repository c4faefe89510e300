import Testing
import TradingCore

@Suite("Backtest ledger figures")
struct BacktestLedgerTests {
    let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!

    func tick(_ price: String, _ seconds: Int64) -> Tick {
        Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0.adding(nanoseconds: seconds * 1_000_000_000), price: FixedDecimal(price)!)
    }

    func intent(_ side: OrderSide, _ price: String, _ seconds: Int64) -> OrderIntent {
        OrderIntent(strategyID: "s1", userID: "u1", brokerID: "b1", symbol: "RELIANCE", exchange: "NSE", side: side, quantity: 10,
                    referencePrice: FixedDecimal(price)!, time: t0.adding(nanoseconds: seconds * 1_000_000_000), reason: "test")
    }

    @Test func figuresFollowTheFillsExactlyWithDrawdownExposureAndAWinAndALoss() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 1))
        var ledger = BacktestLedger()
        // t=0 buy 100; t=60 price 90; t=120 sell 110 (+100); t=180 buy 110; t=240 sell 105 (-50); t=300 flat tick.
        let script: [(String, Int64, OrderSide?)] = [("100", 0, .buy), ("90", 60, nil), ("110", 120, .sell), ("110", 180, .buy),
                                                     ("105", 240, .sell), ("105", 300, nil)]
        for (price, at, side) in script {
            let t = tick(price, at)
            ledger.record(desk.onTick(t))
            if let side { ledger.record(desk.submit(intent(side, price, at), now: t.timestamp)) }
            ledger.tick(t)
        }
        let f = ledger.finish()
        #expect(f.ticks == 6 && f.orders == 4 && f.fills == 4 && f.rejected == 0)
        #expect(f.grossPnL == Int128(FixedDecimal(50).units) && f.netPnL == f.grossPnL && f.charges == 0)
        #expect(f.winning == 1 && f.losing == 1 && f.winRate == 50)
        // Equity fell from 0 to -100 at t=60 (10 x -10): the largest drawdown.
        #expect(f.maxDrawdown == Int128(FixedDecimal(100).units))
        // In a position 0-120 and 180-240 of 300 s.
        #expect(abs(f.exposurePercent - 60) < 1e-9)
        #expect(f.endPosition == 0 && ledger.curve.last?.equity == Int128(FixedDecimal(50).units))
        #expect(f.sharpeRatio.map { abs($0 - (25.0 / 75.0)) < 1e-9 } == true, "mean 25 over sd 75 of +100 and -50")
    }

    /// The run's P&L is the desk's (its days' figures), and a `max_loss` halt is reported with
    /// its time: the loss it quotes is the loss then, and the run goes on with the exits after it.
    /// Before, the report folded the fills a second time and said nothing of the halt, so its
    /// final loss and the halt reason's disagreed with nothing to tell why (issue 16, item 2).
    @Test func theRunsPnLIsTheDesksAndAHaltIsReportedWithTheLossAtItsTime() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 3))
        desk.chargeSchedule = .zerodha
        desk.strategyPolicies["s1"] = StrategyOrderPolicy(maxLoss: FixedDecimal(60))
        var ledger = BacktestLedger()
        // Buy 20 at 100; sell 10 at 93 (-70 and charges: the halt); sell 10 at 101 (+10, an exit the halt allows).
        let script: [(String, Int64, OrderSide, Int64)] = [("100", 0, .buy, 20), ("93", 60, .sell, 10), ("101", 120, .sell, 10)]
        for (price, at, side, quantity) in script {
            let t = tick(price, at)
            ledger.record(desk.onTick(t))
            var i = intent(side, price, at)
            i.quantity = quantity
            let records = desk.submit(i, now: t.timestamp)
            #expect(records.contains { if case .event(let e) = $0 { e.kind == .fill } else { false } }, "\(price) filled")
            ledger.record(records)
            ledger.tick(t)
        }
        let f = ledger.finish()
        let days = ledger.dailyPerformance
        #expect(f.netPnL == days.reduce(0) { $0 + $1.totalPnL } && f.charges == days.reduce(0) { $0 + $1.charges } && f.charges > 0)
        #expect(f.grossPnL == Int128(FixedDecimal(-60).units))
        #expect(ledger.halts.count == 1)
        let halt = ledger.halts.first
        #expect(halt?.time == tick("93", 60).timestamp)
        #expect(halt?.reason.hasPrefix("strategy loss 7") == true && halt?.reason.hasSuffix("reached its max_loss 60") == true,
                "the loss at the halt, charges included: \(halt?.reason ?? "none")")
        #expect(f.endPosition == 0)
    }

    /// A round trip on each of two IST days: a performance row per day, in date order, each
    /// with only its own fills, adding up to the run.
    @Test func eachISTDayGetsItsOwnPerformanceInDateOrder() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 2))
        var ledger = BacktestLedger()
        let day: Int64 = 86_400
        let script: [(String, Int64, OrderSide)] = [("100", 0, .buy), ("110", 60, .sell), ("110", day, .buy), ("105", day + 60, .sell)]
        for (price, at, side) in script {
            let t = tick(price, at)
            ledger.record(desk.advance(to: t.timestamp))
            ledger.record(desk.onTick(t))
            ledger.record(desk.submit(intent(side, price, at), now: t.timestamp))
            ledger.tick(t)
        }
        let f = ledger.finish()
        let days = ledger.dailyPerformance
        #expect(days.map(\.day) == [SessionCalendar.istDay(t0), SessionCalendar.istDay(t0) + 1])
        #expect(days.map(\.trades) == [2, 2] && days.map(\.winning) == [1, 0] && days.map(\.losing) == [0, 1])
        #expect(days.map(\.totalPnL) == [Int128(FixedDecimal(100).units), Int128(FixedDecimal(-50).units)])
        #expect(days.reduce(0) { $0 + $1.totalPnL } == f.netPnL && days.reduce(0) { $0 + $1.trades } == f.fills)
    }
}
