/// The rows of one statement's result, in PostgreSQL's text format, copied out of the `PGresult`
/// (which is cleared at once, exactly once, by the connection).
public struct PostgresResult: Sendable {
    public let columns: [String]
    /// Each row's values in column order; `nil` is SQL NULL.
    public let rows: [[String?]]
    /// Rows affected by INSERT/UPDATE/DELETE/COPY (`PQcmdTuples`), 0 when not applicable.
    public let affectedRows: Int

    public init(columns: [String], rows: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// The first column of the first row, if any.
    public var scalar: String? { rows.first?.first ?? nil }

    /// The value of `column` in row `row`; `nil` for NULL or a missing column.
    public func value(_ column: String, row: Int = 0) -> String? {
        guard row < rows.count, let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }
}
