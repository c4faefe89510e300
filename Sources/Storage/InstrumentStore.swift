public import Postgres
public import TradingCore

/// The instrument master and the holiday calendar in PostgreSQL (`instruments`,
/// `exchange_holidays`): bulk, idempotent loads for the admin commands.
public struct InstrumentStore {
    let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    /// The instrument tokens of `names` ("EXCHANGE:SYMBOL"), as a feed maps its broker's ticks
    /// back to symbols: those the master holds, and the names it does not. `exchangeToken` is the
    /// exchange's own token (Angel One's stream names instruments by it; Kite's by `token`).
    public func tokens(_ names: [String]) throws -> (found: [(exchange: String, symbol: String, token: Int64, exchangeToken: Int64?)],
                                                     unknown: [String]) {
        let pairs = names.map { name -> (String, String) in
            let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
            return (parts[0].uppercased(), parts.count > 1 ? parts[1] : "")
        }
        let rows = try db.query("""
            SELECT i.exchange, i.tradingsymbol, i.instrument_token, i.exchange_token FROM instruments i
            JOIN unnest($1::text[], $2::text[]) AS w(exchange, symbol) ON i.exchange = w.exchange AND i.tradingsymbol = w.symbol
            WHERE i.instrument_token IS NOT NULL
            """, [PostgresArrayLiteral.text(pairs.map(\.0)), PostgresArrayLiteral.text(pairs.map(\.1))]).rows
        var found: [(exchange: String, symbol: String, token: Int64, exchangeToken: Int64?)] = []
        var seen: Set<String> = []
        for row in rows {
            guard let exchange = row[0], let symbol = row[1], let token = row[2].flatMap({ Int64($0) }) else { continue }
            found.append((exchange, symbol, token, row[3].flatMap { Int64($0) }))
            seen.insert(exchange + ":" + symbol)
        }
        return (found.sorted { ($0.exchange, $0.symbol) < ($1.exchange, $1.symbol) },
                zip(names, pairs).filter { !seen.contains($0.1.0 + ":" + $0.1.1) }.map(\.0))
    }

    /// What an import changed.
    public struct Outcome: Sendable, Equatable {
        public var inserted = 0
        public var updated = 0
    }

    /// Upserts instruments in one transaction (COPY into a temporary table, then one
    /// `INSERT ... ON CONFLICT`), so a rerun of the same file changes nothing and a failure
    /// leaves the table as it was. `progress` is told how many rows were sent.
    public func importInstruments(_ instruments: [Instrument], progress: (Int) -> Void) throws -> Outcome {
        try db.transaction { conn in
            _ = try conn.execute("""
                CREATE TEMPORARY TABLE instruments_load (LIKE instruments INCLUDING DEFAULTS) ON COMMIT DROP
                """)
            _ = try conn.copyIn("""
                COPY instruments_load (exchange, tradingsymbol, instrument_token, exchange_token, name, segment, instrument_type,
                                       lot_size, tick_size, freeze_quantity, expiry, strike, last_price) FROM STDIN
                """) { copy in
                var sent = 0
                for i in instruments {
                    try copy.write { out in
                        Self.field(i.exchange, &out, tab: true)
                        Self.field(i.tradingSymbol, &out, tab: true)
                        Self.field(String(i.instrumentToken), &out, tab: true)
                        Self.field(i.exchangeToken.map(String.init), &out, tab: true)
                        Self.field(i.name, &out, tab: true)
                        Self.field(i.segment, &out, tab: true)
                        Self.field(i.instrumentType, &out, tab: true)
                        Self.field(String(i.lotSize), &out, tab: true)
                        Self.field(i.tickSize.description, &out, tab: true)
                        Self.field(i.freezeQuantity.map(String.init), &out, tab: true)
                        Self.field(i.expiry.map(Self.date), &out, tab: true)
                        Self.field(i.strike?.description, &out, tab: true)
                        Self.field(i.lastPrice?.description, &out, tab: false)
                        out.append(UInt8(ascii: "\n"))
                    }
                    sent += 1
                    if sent % 5_000 == 0 { progress(sent) }
                }
                progress(sent)
            }
            // The last row of a symbol wins when a file repeats one (as a later listing would).
            let rows = try conn.query("""
                WITH src AS (
                    SELECT DISTINCT ON (exchange, tradingsymbol) * FROM instruments_load ORDER BY exchange, tradingsymbol, ctid DESC),
                up AS (
                    INSERT INTO instruments (exchange, tradingsymbol, instrument_token, exchange_token, name, segment, instrument_type,
                                             lot_size, tick_size, freeze_quantity, expiry, strike, last_price, updated_at)
                    SELECT exchange, tradingsymbol, instrument_token, exchange_token, name, segment, instrument_type, lot_size,
                           tick_size, freeze_quantity, expiry, strike, last_price, now() FROM src
                    ON CONFLICT (exchange, tradingsymbol) DO UPDATE SET
                        instrument_token = EXCLUDED.instrument_token, exchange_token = EXCLUDED.exchange_token, name = EXCLUDED.name,
                        segment = EXCLUDED.segment, instrument_type = EXCLUDED.instrument_type, lot_size = EXCLUDED.lot_size,
                        tick_size = EXCLUDED.tick_size, freeze_quantity = EXCLUDED.freeze_quantity, expiry = EXCLUDED.expiry,
                        strike = EXCLUDED.strike, last_price = EXCLUDED.last_price, updated_at = now()
                    WHERE (instruments.instrument_token, instruments.exchange_token, instruments.name, instruments.segment,
                           instruments.instrument_type, instruments.lot_size, instruments.tick_size, instruments.freeze_quantity,
                           instruments.expiry, instruments.strike, instruments.last_price)
                      IS DISTINCT FROM (EXCLUDED.instrument_token, EXCLUDED.exchange_token, EXCLUDED.name, EXCLUDED.segment,
                           EXCLUDED.instrument_type, EXCLUDED.lot_size, EXCLUDED.tick_size, EXCLUDED.freeze_quantity,
                           EXCLUDED.expiry, EXCLUDED.strike, EXCLUDED.last_price)
                    RETURNING (xmax = 0) AS inserted)
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
                """).rows
            return Outcome(inserted: Int(rows[0][0] ?? "0") ?? 0, updated: Int(rows[0][1] ?? "0") ?? 0)
        }
    }

