import Foundation
import Testing
@testable import TradingCore

/// Funds and margin (issue 16, item 7; failed on 1106958, where paper accounts traded without
/// capital): an order needs margin for the exposure it adds, refused with the figures beyond the
/// account's available cash; closing releases it; fills' P&L and charges move the cash.
@Suite("Funds and margin per broker account")
struct FundsTests {
    let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!

    func intent(_ side: OrderSide, _ quantity: Int64, at price: Int64, broker: String = "b1", strategy: String = "s1") -> OrderIntent {
        OrderIntent(strategyID: strategy, userID: "u1", brokerID: broker, symbol: "RELIANCE", exchange: "NSE", side: side, quantity: quantity,
                    referencePrice: FixedDecimal(price), time: t0, reason: "test")
    }

    func status(_ records: [DeskRecord]) -> (OrderStatus?, String?) {
        let order = records.compactMap { if case .event(let e) = $0, e.kind == .order { e.order } else { nil } }.last
        return (order?.state.status, order?.reason)
    }

    @Test func marginIsBlockedByProductRefusedBeyondTheCashAndReleasedOnClose() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 1))
        desk.funds = Funds(paperCapital: 100_000 * 10_000)  // ₹1,00,000; MIS 20 %, NRML 100 %, CNC the full value
        desk.strategyPolicies["cnc"] = StrategyOrderPolicy(product: .cnc)
        #expect(status(desk.submit(intent(.buy, 100, at: 2_450), now: t0)).0 == .filled, "₹2,45,000 MIS blocks ₹49,000")
        let refused = status(desk.submit(intent(.buy, 300, at: 2_450), now: t0))
        #expect(refused.0 == .rejected && refused.1?.hasPrefix("insufficient funds: the order needs 147000") == true
                && refused.1?.contains("51000 is available in broker account b1") == true, "\(refused)")
        let cnc = status(desk.submit(intent(.buy, 30, at: 2_450, strategy: "cnc"), now: t0))
        #expect(cnc.0 == .rejected, "CNC blocks the full ₹73,500: \(cnc)")
        #expect(status(desk.submit(intent(.sell, 100, at: 2_440), now: t0)).0 == .filled, "a closing order needs no margin")
        // Closed: the margin is free again, and the cash is ₹1,00,000 less the ₹1,000 lost.
        #expect(desk.funds.cash(broker: "b1", live: false) == Int128(990_000_000))
        #expect(status(desk.submit(intent(.buy, 200, at: 2_450), now: t0)).0 == .filled, "₹98,000 of ₹99,000")
        #expect(status(desk.submit(intent(.buy, 3, at: 2_450), now: t0)).0 == .rejected)
        #expect(status(desk.submit(intent(.buy, 3, at: 2_450, broker: "b2"), now: t0)).0 == .filled, "each account has its own cash")
    }

    @Test func anExitWaitingAtItsLimitBlocksNoMargin() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 3))
        desk.funds = Funds(paperCapital: 100_000 * 10_000)
        _ = desk.submit(intent(.buy, 100, at: 2_450), now: t0)  // blocks ₹49,000
        var exit = intent(.sell, 100, at: 2_450)
        exit.type = .limit
        exit.limitPrice = FixedDecimal(2_600)
        #expect(status(desk.submit(exit, now: t0)).0 == .open)
        #expect(desk.blockedMargin(broker: "b1") == 49_000 * 10_000, "the exit only takes exposure off")
    }

    /// Failed before the decoder: a journal round written before `placedByEngine` existed.
    @Test func anIntentJournaledBeforePlacedByEngineStillDecodes() throws {
        let data = try JSONEncoder().encode(intent(.buy, 1, at: 100))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["placedByEngine"] = nil
        let old = try JSONSerialization.data(withJSONObject: object)
        let decoded = try JSONDecoder().decode(OrderIntent.self, from: old)
        #expect(decoded == intent(.buy, 1, at: 100) && !decoded.placedByEngine)
    }

    @Test func aLiveAccountIsCheckedAgainstWhatItsGatewayReports() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 2))
        desk.liveBrokers = ["live1"]
        desk.setConnectedBrokers(["live1"])
        desk.funds = Funds(paperCapital: 100_000 * 10_000)
        #expect(status(desk.submit(intent(.buy, 1_000, at: 2_450, broker: "live1"), now: t0)).0 == .pending,
                "unchecked until its gateway reports funds: the broker checks its own")
        desk.funds.report(broker: "live1", cash: 10_000 * 10_000)
        let refused = status(desk.submit(intent(.buy, 100, at: 2_450, broker: "live1"), now: t0))
        #expect(refused.0 == .rejected && refused.1?.contains("insufficient funds") == true, "the pending order blocks its margin too: \(refused)")
    }

    @Test func theMarginScheduleRoundsUpAndChargesCount() {
        let schedule = Funds.MarginSchedule(misPercent: FixedDecimal("12.5")!, nrmlPercent: FixedDecimal(15))
        #expect(schedule.margin(value: 1_000_000, product: .mis) == 125_000)
        #expect(schedule.margin(value: 3, product: .nrml) == 1, "never under-blocked")
        #expect(schedule.margin(value: 5, product: .cnc) == 5)
        var funds = Funds(paperCapital: 1_000)
        funds.settle(broker: "b", realized: 200, charges: 50)
        #expect(funds.cash(broker: "b", live: false) == 1_150)
        #expect(funds.cash(broker: "b", live: true) == nil)
    }

    /// Settings (live at start and on SIGHUP, a replay at its start) replace the configuration,
    /// never what the desk holds: a position, the account's cash so far.
    @Test func applyingSettingsKeepsWhatTheDeskHolds() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 9))
        var settings = DeskSettings()
        settings.paperCapital = 1_000_000_000
        settings.sessionActions = false
        settings.defaultProduct = .cnc
        settings.strategyPolicies = DeskSettings.policies([("s1", StrategyParameters(["max_loss": .number("50")]))])
        desk.apply(settings)
        let t = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        _ = desk.advance(to: t)
        _ = desk.submit(OrderIntent(strategyID: "s1", userID: "u1", brokerID: "b1", symbol: "INFY", exchange: "NSE", side: .buy, quantity: 10,
                                    referencePrice: FixedDecimal(1_500), time: t, reason: "test"), now: t)
        let before = desk.fundsInUse(broker: "b1", live: false)
        settings.marginSchedule = Funds.MarginSchedule(misPercent: FixedDecimal(25))
        desk.apply(settings)
        #expect(desk.position(userID: "u1", symbol: "INFY", exchange: "NSE") == 10)
        #expect(desk.fundsInUse(broker: "b1", live: false)?.cash == before?.cash && before?.blocked == 150_000_000, "CNC blocks the full value")
        #expect(desk.strategyPolicies["s1"]?.maxLoss == FixedDecimal(50) && desk.defaultProduct == .cnc && !desk.sessionActions)
        #expect(desk.funds.schedule.misPercent == FixedDecimal(25))
    }
}
