import Testing
import TradingCore

/// What comes from outside is checked at the edge, so nothing accepted can trap the engine or be
/// refused by the database later (issue: nothing crashes, wedges or loses).
@Suite("Edge validation: bars, wide decimals, control messages")
struct EdgeValidationTests {
    static let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:10+05:30")!

    static func tick(_ symbol: String, _ seconds: Int64, qty: Int64 = 1) -> Tick {
        Tick(symbol: symbol, exchange: "NSE", timestamp: t0.adding(nanoseconds: seconds * 1_000_000_000), price: FixedDecimal(100), quantity: qty)
    }

    @Test func aBarsVolumeSaturatesInsteadOfTrapping() {
        // Before: two ticks of qty 5e18 on one symbol ended the process ("arithmetic overflow").
        var bar = Bar(tick: Self.tick("A", 0, qty: 5_000_000_000_000_000_000), interval: .oneMinute, start: Self.t0)
        bar.add(Self.tick("A", 1, qty: 5_000_000_000_000_000_000))
        #expect(bar.volume == .max)
        bar.add(Self.tick("A", 2, qty: 1))
        #expect(bar.volume == .max && bar.tickCount == 3)
        var aggregator = BarAggregator(intervals: [.oneMinute])
        _ = aggregator.add(Self.tick("B", 0, qty: .max))
        _ = aggregator.add(Self.tick("B", 1, qty: 1))
        #expect(aggregator.flush().first?.volume == .max)
    }

    @Test func aTickWhoseBarClosedOnFeedTimeIsLateEvenForAnInstrumentWithoutOpenBars() {
        var aggregator = BarAggregator(intervals: [.oneMinute])
        _ = aggregator.add(Self.tick("A", 0))
        let closed = aggregator.add(Self.tick("A", 60))  // 10:01:10 closes A's 10:00 bar
        #expect(closed.count == 1)
        _ = aggregator.add(Self.tick("A", 125))  // 10:02:15 closes A's 10:01 bar; A keeps only the 10:02 bar
        _ = aggregator.add(Self.tick("B", 5))  // 10:00:15: B never traded then, but the 10:00 bar closed on NSE time
        #expect(aggregator.lateTicks == 1)
        #expect(aggregator.flush().map(\.symbol) == ["A"], "no bar is made from a tick of a closed interval")
    }

    @Test func instrumentsWithoutOpenBarsAreForgottenAndTheTableIsBounded() {
        var aggregator = BarAggregator(intervals: [.oneMinute], maxInstruments: 3)
        for (i, symbol) in ["A", "B", "C", "D", "E"].enumerated() { _ = aggregator.add(Self.tick(symbol, Int64(i))) }
        #expect(aggregator.instrumentCount == 3)
        #expect(aggregator.ticksOverInstrumentLimit == 2, "D and E are stored as ticks but make no bars")
        let closed = aggregator.add(Self.tick("F", 61))  // every 10:00 bar closes; F opens the next
        #expect(closed.map(\.symbol).sorted() == ["A", "B", "C"])
        #expect(aggregator.instrumentCount == 1, "closed instruments leave the table")
    }

