/// Per-exchange session hours, MIS square-off times and the holiday calendar, in Asia/Kolkata
/// time (fixed UTC+05:30; India has no daylight saving time). Saturdays and Sundays are closed
/// on every exchange; a holiday closes the exchanges it lists. Pure.
public struct TradingCalendar: Sendable, Equatable {
    /// Open and close, in minutes after IST midnight.
    public struct Session: Sendable, Equatable {
        public var open: Int64
        public var close: Int64
        public init(open: Int64, close: Int64) {
            self.open = open
            self.close = close
        }
    }

    public var sessions: [String: Session]
    /// When intraday (MIS) positions are squared off, minutes after IST midnight.
    public var squareOff: [String: Int64]
    /// Closed days per exchange (days since 1970-01-01).
    public var holidays: [String: Set<Int64>]

    public init(sessions: [String: Session], squareOff: [String: Int64], holidays: [String: Set<Int64>] = [:]) {
        self.sessions = sessions
        self.squareOff = squareOff
        self.holidays = holidays
    }

    /// The defaults (docs/configuration.md): NSE, BSE and their F&O segments 09:15-15:30 with
    /// MIS squared off at 15:20; MCX 09:00-23:30 (square-off 23:00); CDS 09:00-17:00 (16:45).
    public static let standard = TradingCalendar(
        sessions: parseSessions(defaultSessions)!, squareOff: SessionCalendar.parse(defaultSquareOff)!)

    public static let defaultSessions = "NSE=09:15-15:30,BSE=09:15-15:30,NFO=09:15-15:30,BFO=09:15-15:30,MCX=09:00-23:30,CDS=09:00-17:00"
    public static let defaultSquareOff = "NSE=15:20,BSE=15:20,NFO=15:20,BFO=15:20,MCX=23:00,CDS=16:45"

    /// Parses `"NSE=09:15-15:30,MCX=09:00-23:30"`; nil if malformed or a close is not after its open.
    public static func parseSessions(_ text: String) -> [String: Session]? {
        var out: [String: Session] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2 else { return nil }
            let range = parts[1].split(separator: "-")
            guard range.count == 2, let open = minutes(range[0]), let close = minutes(range[1]), close > open else { return nil }
            out[String(parts[0].trimmingCharactersInWhitespace()).uppercased()] = Session(open: open, close: close)
        }
        return out
    }

    /// `"09:15"` as minutes after midnight; nil if malformed.
    static func minutes(_ text: Substring) -> Int64? {
        let hm = text.trimmingCharactersInWhitespace().split(separator: ":")
        guard hm.count == 2, let h = Int64(hm[0]), let m = Int64(hm[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }

    /// Whether `exchange` trades on the IST day `day`.
    public func isTradingDay(_ exchange: String, day: Int64) -> Bool {
        // 1970-01-01 was a Thursday: day % 7 == 2 is Saturday, 3 is Sunday.
        let weekday = ((day % 7) + 7) % 7
        if weekday == 2 || weekday == 3 { return false }
        return !(holidays[exchange]?.contains(day) ?? false)
    }

    /// The instant `minutes` after IST midnight of `day`.
    public static func instant(day: Int64, minutes: Int64) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: (day * 86_400 + minutes * 60 - SessionCalendar.istOffsetSeconds) * 1_000_000_000)
    }

    /// The session's close on `day`, nil when the exchange is closed that day.
    public func sessionClose(_ exchange: String, day: Int64) -> Timestamp? {
        guard let session = sessions[exchange], isTradingDay(exchange, day: day) else { return nil }
        return Self.instant(day: day, minutes: session.close)
    }

    /// The MIS square-off instant on `day`, nil when the exchange is closed that day or has none.
    public func squareOffTime(_ exchange: String, day: Int64) -> Timestamp? {
        guard let minutes = squareOff[exchange], isTradingDay(exchange, day: day) else { return nil }
        return Self.instant(day: day, minutes: minutes)
    }

    /// Whether `time` lies in the exchange's session on a trading day.
    public func isInSession(_ exchange: String, at time: Timestamp) -> Bool {
        let day = SessionCalendar.istDay(time)
        guard let session = sessions[exchange], isTradingDay(exchange, day: day) else { return false }
        return time >= Self.instant(day: day, minutes: session.open) && time < Self.instant(day: day, minutes: session.close)
    }

    /// Text for messages: `15:20`.
    public static func clock(_ minutes: Int64) -> String {
        let h = minutes / 60, m = minutes % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
    }
}

/// One exchange holiday.
public struct Holiday: Sendable, Equatable {
    public var exchange: String
    /// Days since 1970-01-01.
    public var day: Int64
    public var description: String?

    public init(exchange: String, day: Int64, description: String?) {
        self.exchange = exchange
        self.day = day
        self.description = description
    }
}

/// Reads a holiday calendar CSV with a header: `date` (YYYY-MM-DD, or DD-Mon-YYYY as NSE
/// writes it), `exchange` (optional when a default is given) and `description` (optional).
public struct HolidayCSVReader: Sendable {
    private let date: Int, exchange: Int?, description: Int?, count: Int
    private let defaultExchanges: [String]

    public init(header: Substring, defaultExchanges: [String]) throws(InstrumentCSVError) {
        let names = InstrumentCSVReader.fields(header).map { $0.trimmingCharactersInWhitespace().lowercased() }
        guard let date = names.firstIndex(of: "date") else { throw InstrumentCSVError(line: 1, "missing column date") }
        let exchange = names.firstIndex(of: "exchange")
        guard exchange != nil || !defaultExchanges.isEmpty else {
            throw InstrumentCSVError(line: 1, "no exchange column: name the exchanges with --exchange")
        }
        self.date = date
        self.exchange = exchange
        self.description = names.firstIndex(of: "description")
        self.count = names.count
        self.defaultExchanges = defaultExchanges
    }

    public func parse(_ text: Substring, line: Int) throws(InstrumentCSVError) -> [Holiday] {
        let fields = InstrumentCSVReader.fields(text).map { String($0.trimmingCharactersInWhitespace()) }
        guard fields.count == count else { throw InstrumentCSVError(line: line, "has \(fields.count) fields; the header has \(count)") }
        guard let day = Self.date(fields[date]) else {
            throw InstrumentCSVError(line: line, "date '\(fields[date])' is not YYYY-MM-DD or DD-Mon-YYYY")
        }
        let note = description.map { fields[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        var exchanges = defaultExchanges
        if let exchange, !fields[exchange].isEmpty { exchanges = [fields[exchange].uppercased()] }
        guard !exchanges.isEmpty else { throw InstrumentCSVError(line: line, "exchange is empty") }
        return exchanges.map { Holiday(exchange: $0, day: day, description: note) }
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func date(_ text: String) -> Int64? {
        if let day = InstrumentCSVReader.date(text) { return day }
        let parts = text.split(separator: "-")
        guard parts.count == 3, let d = Int64(parts[0]), let m = months.firstIndex(of: parts[1].lowercased()), let y = Int64(parts[2]),
              parts[2].count == 4, d >= 1, d <= CivilCalendar.daysInMonth(year: y, month: Int64(m + 1)) else { return nil }
        return CivilCalendar.days(fromCivil: y, Int64(m + 1), d)
    }
}
