import Postgres
import TradingCore

/// A row for `system_logs`.
public struct SystemLogEntry: Sendable, Equatable {
    public enum Level: String, Sendable {
        case debug = "DEBUG", info = "INFO", warning = "WARNING", error = "ERROR", critical = "CRITICAL"
    }

    public var component: String
    public var level: Level
    public var message: String
    /// A JSON object as text, or `nil`.
    public var data: String?

    public init(component: String, level: Level, message: String, data: String? = nil) {
        self.component = component
        self.level = level
        self.message = message
        self.data = data
    }
}

/// Inserts `system_logs` rows in one statement per batch, on a connection of its own.
public final class SystemLogStore {
    private let connection: LazyConnection

    public init(connectionString: String) {
        self.connection = LazyConnection(connectionString: connectionString)
    }

    /// Inserts all entries in one statement (arrays unnested server-side). An entry PostgreSQL
    /// refuses for its content (a NUL from outside in a sample, say) is split out and written
    /// again with its text made printable and its data replaced by the refusal, so one bad entry
    /// never holds back the log lines behind it.
    public func insert(_ entries: [SystemLogEntry]) throws {
        guard !entries.isEmpty else { return }
        let connection = try self.connection.get()
        try PoisonIsolation.write(entries[...]) { part in
            try Self.insert(Array(part), connection)
        } quarantine: { entry, error in
            var data = JSONObjectWriter()
            data.add("unstorable", "PostgreSQL refused this entry's data: \(error.message)")
            let plain = SystemLogEntry(component: PrintableText.make(entry.component, maxCharacters: 50), level: entry.level,
                                       message: PrintableText.make(entry.message, maxCharacters: 2_000), data: data.text)
            try Self.insert([plain], connection)
        }
    }

    private static func insert(_ entries: [SystemLogEntry], _ connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO system_logs (component, log_level, message, data)
            SELECT c, l, m, d::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(c, l, m, d)
            """,
            [
                PostgresArrayLiteral.text(entries.map(\.component)),
                PostgresArrayLiteral.text(entries.map(\.level.rawValue)),
                PostgresArrayLiteral.text(entries.map(\.message)),
                PostgresArrayLiteral.text(entries.map(\.data)),
            ]
        )
    }

    public func close() { connection.close() }
}

/// Builds PostgreSQL array literals (`{"a","b",NULL}`) for `$n::text[]` parameters.
public enum PostgresArrayLiteral {
    public static func text(_ values: [String?]) -> String {
        var out = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { out += "," }
            guard let value else { out += "NULL"; continue }
            out += "\""
            for ch in value.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    public static func text(_ values: [String]) -> String { text(values.map { Optional($0) }) }
}
