/// A history file's row that cannot be imported: its line and why, as the instrument and
/// holiday readers report theirs (one error type for every CSV import).
public typealias HistoryCSVError = InstrumentCSVError

/// One row of a history file.
public enum HistoryRow: Sendable, Equatable {
    case tick(Tick)
    case bar(Bar)
}

/// Reads the CSV files `algotrader history import` loads (docs/strategies.md, "History"), by
/// their header (names in any order and case):
/// - ticks: `timestamp,price,qty`, with optional `oi`, `symbol`, `exchange`;
/// - bars: `date,open,high,low,close,volume` (Kite Connect's historical candles, as its SDK
///   gives them), with optional `oi`, `symbol`, `exchange`; `timestamp` may name the time column.
/// A time is RFC 3339 with an offset (`2026-01-05T09:15:00+05:30`, also Kite's `+0530` and a
/// space for the `T`), a local time without an offset (Asia/Kolkata), a date (IST midnight, for
/// day bars), or an integer Unix epoch in seconds, milliseconds, microseconds or nanoseconds (by
/// its size). Values are exact decimals, never rounded; a bar must be a bar of its interval on
/// the engine's grid (intraday bars start at the exchange's session open and every interval
/// after), as the engine's own bars are. Pure: no I/O.
public struct HistoryCSVReader: Sendable {
    public enum Layout: String, Sendable { case ticks, bars }

    public let layout: Layout
    /// `--interval`: the bars' interval (bars only).
    public let interval: BarInterval?
    private let time: Int
    private let price: Int?, quantity: Int?
    private let open: Int?, high: Int?, low: Int?, close: Int?, volume: Int?
    private let oi: Int?, symbolColumn: Int?, exchangeColumn: Int?
    private let fixedSymbol: String?, fixedExchange: String
    private let calendar: SessionCalendar
    private let columns: Int

    /// The largest `qty` of a tick and `volume` of a bar, and `oi` (CONTRACT.md section 1's maxima).
    public static let maxQuantity = TickLimits.maxQuantity
    public static let maxVolume = TickLimits.maxVolume
    public static let maxOpenInterest = TickLimits.maxOpenInterest

    /// The times a history row may have: far from `Timestamp`'s ends, so nothing built on them
    /// (bar grids, the ticks of a replay on bars) can overflow.
    public static let earliest = Timestamp.parseRFC3339("1900-01-01T00:00:00Z")!
    public static let latest = Timestamp.parseRFC3339("2200-01-01T00:00:00Z")!

    /// `symbol` and `exchange` (default NSE) are for rows without those columns; `interval` is
    /// required for a bar file.
    public init(header: Substring, symbol: String?, exchange: String?, interval: BarInterval?,
                calendar: SessionCalendar) throws(HistoryCSVError) {
        let names = InstrumentCSVReader.fields(header).map { $0.trimmingSpaces.lowercased() }
        func column(_ candidates: String...) -> Int? { names.firstIndex { candidates.contains($0) } }
        guard let time = column("timestamp", "date", "datetime", "time", "ts") else {
            throw HistoryCSVError(line: 1, "no time column: the header needs timestamp (or date); it has \(names.joined(separator: ","))")
        }
        self.time = time
        price = column("price", "ltp", "last_price")
        quantity = column("qty", "quantity", "last_quantity")
        open = column("open"); high = column("high"); low = column("low"); close = column("close")
        volume = column("volume")
        oi = column("oi", "open_interest")
        symbolColumn = column("symbol", "tradingsymbol")
        exchangeColumn = column("exchange")
        columns = names.count
        self.calendar = calendar
        if price != nil {
            guard open == nil, close == nil else {
                throw HistoryCSVError(line: 1, "the header has both price (a tick file) and open/close (a bar file)")
            }
            layout = .ticks
            guard interval == nil else {
                throw HistoryCSVError(line: 1, "--interval is for bar files; this is a tick file (it has a price column)")
            }
        } else if open != nil && high != nil && low != nil && close != nil && volume != nil {
            layout = .bars
            guard interval != nil else {
                throw HistoryCSVError(line: 1, "a bar file needs --interval (1min, 5min, 15min, 30min, 1hour or 1day; Kite's minute ... day too)")
            }
        } else {
            throw HistoryCSVError(line: 1, "the header is neither a tick file (timestamp,price,qty) nor a bar file (date,open,high,low,close,volume): it has \(names.joined(separator: ","))")
        }
        self.interval = interval
        if symbolColumn == nil {
            guard let symbol else { throw HistoryCSVError(line: 1, "the file has no symbol column: give --symbol") }
            fixedSymbol = try Self.checked(symbol, name: "--symbol", max: 50, line: 1)
        } else {
            fixedSymbol = nil
        }
        fixedExchange = try Self.checked(exchange ?? "NSE", name: "--exchange", max: 20, line: 1)
    }

