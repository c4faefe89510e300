import Testing
import TradingCore

@Suite("Feed health: silence during a session")
struct FeedSilenceMonitorTests {
    // Tuesday 2026-11-24, 10:00 IST.
    let tuesday10 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!

    func monitor() -> FeedSilenceMonitor {
        FeedSilenceMonitor(sessions: FeedSilenceMonitor.parseSessions("NSE=09:15-15:30, MCX=09:00-23:30")!, silenceSeconds: 60)
    }

    @Test func aFeedSilentLongerThanTheLimitInSessionAlarmsOnceAndResumes() {
        var m = monitor()
        m.saw("NSE", at: tuesday10)
        #expect(m.evaluate(now: tuesday10.adding(nanoseconds: 59_000_000_000)).isEmpty)
        #expect(m.evaluate(now: tuesday10.adding(nanoseconds: 61_000_000_000)) == [.silent(exchange: "NSE", sinceSeconds: 61)])
        #expect(m.evaluate(now: tuesday10.adding(nanoseconds: 120_000_000_000)).isEmpty, "one alarm per silence")
        m.saw("NSE", at: tuesday10.adding(nanoseconds: 121_000_000_000))
        #expect(m.evaluate(now: tuesday10.adding(nanoseconds: 122_000_000_000)) == [.resumed(exchange: "NSE")])
    }

    @Test func anExchangeHolidayHasNoSessionSoASilentFeedRaisesNoAlarm() {
        var m = monitor()
        m.holidays = ["NSE": [SessionCalendar.istDay(tuesday10)]]
        m.saw("NSE", at: tuesday10)
        m.saw("MCX", at: tuesday10)
        #expect(m.evaluate(now: tuesday10.adding(nanoseconds: 600_000_000_000)) == [.silent(exchange: "MCX", sinceSeconds: 600)],
                "NSE is closed for its holiday; MCX trades")
    }

    @Test func outsideSessionsWeekendsAndUnseenExchangesNoAlarm() {
        var m = monitor()
        let evening = Timestamp.parseRFC3339("2026-11-24T16:00:00+05:30")!
        m.saw("NSE", at: evening)
        #expect(m.evaluate(now: evening.adding(nanoseconds: 3_600_000_000_000)).isEmpty, "NSE is closed at 17:00")
        let saturday = Timestamp.parseRFC3339("2026-11-28T10:00:00+05:30")!
        m.saw("MCX", at: saturday)
        #expect(m.evaluate(now: saturday.adding(nanoseconds: 600_000_000_000)).isEmpty, "no session on Saturday")
        #expect(m.inSession("MCX", at: Timestamp.parseRFC3339("2026-11-24T23:00:00+05:30")!))
        #expect(!m.inSession("BSE", at: tuesday10), "an exchange without configured hours is not watched")
        #expect(FeedSilenceMonitor.parseSessions("NSE=15:30-09:15") == nil)
        #expect(FeedSilenceMonitor.parseSessions("NSE") == nil)
    }
}
