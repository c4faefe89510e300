public import Postgres
public import TradingCore

/// Stored ticks read back for a replay, in exchange-time order.
public enum TickHistory {
    /// How many ticks of `instruments` lie in [`from`, `to`).
    public static func count(_ db: PostgresConnection, instruments: [(symbol: String, exchange: String)], from: Timestamp,
                             to: Timestamp) throws -> Int {
        Int(try db.query("""
            SELECT count(*) FROM market_data WHERE "interval" = 'tick'
              AND (symbol, exchange) IN (SELECT * FROM unnest($1::text[], $2::text[]))
              AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
            """, [PostgresArrayLiteral.text(instruments.map(\.symbol)), PostgresArrayLiteral.text(instruments.map(\.exchange)),
                  from.description, to.description]).scalar ?? "0") ?? 0
    }

    /// The first and last tick time of `instruments` in [`from`, `to`), if any.
    public static func span(_ db: PostgresConnection, instruments: [(symbol: String, exchange: String)], from: Timestamp,
                            to: Timestamp) throws -> (first: Timestamp, last: Timestamp)? {
        let row = try db.query("""
            SELECT (extract(epoch FROM min("timestamp")) * 1000000)::bigint, (extract(epoch FROM max("timestamp")) * 1000000)::bigint
            FROM market_data WHERE "interval" = 'tick'
              AND (symbol, exchange) IN (SELECT * FROM unnest($1::text[], $2::text[]))
              AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
            """, [PostgresArrayLiteral.text(instruments.map(\.symbol)), PostgresArrayLiteral.text(instruments.map(\.exchange)),
                  from.description, to.description]).rows.first
        guard let first = row?[0].flatMap({ Int64($0) }), let last = row?[1].flatMap({ Int64($0) }) else { return nil }
        return (Timestamp(nanosecondsSinceEpoch: first * 1_000), Timestamp(nanosecondsSinceEpoch: last * 1_000))
    }

    /// Streams the ticks of `instruments` in [`from`, `to`) ordered by time (then by row id), in
    /// pages of `pageSize` through a server-side cursor, so a long range never sits in memory.
    public static func stream(_ db: PostgresConnection, instruments: [(symbol: String, exchange: String)], from: Timestamp, to: Timestamp,
                              pageSize: Int, _ body: ([Tick]) throws -> Void) throws {
        try db.transaction { conn in
            _ = try conn.query("""
                DECLARE replay_ticks NO SCROLL CURSOR FOR
                SELECT symbol, exchange, (extract(epoch FROM "timestamp") * 1000000)::bigint, close::text, volume, oi::text
                FROM market_data WHERE "interval" = 'tick'
                  AND (symbol, exchange) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                  AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
                ORDER BY "timestamp", data_id
                """, [PostgresArrayLiteral.text(instruments.map(\.symbol)), PostgresArrayLiteral.text(instruments.map(\.exchange)),
                      from.description, to.description])
            while true {
                let rows = try conn.query("FETCH FORWARD \(pageSize) FROM replay_ticks").rows
                if rows.isEmpty { break }
                var ticks: [Tick] = []
                ticks.reserveCapacity(rows.count)
                for r in rows {
                    guard let symbol = r[0], let exchange = r[1], let micros = r[2].flatMap({ Int64($0) }),
                          let price = r[3].flatMap(FixedDecimal.init) else { continue }
                    ticks.append(Tick(symbol: symbol, exchange: exchange, timestamp: Timestamp(nanosecondsSinceEpoch: micros * 1_000),
                                      price: price, quantity: r[4].flatMap { Int64($0) } ?? 0, openInterest: r[5].flatMap(WideDecimal.init)))
                }
                try body(ticks)
            }
            _ = try conn.execute("CLOSE replay_ticks")
        }
    }
}

