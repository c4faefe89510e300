public import Postgres

/// Why `migrate` or the schema check at start refused to go on.
public enum MigrationError: Error, CustomStringConvertible, Sendable {
    /// An applied migration's text differs from this binary's: someone edited a released file.
    case checksumMismatch(version: Int, name: String)
    /// The database has migrations this binary does not know: it is older than the schema.
    case databaseNewer(databaseVersion: Int, binaryVersion: Int)
    /// The database lacks migrations this binary needs (serve only; migrate applies them).
    case databaseOlder(databaseVersion: Int, binaryVersion: Int)
    /// A migration failed; it was rolled back as a whole.
    case failed(version: Int, name: String, error: PostgresError)

    public var description: String {
        switch self {
        case .checksumMismatch(let version, let name):
            "migration \(version) (\(name)) was applied with different text: released migrations must never be edited; add a new one"
        case .databaseNewer(let db, let binary):
            "database schema is at version \(db), newer than this binary's \(binary): upgrade the binary"
        case .databaseOlder(let db, let binary):
            "database schema is at version \(db), older than this binary's \(binary): run 'algotrader migrate'"
        case .failed(let version, let name, let error) where error.sqlState == SQLState.insufficientPrivilege:
            "migration \(version) (\(name)) was refused and rolled back: \(error); migrations run as the login that owns the schema, "
                + "not as serve's runtime login (docs/operations.md, \"A runtime login\")"
        case .failed(let version, let name, let error):
            "migration \(version) (\(name)) failed and was rolled back: \(error)"
        }
    }
}

/// Applies ``Migration/all`` in order, each in its own transaction, and records each with a
/// SHA-256 of its text. Safe to run again: applied migrations are verified, not re-run, and
/// concurrent runs serialize on an advisory lock.
public struct Migrator {
    /// Arbitrary constant: the advisory lock key all `migrate` runs share.
    static let lockKey: Int64 = 0x616C_676F_6D69_6772  // "algomigr"

    public let migrations: [Migration]
    /// `off` keeps the native partitioned layout even where TimescaleDB is preloaded.
    public let timescaleMode: String

    public init(migrations: [Migration] = Migration.all, timescaleMode: String = "auto") {
        self.migrations = migrations
        self.timescaleMode = timescaleMode
    }

    public struct Status: Equatable, Sendable {
        public let databaseVersion: Int
        public let binaryVersion: Int

        public init(databaseVersion: Int, binaryVersion: Int) {
            self.databaseVersion = databaseVersion
            self.binaryVersion = binaryVersion
        }
    }

    /// Brings the schema to the binary's version; returns the versions applied now.
    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> [Int] {
        try migrateReporting(connection).map(\.version)
    }

    /// A migration applied now, with what it reports having done to existing rows.
    public struct Applied: Equatable, Sendable {
        public let version: Int
        /// The `system_logs` rows the migration wrote with component `migration` and
        /// `data.migration` its version (migration 14's renames), by message.
        public let notes: [String]
    }

    /// ``migrate(_:)``, with each applied migration's notes: a migration that changes rows an
    /// operator relies on (renames a strategy) says so in `system_logs`, in its own transaction,
    /// and `algotrader migrate` prints it.
    public func migrateReporting(_ connection: PostgresConnection) throws -> [Applied] {
        try connection.query("SELECT pg_advisory_lock($1)", [String(Self.lockKey)])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [String(Self.lockKey)]) }
        // Made only when absent: CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when
        // the table exists, and a login that is not the owner (serve's runtime login, whose
        // systemd unit runs migrate first) must find a current schema a no-op, not an error.
        if try connection.query("SELECT to_regclass('schema_migrations') IS NULL").scalar == "t" {
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """)
        }
        let applied = try verifyApplied(connection)
        var done: [Applied] = []
        for migration in migrations where !applied.contains(migration.version) {
            do {
                let notes = try connection.transaction { conn -> [String] in
                    try conn.query("SELECT set_config('algotrader.timescaledb', $1, true)", [timescaleMode])
                    try conn.execute(migration.sql)
                    try conn.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
                        [String(migration.version), migration.name, migration.sql]
                    )
                    // Before migration 1 there is no system_logs; a migration applied once writes
                    // its notes once, so these rows are this run's.
                    guard try conn.query("SELECT to_regclass('system_logs') IS NOT NULL").scalar == "t" else { return [] }
                    return try conn.query("""
                        SELECT message FROM system_logs WHERE component = 'migration' AND data->>'migration' = $1 ORDER BY message
                        """, [String(migration.version)]).rows.compactMap { $0[0] }
                }
                done.append(Applied(version: migration.version, notes: notes))
            } catch let error as PostgresError {
                throw MigrationError.failed(version: migration.version, name: migration.name, error: error)
            }
        }
        return done
    }

    /// Checks that the database is exactly at this binary's version (what `serve` requires).
    public func check(_ connection: PostgresConnection) throws -> Status {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL").scalar == "t"
        let binary = migrations.last?.version ?? 0
        guard exists else { throw MigrationError.databaseOlder(databaseVersion: 0, binaryVersion: binary) }
        let applied = try verifyApplied(connection)
        let databaseVersion = applied.max() ?? 0
        if databaseVersion < binary || applied.count < migrations.count {
            throw MigrationError.databaseOlder(databaseVersion: databaseVersion, binaryVersion: binary)
        }
        return Status(databaseVersion: databaseVersion, binaryVersion: binary)
    }

    /// Versions recorded in the database, each verified against this binary's text.
    private func verifyApplied(_ connection: PostgresConnection) throws -> Set<Int> {
        let rows = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version").rows
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let binary = migrations.last?.version ?? 0
        var versions = Set<Int>()
        for row in rows {
            guard let version = row[0].flatMap({ Int($0) }) else { continue }
            guard let migration = known[version] else {
                throw MigrationError.databaseNewer(databaseVersion: version, binaryVersion: binary)
            }
            let same = try connection.query(
                "SELECT $1 = encode(sha256(convert_to($2, 'UTF8')), 'hex')", [row[2], migration.sql]
            ).scalar == "t"
            guard same else { throw MigrationError.checksumMismatch(version: version, name: migration.name) }
            versions.insert(version)
        }
        return versions
    }
}
