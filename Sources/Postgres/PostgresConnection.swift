import CLibPQ
import Glibc

/// An owned libpq connection (`PQconnectdb` ... `PQfinish`).
///
/// A `PGconn` must be used by one thread at a time, so this class is not `Sendable`: each writer
/// thread opens its own. Every `PGresult` is cleared exactly once inside the call that made it.
public final class PostgresConnection {
    private var conn: OpaquePointer?
    /// The connection string as given (URL or `key=value`), so `PG*` variables and `.pgpass` apply.
    private let connectionString: String
    /// libpq parameters added to the string's own (`keepalives_idle`, say).
    private let options: [(String, String)]

    /// Connects with `PQconnectdb`. The string is passed to libpq unchanged.
    public init(connectionString: String) throws(PostgresError) {
        self.connectionString = connectionString
        options = []
        try open()
    }

    /// Connects with the string plus libpq `options` (keyword, value), which win over the
    /// string's own: `PQconnectdbParams` with the string expanded as `dbname`.
    public init(connectionString: String, options: [(String, String)]) throws(PostgresError) {
        self.connectionString = connectionString
        self.options = options
        try open()
    }

    deinit {
        // PQfinish must be called even after a failed connect, to free the PGconn.
        if let conn { PQfinish(conn) }
    }

