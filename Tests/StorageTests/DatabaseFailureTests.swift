import Postgres
import Storage
import Testing
import TestSupport

/// Storage decides, from the server's SQLSTATE, whether a failed statement is retried, isolated
/// or reported at once; each case here is a real error from a real server.
@Suite struct DatabaseFailureTests {
    private func failure(_ db: PostgresConnection, _ sql: String) -> DatabaseFailure? {
        do {
            try db.execute(sql)
            return nil
        } catch {
            return error.failure
        }
    }

    @Test func aRowsContentIsRefusedNotRetried() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        try db.execute("CREATE TABLE u (id int PRIMARY KEY, n smallint CHECK (n >= 0))")
        try db.execute("INSERT INTO u VALUES (1, 1)")
        #expect(failure(db, "INSERT INTO u VALUES (1, 1)") == .contentRefused)        // 23505
        #expect(failure(db, "INSERT INTO u VALUES (2, -1)") == .contentRefused)       // 23514
        #expect(failure(db, "INSERT INTO u VALUES (3, 100000)") == .contentRefused)   // 22003
        do {
            try db.query("SELECT $1::text", ["a\u{0}b"])
            Issue.record("a NUL in text must be refused")
        } catch {
            #expect(error.failure == .contentRefused)
        }
    }

    @Test func aValueTooLargeForItsIndexIsRefusedForItsContentNotTakenForAnOutage() throws {
        // 54000: what one record holds. Classed permanent before, a journaled round holding such
        // a record was retried forever and every later round waited behind it.
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        try db.execute("CREATE TABLE big (s text)")
        try db.execute("CREATE INDEX ON big (s)")
        do {
            try db.execute("INSERT INTO big SELECT string_agg(md5(i::text), '') FROM generate_series(1, 2000) AS i")
            Issue.record("an index row over the btree maximum must be refused")
        } catch {
            #expect(error.sqlState == "54000", "\(error)")
            #expect(error.failure == .contentRefused)
        }
    }

    @Test func serializationDeadlockAndResourceFailuresAreRetried() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        for state in [SQLState.serializationFailure, SQLState.deadlockDetected, "53100", SQLState.cannotConnectNow] {
            #expect(failure(db, "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '\(state)'; END $$") == .transient, "\(state)")
        }
    }

    @Test func aLostConnectionIsRetriedAndAMissingTableIsNot() throws {
        let url = try TestDatabase.makeEmpty()
        let db = try TestDatabase.connect(url)
        #expect(failure(db, "SELECT * FROM no_such_table") == .permanent)  // 42P01
        #expect(failure(db, "SELECT 1/0") == .contentRefused)              // 22012, a data exception
        let killer = try TestDatabase.connect(url)
        try killer.query("SELECT pg_terminate_backend($1)", [String(db.backendPID)])
        #expect(failure(db, "SELECT 1") == .transient)
    }
}