    @Test func aFloodOfMadeUpExchangesKeepsTheFeedTimeTableBounded() {
        // Before: feed time and the earliest bar end were kept per exchange without a bound, and
        // `exchange` is any string of 1-20 characters.
        func tick(_ exchange: String, _ seconds: Int64) -> Tick {
            Tick(symbol: "S", exchange: exchange, timestamp: Self.t0.adding(nanoseconds: seconds * 1_000_000_000), price: FixedDecimal(100), quantity: 1)
        }
        var aggregator = BarAggregator(intervals: [.oneMinute], maxInstruments: 2, maxExchanges: 4)
        for i in 0..<1_000 { _ = aggregator.add(tick("X\(i)", 0)) }
        #expect(aggregator.exchangeCount <= 4)
        #expect(aggregator.instrumentCount == 2, "two exchanges hold open bars; the others were forgotten to make room")
        #expect(aggregator.ticksOverInstrumentLimit == 998)
        // Every kept exchange with an open bar: a new one makes no bars and is counted.
        var full = BarAggregator(intervals: [.oneMinute], maxExchanges: 2)
        _ = full.add(tick("A", 0))
        _ = full.add(tick("B", 0))
        #expect(full.add(tick("C", 0)).isEmpty && full.ticksOverExchangeLimit == 1 && full.exchangeCount == 2)
        #expect(full.advance(exchange: "D", to: Self.t0).isEmpty && full.exchangeCount == 2)
        // A configured exchange's feed time is never forgotten: a late tick of a closed NSE bar
        // stays late however many made-up exchanges come.
        var guarded = BarAggregator(intervals: [.oneMinute], maxExchanges: 2)
        _ = guarded.add(tick("NSE", 0))
        _ = guarded.add(tick("NSE", 61))  // closes NSE's 10:00 bar
        _ = guarded.flush()
        for i in 0..<50 { _ = guarded.add(tick("Z\(i)", 0)) }
        _ = guarded.add(tick("NSE", 5))
        #expect(guarded.lateTicks == 1 && guarded.flush().allSatisfy { $0.exchange != "NSE" }, "no NSE bar reopened")
        // The kept exchanges' bars still close on their own feed time.
        #expect(full.add(tick("A", 61)).map(\.exchange) == ["A"])
        #expect(full.flush().map(\.exchange).sorted() == ["A", "B"])
        // Feed silence watches only exchanges with a session.
        var monitor = FeedSilenceMonitor(sessions: ["NSE": (open: 555, close: 930)], silenceSeconds: 60)
        for i in 0..<1_000 { monitor.saw("Y\(i)", at: Self.t0) }
        monitor.saw("NSE", at: Self.t0)
        #expect(monitor.watchedCount == 1)
    }

    @Test func wideDecimalsHoldOpenInterestToTenToTheFifteenExactly() {
        #expect(WideDecimal("1000000000000000")?.description == "1000000000000000")
        #expect(WideDecimal("999999999999999.9999")?.units == 9_999_999_999_999_999_999)
        #expect(WideDecimal("12.50")?.description == "12.5")
        #expect(WideDecimal("-0.0025")?.description == "-0.0025")
        #expect(WideDecimal("1.00001") == nil, "never rounded")
        #expect(WideDecimal("1e16") == nil, "beyond NUMERIC(20,4)")
        #expect(WideDecimal(FixedDecimal("83.2525")!).description == "83.2525")
    }