    private func open() throws(PostgresError) {
        if let conn { PQfinish(conn) }
        conn = options.isEmpty ? PQconnectdb(connectionString) : Self.connect(connectionString, options)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { Self.trimmed(PQerrorMessage($0)) } ?? "out of memory"
            throw PostgresError(code: .connectionFailed, message: message)
        }
        // Notices (e.g. "relation already exists, skipping") would otherwise go to stderr raw.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    private static func connect(_ string: String, _ options: [(String, String)]) -> OpaquePointer? {
        // Later keywords win in PQconnectdbParams; the string (expanded) goes first.
        let keywords = ["dbname"] + options.map(\.0), values = [string] + options.map(\.1)
        var keywordPointers = keywords.map { strdup($0) } + [nil]
        var valuePointers = values.map { strdup($0) } + [nil]
        defer {
            keywordPointers.forEach { free($0) }
            valuePointers.forEach { free($0) }
        }
        return keywordPointers.withUnsafeMutableBufferPointer { k in
            valuePointers.withUnsafeMutableBufferPointer { v in
                k.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: k.count) { kp in
                    v.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: v.count) { vp in
                        PQconnectdbParams(kp, vp, 1)
                    }
                }
            }
        }
    }

    /// Closes the connection now. Later calls fail with `connectionLost` until ``reconnect()``.
    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// Drops the old connection and makes a new one from the same connection string.
    public func reconnect() throws(PostgresError) {
        try open()
    }

    /// Waits up to `timeoutMilliseconds` for `NOTIFY`s on the channels this connection `LISTEN`s
    /// to, and returns their channel names (empty on timeout). A lost connection throws, so the
    /// caller reconnects and listens again. Notifications that arrived during an earlier query
    /// are returned at once.
    public func waitForNotifications(timeoutMilliseconds: Int32) throws(PostgresError) -> [String] {
        guard let conn, PQstatus(conn) == CONNECTION_OK else { throw PostgresError(code: .connectionLost, message: "no connection") }
        var channels = Self.takeNotifications(conn)
        if !channels.isEmpty { return channels }
        var item = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        guard item.fd >= 0 else { throw PostgresError(code: .connectionLost, message: "no socket") }
        let ready = poll(&item, 1, timeoutMilliseconds)
        guard ready > 0 else { return [] }  // timeout, or EINTR: the caller waits again
        guard PQconsumeInput(conn) == 1 else {
            throw PostgresError(code: .connectionLost, message: Self.trimmed(PQerrorMessage(conn)))
        }
        channels = Self.takeNotifications(conn)
        return channels
    }

    private static func takeNotifications(_ conn: OpaquePointer) -> [String] {
        var channels: [String] = []
        while let notify = PQnotifies(conn) {
            channels.append(String(cString: notify.pointee.relname))
            PQfreemem(notify)
        }
        return channels
    }

    /// Whether the connection is usable as far as libpq knows (`PQstatus == CONNECTION_OK`).
    public var isConnected: Bool {
        guard let conn else { return false }
        return PQstatus(conn) == CONNECTION_OK
    }

    /// The server's version number, e.g. 150018 (`PQserverVersion`).
    public var serverVersion: Int { conn.map { Int(PQserverVersion($0)) } ?? 0 }

    /// The server process serving this connection (`PQbackendPID`).
    public var backendPID: Int32 { conn.map { PQbackendPID($0) } ?? 0 }

    /// Whether a transaction is open on this connection (`PQtransactionStatus`).
    public var inTransaction: Bool {
        guard let conn else { return false }
        let status = PQtransactionStatus(conn)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    private func live() throws(PostgresError) -> OpaquePointer {
        guard let conn else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
        return conn
    }

    // MARK: - Statements

    /// Runs one or more SQL statements with no parameters (`PQexec`, simple query protocol).
    /// Returns the last statement's result.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> PostgresResult {
        let conn = try live()
        return try consume(PQexec(conn, sql), conn: conn)
    }

    /// Runs one statement with `$1`...`$n` parameters sent apart from the SQL text (`PQexecParams`),
    /// so values are never spliced into SQL. `nil` is NULL. Values use PostgreSQL's text format.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresResult {
        let conn = try live()
        if parameters.isEmpty {
            return try consume(PQexecParams(conn, sql, 0, nil, nil, nil, nil, 0), conn: conn)
        }
        // strdup'd copies give libpq stable C strings for the duration of the call.
        let cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { cStrings.forEach { free($0) } }
        // A C string ends at its first NUL: a value holding one would reach the server cut short,
        // silently. Refuse it as the server refuses NUL in text (22021), so callers isolate it.
        for (index, value) in parameters.enumerated() {
            if let value, let c = cStrings[index], strlen(c) != value.utf8.count {
                throw PostgresError(code: .serverError, sqlState: "22021",
                                    message: "parameter $\(index + 1) holds a NUL byte, which PostgreSQL text cannot store")
            }
        }
        let result = cStrings.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQexecParams(conn, sql, Int32(values.count), nil, values.baseAddress, nil, nil, 0)
            }
        }
        return try consume(result, conn: conn)
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    ///
    /// A failure of COMMIT itself because the connection dropped leaves the outcome unknown; it
    /// is reported as `connectionLost` and callers resolve it by natural keys, never by guessing.
    @discardableResult
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try execute("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            if isConnected { _ = try? execute("ROLLBACK") }
            throw error
        }
        try execute("COMMIT")
        return value
    }

    // MARK: - COPY

    /// Streams rows into `COPY ... FROM STDIN` (text or binary, as `sql` says). `body` writes
    /// through the given ``PostgresCopyIn``; when it returns the copy is finished and the number
    /// of rows the server stored is returned. If `body` throws, the copy is aborted.
    @discardableResult
    public func copyIn(_ sql: String, _ body: (inout PostgresCopyIn) throws -> Void) throws -> Int {
        let conn = try live()
        let start = PQexec(conn, sql)
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            _ = try consume(start, conn: conn)
            throw PostgresError(code: .copyFailed, message: "COPY did not start (status \(status.rawValue))")
        }
        PQclear(start)
        var copy = PostgresCopyIn(conn: conn)
        do {
            try body(&copy)
            try copy.flush()
        } catch {
            _ = PQputCopyEnd(conn, "aborted by client")
            drainResults(conn)
            throw error
        }
        guard PQputCopyEnd(conn, nil) == 1 else {
            let error = lostOrFailed(conn, code: .copyFailed)
            drainResults(conn)
            throw error
        }
        var stored = 0
        var failure: PostgresError?
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                stored = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = Self.error(from: result, conn: conn)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return stored
    }

    // MARK: - Results

    private func drainResults(_ conn: OpaquePointer) {
        while let result = PQgetResult(conn) { PQclear(result) }
    }

    private func lostOrFailed(_ conn: OpaquePointer, code: PostgresError.Code) -> PostgresError {
        let lost = PQstatus(conn) != CONNECTION_OK
        return PostgresError(code: lost ? .connectionLost : code, message: Self.trimmed(PQerrorMessage(conn)))
    }

    /// Copies a result out and clears it (exactly once), or throws its error.
    private func consume(_ result: OpaquePointer?, conn: OpaquePointer) throws(PostgresError) -> PostgresResult {
        guard let result else { throw lostOrFailed(conn, code: .unexpectedResult) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(columns: [], rows: [], affectedRows: Int(String(cString: PQcmdTuples(result))) ?? 0)
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let rowCount = Int(PQntuples(result))
            let columnCount = Int(PQnfields(result))
            var columns: [String] = []
            columns.reserveCapacity(columnCount)
            for c in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(c)))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(rowCount)
            for r in 0..<rowCount {
                var row: [String?] = []
                row.reserveCapacity(columnCount)
                for c in 0..<columnCount {
                    if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                        row.append(nil)
                    } else {
                        row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                    }
                }
                rows.append(row)
            }
            return PostgresResult(columns: columns, rows: rows, affectedRows: rowCount)
        default:
            throw Self.error(from: result, conn: conn)
        }
    }

    static func error(from result: OpaquePointer, conn: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(algotrader_pg_diag_sqlstate)
        let lost = PQstatus(conn) != CONNECTION_OK
        let message = field(algotrader_pg_diag_message_primary) ?? trimmed(PQresultErrorMessage(result))
        return PostgresError(
            code: lost ? .connectionLost : .serverError,
            sqlState: sqlState,
            message: message.isEmpty ? trimmed(PQerrorMessage(conn)) : message,
            detail: field(algotrader_pg_diag_message_detail),
            hint: field(algotrader_pg_diag_message_hint),
            constraint: field(algotrader_pg_diag_constraint_name)
        )
    }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        var s = String(cString: text)
        while s.last?.isWhitespace == true { s.removeLast() }
        return s
    }
}