    /// `--interval`: the engine's names, or Kite Connect's (`minute`, `5minute`, `15minute`,
    /// `30minute`, `60minute`, `day`).
    public static func interval(_ text: String) -> BarInterval? {
        if let own = BarInterval(rawValue: text) { return own }
        switch text {
        case "minute": return .oneMinute
        case "5minute": return .fiveMinutes
        case "15minute": return .fifteenMinutes
        case "30minute": return .thirtyMinutes
        case "60minute": return .oneHour
        case "day": return .oneDay
        default: return nil
        }
    }

    /// One data row (`line` is its 1-based line number, for the message).
    public func parse(_ text: Substring, line: Int) throws(HistoryCSVError) -> HistoryRow {
        let fields = InstrumentCSVReader.fields(text)
        guard fields.count == columns else {
            throw HistoryCSVError(line: line, "\(fields.count) fields where the header has \(columns)")
        }
        func value(_ index: Int?) -> String? {
            guard let index else { return nil }
            let v = fields[index].trimmingSpaces
            return v.isEmpty ? nil : v
        }
        var symbol = fixedSymbol ?? ""
        if fixedSymbol == nil { symbol = try Self.checked(value(symbolColumn) ?? "", name: "symbol", max: 50, line: line) }
        var exchange = fixedExchange
        if exchangeColumn != nil { exchange = try Self.checked(value(exchangeColumn) ?? fixedExchange, name: "exchange", max: 20, line: line) }
        guard let timeText = value(time) else { throw HistoryCSVError(line: line, "the time is empty") }
        guard let stamp = Self.time(timeText) else {
            throw HistoryCSVError(line: line, "'\(timeText)' is not a time (RFC 3339 such as 2026-01-05T09:15:00+05:30, a local IST time, a date or a Unix epoch)")
        }
        guard stamp >= Self.earliest, stamp < Self.latest else {
            throw HistoryCSVError(line: line, "\(timeText) lies outside the years 1900 to 2199")
        }
        var openInterest: WideDecimal?
        if let text = value(oi) {
            guard let v = WideDecimal(text), v >= .zero, v <= Self.maxOpenInterest else {
                throw HistoryCSVError(line: line, "oi '\(text)' is not a number from 0 to 10^15 with at most 4 decimals")
            }
            openInterest = v
        }
        func decimal(_ name: String, _ index: Int?) throws(HistoryCSVError) -> FixedDecimal {
            guard let text = value(index) else { throw HistoryCSVError(line: line, "\(name) is empty") }
            guard let v = FixedDecimal(text), v > .zero else {
                throw HistoryCSVError(line: line, "\(name) '\(text)' is not a price above 0 with at most 4 decimals and 14 digits before the point")
            }
            return v
        }
        func integer(_ name: String, _ index: Int?, max: Int64, default fallback: Int64?) throws(HistoryCSVError) -> Int64 {
            guard let text = value(index) else {
                if let fallback { return fallback }
                throw HistoryCSVError(line: line, "\(name) is empty")
            }
            // Kite's SDK writes volumes as integers; a pandas export may add ".0".
            let digits = text.hasSuffix(".0") ? String(text.dropLast(2)) : text
            guard let v = Int64(digits), v >= 0, v <= max else {
                throw HistoryCSVError(line: line, "\(name) '\(text)' is not a whole number from 0 to \(max)")
            }
            return v
        }
        switch layout {
        case .ticks:
            let price = try decimal("price", price)
            let quantity = try integer("qty", quantity, max: Self.maxQuantity, default: 0)
            return .tick(Tick(symbol: symbol, exchange: exchange, timestamp: stamp, price: price, quantity: quantity, openInterest: openInterest))
        case .bars:
            let interval = self.interval ?? .oneMinute
            let o = try decimal("open", open), h = try decimal("high", high), l = try decimal("low", low), c = try decimal("close", close)
            guard l <= o, l <= c, h >= o, h >= c else {
                throw HistoryCSVError(line: line, "high \(h) and low \(l) do not contain open \(o) and close \(c)")
            }
            let v = try integer("volume", volume, max: Self.maxVolume, default: nil)
            let start = calendar.barStart(stamp, interval: interval, exchange: exchange)
            guard start == stamp else {
                throw HistoryCSVError(line: line, "\(timeText) is not the start of a \(interval.rawValue) bar on \(exchange): the one containing it starts at \(Self.ist(start)) IST (intraday bars start at the session open and every \(interval.rawValue) after; day bars at IST midnight)")
            }
            return .bar(Bar(symbol: symbol, exchange: exchange, interval: interval, start: stamp, open: o, high: h, low: l, close: c,
                            volume: v, openInterest: openInterest, tickCount: 0))
        }
    }

