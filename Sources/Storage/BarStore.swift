import Foundation
import Postgres
public import TradingCore

/// Stores closed bars in `market_data` (upserted on their natural key, so a bar stored at
/// shutdown and completed after a restart is one row) and the indicator values declared for
/// them in `indicator_values`, one transaction per batch. Also rebuilds the bars in progress
/// from stored ticks after a restart. Owned by one thread.
public final class BarStore {
    private let connection: LazyConnection
    private var layout: String?

    public init(connectionString: String) {
        self.connection = LazyConnection(connectionString: connectionString)
    }

    private func connected() throws -> PostgresConnection {
        let c = try connection.get()
        if layout == nil { layout = try c.query("SELECT layout FROM market_data_layout").scalar }
        return c
    }

    public func close() { connection.close() }

    /// Upserts bars and inserts their indicator values. A batch PostgreSQL refuses for a bar's
    /// content is split until the bar is found; it goes to `quarantine`, the rest is stored.
    /// Returns the bars quarantined.
    @discardableResult
    public func store(_ bars: [(bar: Bar, indicators: [String: [String: Double]])]) throws -> Int {
        guard !bars.isEmpty else { return 0 }
        let db = try connected()
        return try PoisonIsolation.write(bars[...]) { part in
            try upsert(Array(part), db)
        } quarantine: { item, error in
            var record = JSONObjectWriter()
            record.add("symbol", item.bar.symbol)
            record.add("exchange", item.bar.exchange)
            record.add("interval", item.bar.interval.rawValue)
            record.add("start", time: item.bar.start)
            record.add("open", item.bar.open)
            record.add("high", item.bar.high)
            record.add("low", item.bar.low)
            record.add("close", item.bar.close)
            record.add("volume", item.bar.volume)
            record.add("oi", item.bar.openInterest)
            let key = "\(item.bar.symbol)|\(item.bar.exchange)|\(item.bar.interval.rawValue)|\(item.bar.start)"
            try QuarantineStore.insert([QuarantineStore.Entry(kind: .bar, key: key, refusal: error, record: record.bytes)], on: db)
        }
    }

    private func upsert(_ bars: [(bar: Bar, indicators: [String: [String: Double]])], _ db: PostgresConnection) throws {
        // Native layout: the unique index lives on the bar partition; TimescaleDB: a partial
        // unique index on market_data.
        let table = layout == "native" ? "market_data_bar" : "market_data"
        let conflict = layout == "native"
            ? #"ON CONFLICT (symbol, exchange, "interval", "timestamp")"#
            : #"ON CONFLICT (symbol, exchange, "interval", "timestamp") WHERE "interval" <> 'tick'"#
        var columns = Array(repeating: [String?](), count: 10)
        for (bar, _) in bars {
            let row: [String?] = [bar.symbol, bar.exchange, bar.start.description, bar.open.description, bar.high.description,
                                  bar.low.description, bar.close.description, String(bar.volume), bar.openInterest?.description,
                                  bar.interval.rawValue]
            for (i, value) in row.enumerated() { columns[i].append(value) }
        }
        try db.transaction { conn in
            let rows = try conn.query(
                """
                INSERT INTO \(table) AS m
                    (symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval")
                SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[], $5::numeric[], $6::numeric[],
                                     $7::numeric[], $8::bigint[], $9::numeric[], $10::text[])
                \(conflict)
                DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
                              volume = EXCLUDED.volume, oi = EXCLUDED.oi
                RETURNING m.symbol, m.exchange, m."interval", m."timestamp", m.data_id::text
                """, columns.map { PostgresArrayLiteral.text($0) })
            // Indicator rows point at the bar's row (existing or new) by its natural key.
            var ids: [String: (String, String)] = [:]
            for row in rows.rows {
                guard let symbol = row[0], let exchange = row[1], let interval = row[2], let stamp = row[3], let id = row[4] else { continue }
                ids["\(symbol)|\(exchange)|\(interval)|\(stamp)"] = (id, stamp)
            }
            let stamps = try conn.query("SELECT t::text FROM unnest($1::timestamptz[]) AS t", [PostgresArrayLiteral.text(columns[2])]).rows.map { $0[0] ?? "" }
            var indicatorColumns = Array(repeating: [String?](), count: 5)
            for (index, item) in bars.enumerated() where !item.indicators.isEmpty && index < stamps.count {
                guard let (id, stamp) = ids["\(item.bar.symbol)|\(item.bar.exchange)|\(item.bar.interval.rawValue)|\(stamps[index])"] else { continue }
                for (name, values) in item.indicators.sorted(by: { $0.key < $1.key }) {
                    var json = JSONObjectWriter()
                    for (key, value) in values.sorted(by: { $0.key < $1.key }) { json.add(key, double: value) }
                    indicatorColumns[0].append(id)
                    indicatorColumns[1].append(name)
                    indicatorColumns[2].append(json.text)
                    indicatorColumns[3].append(stamp)
                    indicatorColumns[4].append(item.bar.interval.rawValue)
                }
            }
            if !indicatorColumns[0].isEmpty {
                // A bar stored open at shutdown and again when it closes after a restart keeps
                // one value per indicator: its final one replaces the provisional.
                try conn.query(
                    """
                    DELETE FROM indicator_values v USING unnest($1::uuid[], $2::text[]) AS x(i, n)
                    WHERE v.data_id = x.i AND v.indicator_name = x.n
                    """, [PostgresArrayLiteral.text(indicatorColumns[0]), PostgresArrayLiteral.text(indicatorColumns[1])])
                try conn.query(
                    """
                    INSERT INTO indicator_values (data_id, indicator_name, "values", calculated_at, data_timestamp, data_interval)
                    SELECT i, n, v::jsonb, now(), t, iv FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS x(i, n, v, t, iv)
                    """, indicatorColumns.map { PostgresArrayLiteral.text($0) })
            }
        }
    }

