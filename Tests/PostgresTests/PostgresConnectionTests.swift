import Postgres
import TestSupport
import Testing

@Suite("libpq wrapper against a real PostgreSQL")
struct PostgresConnectionTests {
    @Test func parameterizedQueryReturnsTextValuesAndNulls() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        let result = try db.query("SELECT $1::int + 1 AS n, $2::text AS t, NULL::text AS z", ["41", "it's \"quoted\""])
        #expect(result.columns == ["n", "t", "z"])
        #expect(result.value("n") == "42")
        #expect(result.value("t") == "it's \"quoted\"", "parameters travel apart from the SQL text")
        #expect(result.rows[0][2] == nil)
    }

    /// Options join the connection string's own settings and win over them, with the string
    /// (URL or key=value) still naming the server and database; a reconnect keeps them.
    @Test func optionsJoinTheConnectionStringAndSurviveAReconnect() throws {
        let url = try TestDatabase.makeEmpty()
        let db = try PostgresConnection(connectionString: url + (url.contains("?") ? "&" : "?") + "application_name=from-url",
                                        options: [("application_name", "from-options"), ("keepalives_idle", "10")])
        #expect(try db.query("SHOW application_name").scalar == "from-options")
        #expect(try db.query("SELECT current_database()").scalar == TestDatabase.connect(url).query("SELECT current_database()").scalar)
        try db.reconnect()
        #expect(try db.query("SHOW application_name").scalar == "from-options")
        // Notifications: one sent on another connection is heard; none makes the wait time out.
        try db.execute("LISTEN probe")
        #expect(try db.waitForNotifications(timeoutMilliseconds: 50).isEmpty)
        try TestDatabase.connect(url).execute("NOTIFY probe")
        #expect(try db.waitForNotifications(timeoutMilliseconds: 5_000) == ["probe"])
    }

    @Test func serverErrorCarriesSQLStateAndConstraint() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        try db.execute("CREATE TABLE u (id int CONSTRAINT u_pk PRIMARY KEY)")
        try db.query("INSERT INTO u VALUES ($1)", ["1"])
        do {
            try db.query("INSERT INTO u VALUES ($1)", ["1"])
            Issue.record("duplicate insert should fail")
        } catch {
            #expect(error.code == .serverError)
            #expect(error.sqlState == "23505")
            #expect(error.constraint == "u_pk")
        }
        #expect(db.isConnected, "a statement error leaves the connection usable")
        #expect(try db.query("SELECT count(*) FROM u").scalar == "1")
    }

    @Test func transactionCommitsOnReturnAndRollsBackOnThrow() throws {
        struct Boom: Error {}
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        try db.execute("CREATE TABLE t (v int)")
        try db.transaction { conn in try conn.query("INSERT INTO t VALUES (1)") }
        #expect(throws: Boom.self) {
            try db.transaction { conn in
                try conn.query("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(!db.inTransaction)
        #expect(try db.query("SELECT string_agg(v::text, ',') FROM t").scalar == "1")
    }

    @Test func copyInStoresEveryRowAndReportsTheCount() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        try db.execute("CREATE TABLE c (id int, price numeric(18,4), note text)")
        let rows = 50_000
        let stored = try db.copyIn("COPY c (id, price, note) FROM STDIN") { copy in
            for i in 0..<rows {
                try copy.write(Array("\(i)\t\(i).0025\t\\N\n".utf8))
            }
        }
        #expect(stored == rows)
        let check = try db.query("SELECT count(*), sum(price), count(note) FROM c")
        #expect(check.rows[0][0] == "50000")
        #expect(check.rows[0][1] == "1249975125.0000", "sum of i + 0.0025 for i < 50000, exact")
        #expect(check.rows[0][2] == "0")
    }

    @Test func copyWithABadRowFailsAsAWholeAndLeavesConnectionUsable() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        try db.execute("CREATE TABLE c (id int)")
        #expect(throws: PostgresError.self) {
            try db.copyIn("COPY c FROM STDIN") { copy in
                try copy.write(Array("1\nnot-a-number\n".utf8))
            }
        }
        #expect(try db.query("SELECT count(*) FROM c").scalar == "0")
    }

    @Test func badConnectionStringFailsWithConnectionFailed() {
        do {
            _ = try PostgresConnection(connectionString: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
            Issue.record("connect should fail")
        } catch {
            #expect(error.code == .connectionFailed)
        }
    }

    @Test func terminatedBackendIsReportedAsLostAndReconnectRecovers() throws {
        let url = try TestDatabase.makeEmpty()
        let db = try TestDatabase.connect(url)
        let killer = try TestDatabase.connect(url)
        try killer.query("SELECT pg_terminate_backend($1)", [String(db.backendPID)])
        do {
            try db.query("SELECT 1")
            Issue.record("query on a terminated backend should fail")
        } catch {
            #expect(error.code == .connectionLost)
        }
        try db.reconnect()
        #expect(try db.query("SELECT 1").scalar == "1")
    }
}
