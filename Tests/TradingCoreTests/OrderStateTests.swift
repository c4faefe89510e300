import Testing
import TradingCore

@Suite("Order lifecycle state machine")
struct OrderStateTests {
    static let fill = OrderEvent.filled(executionID: "e1", quantity: 4, price: FixedDecimal(100))

    /// Drives a fresh order of 10 into `status` by legal events.
    static func order(in status: OrderStatus) throws -> OrderState {
        var order = OrderState(quantity: 10, price: FixedDecimal(100))
        switch status {
        case .pending: break
        case .open: try order.apply(.accepted)
        case .partiallyFilled: try order.apply(.accepted); try order.apply(fill)
        case .filled: try order.apply(.accepted); try order.apply(.filled(executionID: "all", quantity: 10, price: FixedDecimal(100)))
        case .cancelled: try order.apply(.cancelled(reason: "user"))
        case .rejected: try order.apply(.rejected(reason: "risk"))
        }
        #expect(order.status == status)
        return order
    }

    /// Every (state, event) pair: the legal ones and where they lead; everything else throws.
    static let legal: [OrderStatus: [String: OrderStatus]] = [
        .pending: ["accepted": .open, "rejected": .rejected, "cancelled": .cancelled, "modified": .pending],
        .open: ["rejected": .rejected, "cancelled": .cancelled, "modified": .open, "filled": .partiallyFilled, "filled all": .filled,
                "filled rest": .partiallyFilled],
        .partiallyFilled: ["cancelled": .cancelled, "modified": .partiallyFilled, "filled": .partiallyFilled, "filled rest": .filled],
        .filled: [:], .cancelled: [:], .rejected: [:],
    ]

    static let events: [(String, OrderEvent)] = [
        ("accepted", .accepted),
        ("rejected", .rejected(reason: "x")),
        ("cancelled", .cancelled(reason: "x")),
        ("modified", .modified(quantity: 12, price: FixedDecimal(101), triggerPrice: nil)),
        ("filled", .filled(executionID: "e2", quantity: 1, price: FixedDecimal(99))),
        ("filled all", .filled(executionID: "e3", quantity: 10, price: FixedDecimal(99))),
        ("filled rest", .filled(executionID: "e4", quantity: 6, price: FixedDecimal(99))),
    ]

    @Test(arguments: OrderStatus.allCases)
    func everyTransitionFromAStateIsLegalOrRefused(status: OrderStatus) throws {
        for (name, event) in Self.events {
            var order = try Self.order(in: status)
            let before = order
            if let target = Self.legal[status]?[name] {
                try order.apply(event)
                #expect(order.status == target, "\(status) --\(name)--> \(target)")
            } else {
                #expect(throws: OrderTransitionError.self, "\(status) --\(name)--> must be refused") { try order.apply(event) }
                #expect(order == before, "a refused event changes nothing")
            }
        }
    }

    @Test func averagePriceIsTheQuantityWeightedMeanRoundedHalfEven() throws {
        var order = OrderState(quantity: 3)
        try order.apply(.accepted)
        try order.apply(.filled(executionID: "a", quantity: 1, price: FixedDecimal(units: 1_000_001)))
        try order.apply(.filled(executionID: "b", quantity: 2, price: FixedDecimal(units: 1_000_000)))
        // (1,000,001 + 2,000,000) / 3 = 1,000,000.333… -> 1,000,000
        #expect(order.averagePrice == FixedDecimal(units: 1_000_000))
        #expect(order.status == .filled)
        var tie = OrderState(quantity: 2)
        try tie.apply(.accepted)
        try tie.apply(.filled(executionID: "a", quantity: 1, price: FixedDecimal(units: 3)))
        try tie.apply(.filled(executionID: "b", quantity: 1, price: FixedDecimal(units: 6)))
        #expect(tie.averagePrice == FixedDecimal(units: 4), "4.5 rounds to the even 4")
    }

    @Test func aRepeatedExecutionReportChangesNothing() throws {
        var order = try Self.order(in: .partiallyFilled)
        let before = order
        #expect(try order.apply(Self.fill) == .duplicate)
        #expect(order == before)
    }

    @Test func overfillsAndShrinkingBelowTheFilledQuantityAreRefused() throws {
        var order = try Self.order(in: .partiallyFilled)  // 4 of 10 filled
        #expect(throws: OrderTransitionError.self) { try order.apply(.filled(executionID: "x", quantity: 7, price: FixedDecimal(1))) }
        #expect(throws: OrderTransitionError.self) { try order.apply(.modified(quantity: 4, price: nil, triggerPrice: nil)) }
        try order.apply(.modified(quantity: 5, price: nil, triggerPrice: nil))
        #expect(order.remainingQuantity == 1)
    }
}

@Suite("Net positions and realized P&L")
struct NetPositionTests {
    /// 10,000 random fill sequences against the plainest fold there is: quantity is the sum of
    /// signed fills, and realized − open cost is the net cash flow, exactly, whatever the
    /// average-cost rounding; when flat, realized P&L is the net cash flow itself.
    @Test func tenThousandRandomFillSequencesFoldToTheSameResult() {
        var rng = SplitMix64(seed: 10_000)
        for _ in 0..<10_000 {
            var position = NetPosition()
            var quantity: Int64 = 0
            var cashFlow: Int128 = 0  // Σ −signed qty × price, in 1/10,000
            let fills = 1 + Int(rng.next() % 12)
            for _ in 0..<fills {
                var q = Int64(rng.next() % 200) - 100
                if q == 0 { q = 1 }
                if rng.next() % 4 == 0 && quantity != 0 { q = -quantity }  // flatten now and then
                let price = FixedDecimal(units: 10_000 + Int64(rng.next() % 5_000_000))
                let actions = position.apply(fill: q, price: price)
                quantity += q
                cashFlow -= Int128(q) * Int128(price.units)
                #expect(position.quantity == quantity)
                #expect(position.realized - position.openCost == cashFlow)
                if quantity == 0 {
                    #expect(position.realized == cashFlow, "flat: realized P&L is the net cash flow")
                    #expect(position.status == .closed && actions.last?.action == .close)
                } else {
                    #expect(position.status != .closed)
                    let mark = FixedDecimal(units: 10_000 + Int64(rng.next() % 5_000_000))
                    #expect(position.realized + position.unrealized(at: mark) == cashFlow + Int128(quantity) * Int128(mark.units))
                }
            }
        }
    }

    @Test func actionsAndStatusFollowTheSeedVocabulary() {
        var p = NetPosition()
        #expect(p.apply(fill: 10, price: FixedDecimal(100)).map(\.action) == [.open])
        #expect(p.status == .open)
        #expect(p.apply(fill: 5, price: FixedDecimal(110)).map(\.action) == [.increase])
        #expect(p.averagePrice == FixedDecimal(units: 1_033_333), "(10×100 + 5×110) / 15 = 103.3333")
        let decrease = p.apply(fill: -6, price: FixedDecimal(120))
        #expect(decrease.map(\.action) == [.decrease])
        #expect(p.status == .partiallyClosed)
        #expect(decrease[0].pnl == 1_000_000, "exactly 6 × 120 − 6/15 of the 1,550 cost = 100.0000")
        #expect(p.apply(fill: -12, price: FixedDecimal(90)).map(\.action) == [.close, .open], "through zero: close, then open short")
        #expect(p.quantity == -3 && p.status == .open && p.averagePrice == FixedDecimal(90))
    }
}
