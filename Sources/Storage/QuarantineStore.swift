public import Postgres
public import TradingCore

/// The `quarantine` table (migration 9): records PostgreSQL refused for their content, and
/// journal records that could not be read back, kept byte for byte with the reason.
public enum QuarantineStore {
    public enum Kind: String, Sendable {
        case tick, bar
        case orderRecord = "order_record"
        case event
        case tickJournal = "tick_journal"
        case eventJournal = "event_journal"
    }

    /// One quarantined record. `key` identifies it (a tick's id, a round and position, a journal
    /// position): quarantining the same key again does nothing, so a retried batch adds no copy.
    public struct Entry: Sendable {
        public var kind: Kind
        public var key: String
        public var sqlState: String?
        public var reason: String
        public var record: [UInt8]
        /// A JSON object of lookups (`seq` and `topic` of an event, the round id, ...).
        public var details: JSONObjectWriter

        public init(kind: Kind, key: String, sqlState: String? = nil, reason: String, record: [UInt8],
                    details: JSONObjectWriter = JSONObjectWriter()) {
            self.kind = kind
            self.key = key
            self.sqlState = sqlState
            self.reason = reason
            self.record = record
            self.details = details
        }

        /// An entry for a record the database refused with `error`.
        public init(kind: Kind, key: String, refusal error: PostgresError, record: [UInt8],
                    details: JSONObjectWriter = JSONObjectWriter()) {
            var reason = error.message
            if let detail = error.detail { reason += " (\(detail))" }
            self.init(kind: kind, key: key, sqlState: error.sqlState, reason: reason, record: record, details: details)
        }
    }

    /// Inserts the entries (in the caller's transaction, if any).
    public static func insert(_ entries: [Entry], on connection: PostgresConnection) throws {
        for entry in entries {
            try connection.query("""
                INSERT INTO quarantine (kind, record_key, sqlstate, reason, record, details)
                VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6::jsonb)
                ON CONFLICT (kind, record_key) DO NOTHING
                """, [entry.kind.rawValue, printable(entry.key), entry.sqlState, printable(entry.reason), hex(entry.record),
                      entry.details.text])
        }
    }

    /// Text safe for a `text` column whatever it came from (control characters, which include
    /// the NUL PostgreSQL refuses, written visibly).
    static func printable(_ text: String) -> String { PrintableText.make(text, maxCharacters: 10_000) }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Quarantined records of one kind, newest first (for tests and operators).
    public static func list(kind: Kind, on connection: PostgresConnection, limit: Int = 1_000)
        throws -> [(key: String, sqlState: String?, reason: String, record: [UInt8], details: String)] {
        try connection.query("""
            SELECT record_key, sqlstate, reason, encode(record, 'hex'), details::text FROM quarantine
            WHERE kind = $1 ORDER BY created_at DESC, record_key LIMIT $2::int
            """, [kind.rawValue, String(limit)]).rows.map { row in
            (row[0] ?? "", row[1], row[2] ?? "", unhex(row[3] ?? ""), row[4] ?? "{}")
        }
    }

    static func unhex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8 = c <= 57 ? c &- 48 : (c | 0x20) &- 87
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }
}