    /// The bars in progress when the engine last stopped (or crashed), rebuilt from the stored
    /// ticks: for each exchange, the feed time is its latest stored tick time (within the last
    /// day), and every bar containing it is aggregated from the ticks since its start.
    /// At most `maxInstruments` instruments per exchange and interval, the most recently traded
    /// (`bars.max_instruments`: what the aggregator would have held).
    public func barsInProgress(calendar: SessionCalendar, intervals: [BarInterval] = BarInterval.allCases, maxInstruments: Int = 100_000)
        throws -> (bars: [Bar], feedTimes: [String: Timestamp]) {
        let db = try connected()
        let feeds = try db.query(
            #"SELECT exchange, (extract(epoch FROM max("timestamp")) * 1000000)::bigint FROM market_data WHERE "interval" = 'tick' AND "timestamp" > now() - interval '1 day' GROUP BY exchange"#
        ).rows
        var bars: [Bar] = []
        var feedTimes: [String: Timestamp] = [:]
        for row in feeds {
            guard let exchange = row[0], let micros = row[1].flatMap({ Int64($0) }) else { continue }
            let feed = Timestamp(nanosecondsSinceEpoch: micros * 1000)
            feedTimes[exchange] = feed
            for interval in intervals {
                let start = calendar.barStart(feed, interval: interval, exchange: exchange)
                let rows = try db.query(
                    """
                    SELECT symbol,
                           ((array_agg(close ORDER BY "timestamp", data_id))[1])::text,
                           max(high)::text, min(low)::text,
                           ((array_agg(close ORDER BY "timestamp" DESC, data_id DESC))[1])::text,
                           least(sum(volume), 9223372036854775807)::text,
                           ((array_agg(oi ORDER BY "timestamp" DESC, data_id DESC) FILTER (WHERE oi IS NOT NULL))[1])::text,
                           count(*)
                    FROM market_data
                    WHERE "interval" = 'tick' AND exchange = $1 AND "timestamp" >= $2::timestamptz
                    GROUP BY symbol ORDER BY max("timestamp") DESC LIMIT $3::int
                    """, [exchange, start.description, String(maxInstruments)]).rows
                for r in rows {
                    guard let symbol = r[0], let open = r[1].flatMap(FixedDecimal.init), let high = r[2].flatMap(FixedDecimal.init),
                          let low = r[3].flatMap(FixedDecimal.init), let close = r[4].flatMap(FixedDecimal.init),
                          let volume = r[5].flatMap({ Int64($0) }), let count = r[7].flatMap({ Int($0) }) else { continue }
                    bars.append(Bar(symbol: symbol, exchange: exchange, interval: interval, start: start, open: open, high: high,
                                    low: low, close: close, volume: volume, openInterest: r[6].flatMap(WideDecimal.init), tickCount: count))
                }
            }
        }
        return (bars, feedTimes)
    }
}
