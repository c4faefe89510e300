/// A bad row of an instruments file: the line (1-based, the header is line 1) and what is wrong.
public struct InstrumentCSVError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// Reads the instruments CSV that Indian brokers publish, in Zerodha's layout (the de facto
/// format, `https://api.kite.trade/instruments`):
///
///     instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
///
/// Columns are found by their header name, so their order does not matter and other columns are
/// ignored; `freeze_qty` (or `freeze_quantity`), which Zerodha's dump lacks and NSE publishes
/// separately, is read when present. Index rows (segment `INDICES`) are not tradable and are
/// skipped. Fields may be quoted (RFC 4180).
public struct InstrumentCSVReader: Sendable {
    public static let requiredColumns = ["instrument_token", "tradingsymbol", "tick_size", "lot_size", "instrument_type", "segment", "exchange"]

    private let columns: [String: Int]
    private let headerCount: Int

    /// Reads the header line.
    public init(header: Substring) throws(InstrumentCSVError) {
        var columns: [String: Int] = [:]
        let names = Self.fields(header)
        for (index, name) in names.enumerated() {
            columns[name.trimmingCharactersInWhitespace().lowercased(), default: index] = index
        }
        let missing = Self.requiredColumns.filter { columns[$0] == nil }
        guard missing.isEmpty else {
            throw InstrumentCSVError(line: 1, "missing column\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) (Zerodha's instruments layout is expected)")
        }
        self.columns = columns
        self.headerCount = names.count
    }

    /// What one data line is.
    public enum Row: Sendable, Equatable {
        case instrument(Instrument)
        /// Not tradable (an index); skipped.
        case skipped
    }

    /// Parses a data line (`line` is its 1-based number, for the error).
    public func parse(_ text: Substring, line: Int) throws(InstrumentCSVError) -> Row {
        let fields = Self.fields(text)
        func field(_ name: String) -> String? {
            guard let index = columns[name], index < fields.count else { return nil }
            let value = fields[index].trimmingCharactersInWhitespace()
            return value.isEmpty ? nil : String(value)
        }
        func required(_ name: String) throws(InstrumentCSVError) -> String {
            guard let value = field(name) else { throw InstrumentCSVError(line: line, "\(name) is empty") }
            return value
        }
        func integer(_ name: String, _ text: String) throws(InstrumentCSVError) -> Int64 {
            guard let value = Int64(text) else { throw InstrumentCSVError(line: line, "\(name) '\(text)' is not a whole number") }
            return value
        }
        func decimal(_ name: String, _ text: String) throws(InstrumentCSVError) -> FixedDecimal {
            guard let value = FixedDecimal(text) else { throw InstrumentCSVError(line: line, "\(name) '\(text)' is not a number with at most 4 decimals") }
            return value
        }
        guard fields.count == headerCount else {
            throw InstrumentCSVError(line: line, "has \(fields.count) fields; the header has \(headerCount)")
        }
        let segment = try required("segment")
        if segment == "INDICES" { return .skipped }
        let token = try integer("instrument_token", try required("instrument_token"))
        let symbol = try required("tradingsymbol")
        let exchange = try required("exchange")
        let type = try required("instrument_type")
        let lot = try integer("lot_size", try required("lot_size"))
        guard lot >= 1 else { throw InstrumentCSVError(line: line, "lot_size \(lot) must be at least 1") }
        let tick = try decimal("tick_size", try required("tick_size"))
        guard tick.units > 0 else { throw InstrumentCSVError(line: line, "tick_size \(tick) must be positive") }
        var instrument = Instrument(instrumentToken: token, tradingSymbol: symbol, exchange: exchange, segment: segment,
                                    instrumentType: type, lotSize: lot, tickSize: tick)
        if let text = field("exchange_token") { instrument.exchangeToken = try integer("exchange_token", text) }
        instrument.name = field("name")
        if let text = field("last_price") { instrument.lastPrice = try decimal("last_price", text) }
        if let text = field("strike") {
            let strike = try decimal("strike", text)
            instrument.strike = strike.units == 0 && !instrument.isOption ? nil : strike
        }
        if let text = field("expiry") {
            guard let day = Self.date(text) else { throw InstrumentCSVError(line: line, "expiry '\(text)' is not a date (YYYY-MM-DD)") }
            instrument.expiry = day
        }
        if let text = field("freeze_qty") ?? field("freeze_quantity") {
            let freeze = try integer("freeze_qty", text)
            guard freeze >= 1 else { throw InstrumentCSVError(line: line, "freeze_qty \(freeze) must be at least 1") }
            instrument.freezeQuantity = freeze
        }
        return .instrument(instrument)
    }

    /// `YYYY-MM-DD` as days since 1970-01-01.
    public static func date(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
              (1...12).contains(m), d >= 1, d <= CivilCalendar.daysInMonth(year: y, month: m) else { return nil }
        return CivilCalendar.days(fromCivil: y, m, d)
    }

    /// Splits one CSV line into fields; a quoted field may hold commas and doubled quotes.
    static func fields(_ line: Substring) -> [Substring] {
        var line = line
        if line.last == "\r" { line = line.dropLast() }
        guard line.contains("\"") else { return line.split(separator: ",", omittingEmptySubsequences: false) }
        var out: [Substring] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { current.append("\"") } else { quoted = false; pending = next }
                    } else { quoted = false }
                } else { current.append(c) }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                out.append(Substring(current))
                current = ""
            } else {
                current.append(c)
            }
        }
        out.append(Substring(current))
        return out
    }
}
