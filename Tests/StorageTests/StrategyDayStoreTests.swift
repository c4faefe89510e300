import Postgres
@testable import Storage
import TestSupport
import Testing
@testable import TradingCore

/// The day's results the desk writes to `strategy_performance` read back exactly at start, so
/// a restart goes on from them (the daily loss limit, `max_loss`, the day's performance row).
@Suite("The day's results across a restart")
struct StrategyDayStoreTests {
    @Test func aStoredStrategyDayReadsBackExactlyWithItsUser() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db)
        let today = SessionCalendar.istDay(Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!)
        var day = StrategyDay(strategyID: ids.strategyID, day: today)
        day.add(fill: 0, closing: false, charges: 12_345)
        day.add(fill: 1_250_000, closing: true, charges: 23_456)
        day.add(fill: -3_333_333, closing: true, charges: 11)
        try OrderRecords.upsert(day, db)
        let loaded = try StrategyDayStore.load(db, day: today)
        #expect(loaded.count == 1 && loaded.first?.userID == ids.userID)
        #expect(loaded.first?.day == day, "every figure exact, the running peak included")
        #expect(try StrategyDayStore.load(db, day: today + 1).isEmpty)
    }
}
