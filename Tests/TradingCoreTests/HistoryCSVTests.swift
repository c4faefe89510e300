import Testing
import TradingCore

/// Issue 19: the history files `algotrader history import` reads, their time forms, and the
/// rows it refuses (with the line).
@Suite("History CSV files")
struct HistoryCSVTests {
    let calendar = SessionCalendar.standard

    func reader(_ header: String, symbol: String? = "RELIANCE", exchange: String? = nil, interval: BarInterval? = nil) throws -> HistoryCSVReader {
        try HistoryCSVReader(header: Substring(header), symbol: symbol, exchange: exchange, interval: interval, calendar: calendar)
    }

    @Test func kiteCandlesWithTheirColonlessOffsetAndOpenInterestAreBarsOfTheGivenInterval() throws {
        let r = try reader("date,open,high,low,close,volume,oi", interval: HistoryCSVReader.interval("minute"))
        #expect(r.layout == .bars)
        let row = try r.parse("2026-01-05T09:16:00+0530,2450.05,2451,2449.5,2450.5,1200,35000", line: 2)
        #expect(row == .bar(Bar(symbol: "RELIANCE", exchange: "NSE", interval: .oneMinute, start: Timestamp.parseRFC3339("2026-01-05T09:16:00+05:30")!,
                                open: FixedDecimal("2450.05")!, high: FixedDecimal("2451")!, low: FixedDecimal("2449.5")!, close: FixedDecimal("2450.5")!,
                                volume: 1200, openInterest: WideDecimal("35000"), tickCount: 0)))
        // pandas' to_csv of the SDK's rows: a space, a colon in the offset, volume as a float.
        let pandas = try r.parse("2026-01-05 09:17:00+05:30,1,1,1,1,12.0,", line: 3)
        guard case .bar(let b) = pandas else { Issue.record("not a bar"); return }
        #expect(b.start == Timestamp.parseRFC3339("2026-01-05T09:17:00+05:30") && b.volume == 12 && b.openInterest == nil)
    }

    @Test func kitesIntervalNamesMapToTheEnginesAndOthersAreRefused() {
        #expect(HistoryCSVReader.interval("5minute") == .fiveMinutes)
        #expect(HistoryCSVReader.interval("60minute") == .oneHour)
        #expect(HistoryCSVReader.interval("day") == .oneDay)
        #expect(HistoryCSVReader.interval("1hour") == .oneHour)
        #expect(HistoryCSVReader.interval("3minute") == nil)
    }

    @Test func aTickFileTakesEpochsOfAnyUnitRFC3339AndLocalISTTimes() throws {
        let r = try reader("timestamp,price,qty", symbol: "INFY", exchange: "BSE")
        #expect(r.layout == .ticks)
        let expected = Timestamp.parseRFC3339("2026-01-05T09:15:00+05:30")!
        let seconds = expected.nanosecondsSinceEpoch / 1_000_000_000
        for (text, time) in [(String(seconds), expected), (String(seconds * 1_000 + 250), expected.adding(nanoseconds: 250_000_000)),
                             (String(seconds * 1_000_000), expected), (String(expected.nanosecondsSinceEpoch), expected),
                             ("2026-01-05T03:45:00Z", expected), ("2026-01-05 09:15:00", expected), ("2026-01-05T09:15:00.5", expected.adding(nanoseconds: 500_000_000))] {
            let row = try r.parse(Substring("\(text),1500.25,7"), line: 2)
            #expect(row == .tick(Tick(symbol: "INFY", exchange: "BSE", timestamp: time, price: FixedDecimal("1500.25")!, quantity: 7)), "\(text)")
        }
        // qty is optional (0), and columns may come in any order with the symbol in the file.
        let own = try reader("Price,Symbol,Timestamp,Exchange", symbol: nil)
        #expect(try own.parse("10,TCS,2026-01-05T09:15:00+05:30,NSE", line: 2)
                == .tick(Tick(symbol: "TCS", exchange: "NSE", timestamp: expected, price: FixedDecimal(10), quantity: 0)))
    }

    @Test func aDayBarStartsAtISTMidnightAndAnIntradayBarOnTheSessionGrid() throws {
        let day = try reader("date,open,high,low,close,volume", interval: .oneDay)
        guard case .bar(let b) = try day.parse("2026-01-05,10,12,9,11,100", line: 2) else { Issue.record("not a bar"); return }
        #expect(b.start == Timestamp.parseRFC3339("2026-01-05T00:00:00+05:30"))
        let hour = try reader("date,open,high,low,close,volume", interval: .oneHour)
        #expect(throws: HistoryCSVError.self) { try hour.parse("2026-01-05T10:00:00+05:30,10,12,9,11,100", line: 4) }
        do {
            _ = try hour.parse("2026-01-05T10:00:00+05:30,10,12,9,11,100", line: 4)
        } catch {
            #expect(error.line == 4 && error.message.contains("starts at 2026-01-05 09:15:00 IST"), "\(error)")
        }
        _ = try hour.parse("2026-01-05T10:15:00+05:30,10,12,9,11,100", line: 5)
    }

    @Test func badRowsAreRefusedWithTheirLineAndWhy() throws {
        let bars = try reader("date,open,high,low,close,volume", interval: .oneMinute)
        let cases: [(String, String)] = [
            ("2026-01-05T09:15:00+05:30,10,9,11,10,5", "do not contain"),
            ("2026-01-05T09:15:00+05:30,10,11,9,10,-5", "volume '-5'"),
            ("2026-01-05T09:15:00+05:30,10.12345,11,9,10,5", "open '10.12345'"),
            ("2026-01-05T09:15:00+05:30,0,11,9,10,5", "open '0'"),
            ("2026-01-05T09:15:00+05:30,10,11,9,10", "5 fields where the header has 6"),
            ("yesterday,10,11,9,10,5", "'yesterday' is not a time"),
            ("2026-01-05T09:15:00+05:30,100000000000000,100000000000000,9,10,5", "14 digits"),
            // Found by the fuzzer: seconds whose nanoseconds overflow trapped.
            ("21780000000,10,11,9,10,5", "'21780000000' is not a time"),
            ("1800-01-01T00:00:00Z,10,11,9,10,5", "outside the years 1900 to 2199"),
            ("9999-01-01,10,11,9,10,5", "'9999-01-01' is not a time"),  // trapped: found by the fuzzer
        ]
        for (row, message) in cases {
            #expect {
                _ = try bars.parse(Substring(row), line: 7)
            } throws: { error in
                guard let e = error as? HistoryCSVError else { return false }
                return e.line == 7 && e.message.contains(message)
            }
        }
        let ticks = try reader("timestamp,price,qty")
        #expect(throws: HistoryCSVError.self) { try ticks.parse("2026-01-05T09:15:00+05:30,10,1000000001", line: 2) }
        let named = try reader("timestamp,price,symbol", symbol: nil)
        #expect(throws: HistoryCSVError.self) { try named.parse("2026-01-05T09:15:00+05:30,10,BAD\u{0}SYMBOL", line: 2) }
        // A C1 control, and 50 characters of two scalars each (100 for VARCHAR(50)): both
        // reached PostgreSQL before (one stored, one refused there with exit 1).
        #expect(throws: HistoryCSVError.self) { try named.parse("2026-01-05T09:15:00+05:30,10,A\u{85}B", line: 2) }
        #expect(throws: HistoryCSVError.self) {
            try named.parse(Substring("2026-01-05T09:15:00+05:30,10," + String(repeating: "e\u{301}", count: 50)), line: 2)
        }
    }

    @Test func aHeaderThatFitsNeitherLayoutOrLacksAnOptionIsRefused() {
        #expect(throws: HistoryCSVError.self) { try reader("date,open,high,low,close,volume") }  // no --interval
        #expect(throws: HistoryCSVError.self) { try reader("timestamp,price,qty", interval: .oneMinute) }
        #expect(throws: HistoryCSVError.self) { try reader("timestamp,price,qty", symbol: nil) }
        #expect(throws: HistoryCSVError.self) { try reader("when,price") }
        #expect(throws: HistoryCSVError.self) { try reader("date,open,close") }
    }
}