/// Stored bars read back for a replay on bars (when the range holds no ticks).
public enum BarHistory {
    /// The bars stored per instrument and interval in [`from`, `to`).
    public static func available(_ db: PostgresConnection, instruments: [(symbol: String, exchange: String)], from: Timestamp,
                                 to: Timestamp) throws -> [(symbol: String, exchange: String, interval: BarInterval, count: Int)] {
        try db.query("""
            SELECT symbol, exchange, "interval", count(*) FROM market_data WHERE "interval" <> 'tick'
              AND (symbol, exchange) IN (SELECT * FROM unnest($1::text[], $2::text[]))
              AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
            GROUP BY 1, 2, 3
            """, [PostgresArrayLiteral.text(instruments.map(\.symbol)), PostgresArrayLiteral.text(instruments.map(\.exchange)),
                  from.description, to.description]).rows.compactMap { r in
            guard let symbol = r[0], let exchange = r[1], let interval = r[2].flatMap(BarInterval.init(rawValue:)),
                  let count = r[3].flatMap({ Int($0) }) else { return nil }
            return (symbol, exchange, interval, count)
        }
    }

    /// How many bars of `instruments` starting in [`from`, `to`) lie wholly outside
    /// [`first`, `last`]: ended by `first` or started after `last` (a bar built from those ticks
    /// covers some of them and is not counted).
    public static func outside(_ db: PostgresConnection, instruments: [(symbol: String, exchange: String)], from: Timestamp, to: Timestamp,
                               first: Timestamp, last: Timestamp) throws -> Int {
        Int(try db.query("""
            SELECT count(*) FROM market_data WHERE "interval" <> 'tick'
              AND (symbol, exchange) IN (SELECT * FROM unnest($1::text[], $2::text[]))
              AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
              AND ("timestamp" > $6::timestamptz OR "timestamp" + CASE "interval" WHEN '1min' THEN interval '1 minute'
                   WHEN '5min' THEN interval '5 minutes' WHEN '15min' THEN interval '15 minutes' WHEN '30min' THEN interval '30 minutes'
                   WHEN '1hour' THEN interval '1 hour' ELSE interval '1 day' END <= $5::timestamptz)
            """, [PostgresArrayLiteral.text(instruments.map(\.symbol)), PostgresArrayLiteral.text(instruments.map(\.exchange)),
                  from.description, to.description, first.description, last.description]).scalar ?? "0") ?? 0
    }

    /// Streams the bars of each (symbol, exchange, interval) in `series` starting in [`from`,
    /// `to`), ordered by start (then symbol, exchange), in pages through a server-side cursor.
    public static func stream(_ db: PostgresConnection, series: [(symbol: String, exchange: String, interval: BarInterval)], from: Timestamp,
                              to: Timestamp, pageSize: Int, _ body: ([Bar]) throws -> Void) throws {
        try db.transaction { conn in
            _ = try conn.query("""
                DECLARE replay_bars NO SCROLL CURSOR FOR
                SELECT symbol, exchange, "interval", (extract(epoch FROM "timestamp") * 1000000)::bigint, open::text, high::text,
                       low::text, close::text, volume, oi::text
                FROM market_data WHERE (symbol, exchange, "interval") IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
                  AND "timestamp" >= $4::timestamptz AND "timestamp" < $5::timestamptz
                ORDER BY "timestamp", symbol, exchange
                """, [PostgresArrayLiteral.text(series.map(\.symbol)), PostgresArrayLiteral.text(series.map(\.exchange)),
                      PostgresArrayLiteral.text(series.map(\.interval.rawValue)), from.description, to.description])
            while true {
                let rows = try conn.query("FETCH FORWARD \(pageSize) FROM replay_bars").rows
                if rows.isEmpty { break }
                try body(rows.compactMap { r in
                    guard let symbol = r[0], let exchange = r[1], let interval = r[2].flatMap(BarInterval.init(rawValue:)),
                          let micros = r[3].flatMap({ Int64($0) }), let open = r[4].flatMap(FixedDecimal.init),
                          let high = r[5].flatMap(FixedDecimal.init), let low = r[6].flatMap(FixedDecimal.init),
                          let close = r[7].flatMap(FixedDecimal.init), let volume = r[8].flatMap({ Int64($0) }) else { return nil }
                    return Bar(symbol: symbol, exchange: exchange, interval: interval, start: Timestamp(nanosecondsSinceEpoch: micros * 1_000),
                               open: open, high: high, low: low, close: close, volume: volume, openInterest: r[9].flatMap(WideDecimal.init),
                               tickCount: 0)
                })
            }
            _ = try conn.execute("CLOSE replay_bars")
        }
    }
}
