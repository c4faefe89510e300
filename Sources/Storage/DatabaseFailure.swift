public import Postgres

/// The handle to PostgreSQL that the engine's threads own and pass to Storage's types. The
/// engine and the commands name it through Storage and never import the libpq wrapper: every
/// statement lives in this module (a test checks that no other module holds SQL text).
public typealias DatabaseConnection = PostgresConnection
/// A failed database operation; `failure` says what to do about it.
public typealias DatabaseError = PostgresError

/// SQLSTATE codes the engine acts on (PostgreSQL, Appendix A "PostgreSQL Error Codes").
public enum SQLState {
    /// Class 08, connection exception: the statement's outcome may be unknown.
    public static let connectionExceptionClass = "08"
    /// Class 22, data exception: a NUL in text (22021 character_not_in_repertoire, 22P05
    /// untranslatable_character), a number out of range (22003), bad input syntax (22P02).
    public static let dataExceptionClass = "22"
    /// Class 23, integrity constraint violation: a foreign key, a check, a unique key, a row no
    /// partition takes (23514).
    public static let integrityConstraintClass = "23"
    /// Class 54, program limit exceeded: 54000 (an index row or a value too large for its
    /// page), 54001 statement_too_complex. What one record holds, or how many a statement
    /// carries: splitting the batch finds it, retrying the same batch never succeeds.
    public static let programLimitClass = "54"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    /// Class 53, insufficient resources: 53100 disk_full, 53200 out_of_memory, 53300
    /// too_many_connections. The server may recover; the statement may be retried later.
    public static let insufficientResourcesClass = "53"
    /// The server is shutting down or restarting (57P01 admin_shutdown, 57P02 crash_shutdown,
    /// 57P03 cannot_connect_now): a new connection later succeeds.
    public static let adminShutdown = "57P01"
    public static let crashShutdown = "57P02"
    public static let cannotConnectNow = "57P03"
    /// 42501 insufficient_privilege: the login may not do what it asked.
    public static let insufficientPrivilege = "42501"
}

/// What a failed database operation means for the caller, decided in one place.
public enum DatabaseFailure: Sendable, Equatable {
    /// Retry the whole transaction (after reconnecting): the connection broke, the server is
    /// restarting or out of a resource, a serialization failure or a deadlock.
    case transient
    /// The server refused the statement for what it holds (data exception, integrity
    /// constraint, a program limit). Retrying fails the same way forever: isolate the record instead
    /// (`PoisonIsolation`).
    case contentRefused
    /// Anything else (a missing table, a permission, a wrong password, a bug): fail at once
    /// with the cause.
    case permanent
}

extension PostgresError {
    public var failure: DatabaseFailure {
        switch code {
        case .connectionLost, .connectionFailed:
            // libpq reports a failed connection without a SQLSTATE, so a refused password looks
            // like a server not yet up; the callers bound their retries by time.
            return .transient
        case .serverError, .copyFailed:
            guard let sqlState else { return .permanent }
            if sqlState.hasPrefix(SQLState.dataExceptionClass) || sqlState.hasPrefix(SQLState.integrityConstraintClass)
                || sqlState.hasPrefix(SQLState.programLimitClass) {
                return .contentRefused
            }
            if sqlState.hasPrefix(SQLState.connectionExceptionClass) || sqlState.hasPrefix(SQLState.insufficientResourcesClass)
                || [SQLState.serializationFailure, SQLState.deadlockDetected, SQLState.adminShutdown, SQLState.crashShutdown,
                    SQLState.cannotConnectNow].contains(sqlState) {
                return .transient
            }
            return .permanent
        case .unexpectedResult:
            return .permanent
        }
    }

    /// Whether retrying the whole transaction is the right response.
    public var isTransient: Bool { failure == .transient }

    /// Whether the server refused the statement for a record's content (see `DatabaseFailure`).
    public var isContentRefusal: Bool { failure == .contentRefused }
}