    /// The time forms the reader accepts (see the type's comment).
    public static func time(_ text: String) -> Timestamp? {
        if let t = Timestamp.parseRFC3339(text) { return t }
        var bytes = Array(text.utf8)
        // Kite writes the offset without a colon: +0530.
        if bytes.count >= 24, bytes[bytes.count - 5] == UInt8(ascii: "+") || bytes[bytes.count - 5] == UInt8(ascii: "-"),
           bytes[(bytes.count - 4)...].allSatisfy({ $0 &- 48 < 10 }) {
            bytes.insert(UInt8(ascii: ":"), at: bytes.count - 2)
            return Timestamp.parseRFC3339(String(decoding: bytes, as: UTF8.self))
        }
        if bytes.allSatisfy({ $0 &- 48 < 10 }), !bytes.isEmpty, bytes.count <= 19, let n = Int64(text) {
            // The unit by the size: seconds below 10^11, milliseconds below 10^14, microseconds
            // below 10^17, else nanoseconds. A value whose nanoseconds overflow is no time
            // (found by the fuzzer: 21780000000 seconds).
            let scale: Int64 = n < 100_000_000_000 ? 1_000_000_000 : n < 100_000_000_000_000 ? 1_000_000 : n < 100_000_000_000_000_000 ? 1_000 : 1
            let (ns, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? nil : Timestamp(nanosecondsSinceEpoch: ns)
        }
        if bytes.count == 10, let day = Self.day(text) {
            return TradingCalendar.instant(day: day, minutes: 0)
        }
        // A local time without an offset is Asia/Kolkata's.
        if bytes.count >= 19, Timestamp.parseRFC3339(text + "+05:30") != nil { return Timestamp.parseRFC3339(text + "+05:30") }
        return nil
    }

    public static func day(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
              // Years past 2262 do not fit a Timestamp (found by the fuzzer: 9999-01-01 trapped).
              (1900...2199).contains(y), (1...12).contains(m), d >= 1, d <= CivilCalendar.daysInMonth(year: y, month: m) else { return nil }
        return CivilCalendar.days(fromCivil: y, m, d)
    }

    /// `2026-01-05 09:15:00`.
    static func ist(_ time: Timestamp) -> String {
        let shifted = Timestamp(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch + SessionCalendar.istOffsetSeconds * 1_000_000_000)
        return String(shifted.description.prefix(19).map { $0 == "T" ? " " : $0 })
    }

    /// A symbol or exchange as the feed takes strings (docs/ingest.md): 1 to `max` characters
    /// (Unicode scalars, as VARCHAR counts them), no control character (C0, DEL, C1), no space
    /// at either end (a CSV field's padding is not part of a symbol).
    static func checked(_ text: String, name: String, max: Int, line: Int) throws(HistoryCSVError) -> String {
        guard !text.isEmpty, text.unicodeScalars.count <= max, !text.unicodeScalars.contains(where: TickLimits.isControl),
              text.first != " ", text.last != " " else {
            throw HistoryCSVError(line: line, "\(name) '\(text)' must be 1 to \(max) characters without control characters")
        }
        return text
    }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
