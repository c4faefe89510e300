public import Postgres

/// Finds the records PostgreSQL refuses for their content inside a batch it refused, so one bad
/// record costs itself and never the records around it (docs/operations.md, "Poison records").
///
/// A refused write of many records is split in halves, each written on its own, recursively;
/// a single record that is still refused is handed to `quarantine`. A refusal for any other
/// reason (a lost connection, a lock, a full disk on the server) is thrown unchanged, so the
/// caller retries the whole batch as before. Each write must be atomic (one statement or one
/// transaction) and the halves are written in order, so records that depend on earlier ones
/// (a trade's log after the trade) still find them.
public enum PoisonIsolation {
    /// Writes `records`; returns how many were quarantined.
    @discardableResult
    public static func write<Record>(
        _ records: ArraySlice<Record>,
        write: (ArraySlice<Record>) throws -> Void,
        quarantine: (Record, PostgresError) throws -> Void
    ) throws -> Int {
        guard !records.isEmpty else { return 0 }
        do {
            try write(records)
            return 0
        } catch let error as PostgresError where error.isContentRefusal {
            if records.count == 1 {
                try quarantine(records[records.startIndex], error)
                return 1
            }
            let middle = records.startIndex + records.count / 2
            return try Self.write(records[..<middle], write: write, quarantine: quarantine)
                + Self.write(records[middle...], write: write, quarantine: quarantine)
        }
    }
}
