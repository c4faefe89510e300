/// Where each exchange's bar grid is anchored: intraday bars lie on a grid starting at the
/// session open in Asia/Kolkata time (NSE 1hour bars start 09:15, 10:15, ...), and a day bar
/// is one Asia/Kolkata calendar day (CONTRACT.md section 1). India has no daylight saving time,
/// so IST is a fixed UTC+05:30.
public struct SessionCalendar: Sendable, Equatable {
    /// UTC+05:30 in seconds.
    public static let istOffsetSeconds: Int64 = 19_800

    /// Session open per exchange, in minutes after IST midnight.
    public var sessionOpenMinutes: [String: Int64]
    /// For exchanges not listed.
    public var defaultOpenMinutes: Int64

    /// The contract's defaults: 09:15 for NSE, BSE, NFO and BFO; 09:00 for MCX and CDS.
    public static let standard = SessionCalendar(
        sessionOpenMinutes: ["NSE": 555, "BSE": 555, "NFO": 555, "BFO": 555, "MCX": 540, "CDS": 540],
        defaultOpenMinutes: 555
    )

    public init(sessionOpenMinutes: [String: Int64], defaultOpenMinutes: Int64 = 555) {
        self.sessionOpenMinutes = sessionOpenMinutes
        self.defaultOpenMinutes = defaultOpenMinutes
    }

    /// Parses `"NSE=09:15,MCX=09:00"`; `nil` if malformed.
    public static func parse(_ text: String) -> [String: Int64]? {
        var out: [String: Int64] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2 else { return nil }
            guard let minutes = TradingCalendar.minutes(parts[1]) else { return nil }
            out[String(parts[0].trimmingCharactersInWhitespace())] = minutes
        }
        return out
    }

    /// The start of the bar of `interval` that contains `time` on `exchange`.
    public func barStart(_ time: Timestamp, interval: BarInterval, exchange: String) -> Timestamp {
        let ns = time.nanosecondsSinceEpoch
        let offset = Self.istOffsetSeconds * 1_000_000_000
        let local = ns + offset
        let day = Timestamp.nanosecondsPerDay
        let dayStart = floorDiv(local, day) * day
        if interval == .oneDay {
            return Timestamp(nanosecondsSinceEpoch: dayStart - offset)
        }
        let open = (sessionOpenMinutes[exchange] ?? defaultOpenMinutes) * 60_000_000_000
        let length = interval.nanoseconds
        let bucket = floorDiv(local - dayStart - open, length)
        return Timestamp(nanosecondsSinceEpoch: dayStart + open + bucket * length - offset)
    }

    /// The end (exclusive) of the bar that starts at `start`.
    public func barEnd(start: Timestamp, interval: BarInterval) -> Timestamp {
        start.adding(nanoseconds: interval.nanoseconds)
    }

    /// The Asia/Kolkata calendar day of `time`, as days since 1970-01-01.
    public static func istDay(_ time: Timestamp) -> Int64 {
        // Saturating: a time within 5.5 hours of Timestamp's end must not trap.
        let (shifted, overflow) = time.nanosecondsSinceEpoch.addingReportingOverflow(istOffsetSeconds * 1_000_000_000)
        return floorDiv(overflow ? .max : shifted, Timestamp.nanosecondsPerDay)
    }
}

@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let (q, r) = a.quotientAndRemainder(dividingBy: b)
    return r < 0 ? q - 1 : q
}

extension Substring {
    func trimmingCharactersInWhitespace() -> Substring {
        var s = self
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return s
    }
}
