import TradingCore

/// The time axis of a backtest chart: session time only. Each Asia/Kolkata day with data is
/// one session wide (its open to its close, in minutes), days side by side in date order, so
/// nights, weekends and holidays take no room and a run of many days stays readable. A time
/// outside the session is drawn at the session's nearer edge.
struct ChartAxis {
    let days: [Int64]
    let session: TradingCalendar.Session
    private let index: [Int64: Int]

    init(times: [Timestamp], session: TradingCalendar.Session) {
        days = Set(times.map(SessionCalendar.istDay)).sorted()
        index = Dictionary(uniqueKeysWithValues: days.enumerated().map { ($1, $0) })
        self.session = session
    }

    var sessionMinutes: Int64 { max(session.close - session.open, 1) }
    /// In minutes of session time.
    var width: Int64 { sessionMinutes * Int64(max(days.count, 1)) }

    func x(_ time: Timestamp) -> Double {
        let day = SessionCalendar.istDay(time)
        let open = TradingCalendar.instant(day: day, minutes: session.open).nanosecondsSinceEpoch
        let minutes = min(max(Double(time.nanosecondsSinceEpoch - open) / 60e9, 0), Double(sessionMinutes))
        return Double(Int64(index[day] ?? 0) * sessionMinutes) + minutes
    }

    /// Where one day ends and the next begins.
    var dayBreaks: [Int64] { days.indices.dropFirst().map { Int64($0) * sessionMinutes } }

    /// Labels (a second line after a newline): for up to three days, the full hours, each day's
    /// first with its date below; for more, the dates, thinned to at most twelve.
    var tics: [(label: String, x: Int64)] {
        if days.count <= 3 {
            var out: [(String, Int64)] = []
            for (i, day) in days.enumerated() {
                var minute = (session.open + 59) / 60 * 60
                var first = true
                while minute < session.close {
                    out.append((TradingCalendar.clock(minute) + (first ? "\n" + Self.date(day) : ""), Int64(i) * sessionMinutes + minute - session.open))
                    first = false
                    minute += 60
                }
            }
            return out
        }
        let step = (days.count + 11) / 12
        return days.enumerated().filter { $0.offset % step == 0 }.map { (Self.date($0.element), Int64($0.offset) * sessionMinutes) }
    }

    /// `01 Jun`, or `01 Jun 2026` when the axis spans years (not needed: the title has the range).
    static func date(_ day: Int64) -> String {
        let (_, m, d) = CivilCalendar.civil(fromDays: day)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return (d < 10 ? "0" : "") + String(d) + " " + months[Int(m) - 1]
    }
}