    /// Upserts holidays (a rerun changes nothing); returns how many rows were new.
    public func importHolidays(_ holidays: [Holiday]) throws -> Int {
        try db.transaction { conn in
            var added = 0
            for h in holidays {
                added += try conn.query("""
                    INSERT INTO exchange_holidays (exchange, holiday_date, description) VALUES ($1, $2::date, $3)
                    ON CONFLICT (exchange, holiday_date) DO UPDATE SET description = EXCLUDED.description
                    WHERE exchange_holidays.description IS DISTINCT FROM EXCLUDED.description
                    RETURNING (xmax = 0)
                    """, [h.exchange, Self.date(h.day), h.description]).rows.filter { $0[0] == "t" }.count
            }
            return added
        }
    }

    /// What the master holds of a symbol, as text for display (nil columns unset).
    public struct Listing: Sendable {
        public let exchange: String, symbol: String, token: String, type: String, segment: String, lotSize: String, tickSize: String
        public let freezeQuantity: String?, expiry: String?, strike: String?
    }

    /// The master's rows for `symbol` (on `exchange`, or on every exchange).
    public func listing(symbol: String, exchange: String?) throws -> [Listing] {
        try db.query("""
            SELECT exchange, tradingsymbol, instrument_token::text, instrument_type, segment, lot_size::text, tick_size::text,
                   freeze_quantity::text, expiry::text, strike::text
            FROM instruments WHERE tradingsymbol = $1 AND ($2::text IS NULL OR exchange = $2) ORDER BY exchange
            """, [symbol, exchange]).rows.map { r in
            Listing(exchange: r[0] ?? "", symbol: r[1] ?? "", token: r[2] ?? "", type: r[3] ?? "", segment: r[4] ?? "", lotSize: r[5] ?? "",
                    tickSize: r[6] ?? "", freezeQuantity: r[7], expiry: r[8], strike: r[9])
        }
    }

    /// Holidays (date as YYYY-MM-DD, exchange, description), of one exchange and year or all.
    public func holidays(exchange: String?, year: Int?) throws -> [(date: String, exchange: String, description: String)] {
        try db.query("""
            SELECT holiday_date::text, exchange, coalesce(description, '') FROM exchange_holidays
            WHERE ($1::text IS NULL OR exchange = $1) AND ($2::int IS NULL OR extract(year FROM holiday_date) = $2)
            ORDER BY holiday_date, exchange
            """, [exchange, year.map(String.init)]).rows.map { r in (r[0] ?? "", r[1] ?? "", r[2] ?? "") }
    }

    static func date(_ day: Int64) -> String {
        let (y, m, d) = CivilCalendar.civil(fromDays: day)
        return String(y) + "-" + (m < 10 ? "0" : "") + String(m) + "-" + (d < 10 ? "0" : "") + String(d)
    }

    /// One COPY text-format field: `\N` for NULL; backslash, tab, newline and carriage return escaped.
    static func field(_ value: String?, _ out: inout [UInt8], tab: Bool) {
        if let value {
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): out += [92, 92]
                case 9: out += [92, UInt8(ascii: "t")]
                case 10: out += [92, UInt8(ascii: "n")]
                case 13: out += [92, UInt8(ascii: "r")]
                default: out.append(byte)
                }
            }
        } else {
            out += [92, UInt8(ascii: "N")]
        }
        if tab { out.append(9) }
    }
}