    @Test func jsonValuesAreReadStrictly() throws {
        let value = try JSONValue.parse(Array(#"{"a": 1, "b": [true, null, "x\u0041"], "c": -2.5e3}"#.utf8))
        #expect(value["a"]?.int64Value == 1)
        #expect(value["b"] == .array([.bool(true), .null, .string("xA")]))
        #expect(value["c"] == .number("-2.5e3"))
        #expect(value["c"]?.int64Value == nil, "not an integer")
        #expect(JSONValue.bool(true).int64Value == nil, "true is not 1")
        #expect(try JSONValue.parse(Array("9223372036854775808".utf8)).int64Value == nil, "past Int64: refused, not wrapped")
        for bad in [#"{"a":1,"a":2}"#, #"{"a":1} x"#, "[1,]", #"{"a":"\ud800"}"#, String(repeating: "[", count: 40) + String(repeating: "]", count: 40), ""] {
            #expect(throws: JSONValue.ParseError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
    }

    @Test func aReplayRequestAtInt64MaxIsAnsweredWithoutOverflow() throws {
        // Before: {"from_seq": 2^63-1, "to_seq": 2^63-1} ended the daemon (from + 9,999 overflowed).
        let max = try ReplayRequest.parse(Array(#"{"from_seq": 9223372036854775807, "to_seq": 9223372036854775807}"#.utf8)).get()
        #expect(max.window == Int64.max...Int64.max)
        let wide = try ReplayRequest.parse(Array(#"{"from_seq": 9223372036854775000, "to_seq": 9223372036854775807}"#.utf8)).get()
        #expect(wide.window.upperBound == Int64.max)
        let limited = try ReplayRequest.parse(Array(#"{"from_seq": 1, "to_seq": 9223372036854775807}"#.utf8)).get()
        #expect(limited.window == 1...10_000)
        for bad in [#"{"from_seq": 0, "to_seq": 5}"#, #"{"from_seq": 5, "to_seq": 4}"#, #"{"from_seq": true, "to_seq": 4}"#,
                    #"{"from_seq": "1", "to_seq": 4}"#, #"{"from_seq": 1.5, "to_seq": 4}"#, #"{"from_seq": 1, "to_seq": 9223372036854775808}"#,
                    #"{"from_seq": 1}"#, "not json", #"{"from_seq":1,"to_seq":2,"from_seq":3}"#] {
            #expect(throws: JSONValue.ParseError.self, "\(bad)") { try ReplayRequest.parse(Array(bad.utf8)).get() }
        }
    }

    static func report(_ json: String) -> Result<GatewayReport, GatewayMessages.Problem> {
        guard case .success(let body) = GatewayMessages.parseObject(Array(json.utf8)) else { return .failure(.init("not an object")) }
        return GatewayMessages.report(body, now: t0)
    }

    @Test func aGatewayReasonWithControlCharactersIsKeptVisiblyAndIdentifiersWithThemAreRefused() throws {
        // Before: a rejected report whose reason held \u0000 made every later order round fail (22P05).
        let rejected = try Self.report(#"{"type":"rejected","report_id":"r1","order_id":"o1","reason":"margin\u0000 short\nline"}"#).get()
        #expect(rejected.reason == #"margin\u{0} short\u{a}line"#)
        #expect(rejected.time == Self.t0)
        let long = try Self.report(#"{"type":"rejected","report_id":"r1","order_id":"o1","reason":""# + String(repeating: "x", count: 600) + #""}"#).get()
        #expect(long.reason?.count == GatewayMessages.maxReason + 1, "cut, with an ellipsis")
        for bad in [#"{"type":"rejected","report_id":"r\u0000","order_id":"o1"}"#,
                    #"{"type":"fill","report_id":"r1","order_id":"o\u0007","exec_id":"e1","fill_quantity":1,"fill_price":1}"#,
                    #"{"type":"fill","report_id":"r1","order_id":"o1","exec_id":"e1","fill_quantity":5000000000000000000,"fill_price":1}"#,
                    #"{"type":"fill","report_id":"r1","order_id":"o1","exec_id":"e1","fill_quantity":"5","fill_price":1}"#,
                    #"{"type":"fill","report_id":"r1","order_id":"o1","exec_id":"e1","fill_quantity":5,"fill_price":1e300}"#,
                    #"{"type":"fill","report_id":"r1","order_id":"o1","exec_id":"e1","fill_quantity":5,"fill_price":true}"#,
                    #"{"type":"fill","report_id":"r1","order_id":"o1","fill_quantity":5,"fill_price":1}"#,
                    #"{"type":"accepted","report_id":"r1","order_id":"o1","ts":"yesterday"}"#,
                    // Before: a fill stamped past 2262-04-11T18:17Z overflowed the IST day arithmetic.
                    #"{"type":"fill","report_id":"r1","order_id":"o1","exec_id":"e1","fill_quantity":1,"fill_price":1,"ts":"2262-04-11T23:00:00Z"}"#,
                    #"{"type":"accepted","report_id":"r1","order_id":"o1","ts":"1677-09-22T00:00:00Z"}"#,
                    #"{"type":"teleported","report_id":"r1","order_id":"o1"}"#] {
            #expect(throws: GatewayMessages.Problem.self, "\(bad)") { try Self.report(bad).get() }
        }
        let fill = try Self.report(#"{"type":"fill","report_id":"r2","order_id":"o1","exec_id":"e1","fill_quantity":5,"fill_price":100.05,"ts":"2026-11-24T04:30:00Z"}"#).get()
        #expect(fill.quantity == 5 && fill.price == FixedDecimal("100.05"))
    }

    @Test func chargesAndIndicatorsAtTheLargestAcceptedPricesDoNotTrap() {
        // Before: the STT of a fill worth ~10^22 units overflowed Int64 (a flatten or the MIS
        // square-off after a tick at the largest price crashed the daemon), and a 200-tick SMA's
        // running sum of squares overflowed Int128 near the largest price.
        let top = FixedDecimal(units: FixedDecimal.unitsLimit - 1)
        let charges = ChargeSchedule.zerodha.charges(instrument: .missing(symbol: "X", exchange: "NSE"), product: .cnc, side: .sell,
                                                     quantity: 1_000_000_000, price: top, brokerageSoFar: 0)
        #expect(charges.transactionTax == .max, "saturated, not trapped")
        #expect(charges.total == .max)
        var window = MovingWindow(capacity: 200)
        for _ in 0..<400 { window.add(top) }
        #expect(window.populationVariance == 0)
        var bands = BollingerBands(period: 20)
        var last: BollingerBands.Value?
        for i in 0..<40 { last = bands.update(i % 2 == 0 ? top : FixedDecimal(units: 1)) }
        #expect(last.map { $0.standardDeviation > 0 } == true)
        var sma = SimpleMovingAverage(period: 10_000)
        for _ in 0..<10_000 { _ = sma.update(top) }
        #expect(sma.window.isFull)
    }

    @Test func theDeskRefusesWhatTheDatabaseCouldNotHoldWhateverTheConfiguration() {
        // The configurable controls are off here; the hard bounds still hold: a position past
        // INTEGER, or worth more than the P&L columns can carry, is refused with a reason.
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 3))
        func order(_ quantity: Int64, at price: Int64) -> OrderIntent {
            OrderIntent(strategyID: "s1", userID: "u1", brokerID: "b1", symbol: "RELIANCE", exchange: "NSE", side: .buy,
                        quantity: quantity, referencePrice: FixedDecimal(price), time: Self.t0, reason: "test")
        }
        func reasons(_ records: [DeskRecord]) -> [String] {
            records.compactMap { if case .event(let e) = $0, e.order.state.status == .rejected { return e.order.reason } else { return nil } }
        }
        #expect(reasons(desk.submit(order(2_000_000_000, at: 1), now: Self.t0)).isEmpty)
        #expect(reasons(desk.submit(order(200_000_000, at: 1), now: Self.t0)).first?.contains("beyond the 2147483647") == true)
        #expect(reasons(desk.submit(order(10, at: 99_999_999_999_999), now: Self.t0)).first?.contains("₹10^15") == true)
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 2_000_000_000)
        #expect(StorageLimits.fillRefusal(quantity: 1_000_000_000, price: FixedDecimal(units: FixedDecimal.unitsLimit - 1)) != nil)
        #expect(StorageLimits.fillRefusal(quantity: 10, price: FixedDecimal(2_450)) == nil)
    }

    @Test func aHelloIsCheckedBeforeItIsUsed() throws {
        func hello(_ json: String) -> Result<GatewayMessages.Hello, GatewayMessages.Problem> {
            guard case .success(let body) = GatewayMessages.parseObject(Array(json.utf8)) else { return .failure(.init("not an object")) }
            return GatewayMessages.hello(body)
        }
        #expect(try hello(#"{"broker_ids":["b1","b2"],"gateway_id":"zerodha-1","api_type":"zerodha"}"#).get()
            == GatewayMessages.Hello(brokerIDs: ["b1", "b2"], gatewayID: "zerodha-1", apiType: "zerodha"))
        #expect(throws: GatewayMessages.Problem.self) { try hello(#"{"broker_ids":[1]}"#).get() }
        #expect(throws: GatewayMessages.Problem.self) { try hello(#"{"broker_ids":"b1"}"#).get() }
        #expect(throws: GatewayMessages.Problem.self) { try hello(#"{"broker_ids":["b1"],"gateway_id":"g\u0000"}"#).get() }
        let many = "[" + (0...GatewayMessages.maxBrokersPerHello).map { "\"b\($0)\"" }.joined(separator: ",") + "]"
        #expect(throws: GatewayMessages.Problem.self) { try hello(#"{"broker_ids":"# + many + "}").get() }
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: GatewayMessages.maxPayloadBytes + 1)
        guard case .failure = GatewayMessages.parseObject(huge) else { Issue.record("an oversized payload is refused unparsed"); return }
    }
}
