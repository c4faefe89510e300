import Foundation
import Synchronization
public import Postgres
import Storage

/// Scratch PostgreSQL databases for tests, on the cluster named by `ALGOTRADER_TEST_DATABASE_URL`
/// (set by `make test`). Without it every database test fails, on purpose: a database test that
/// quietly skips proves nothing.
public enum TestDatabase {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            "ALGOTRADER_TEST_DATABASE_URL is not set: run the tests with 'make test', which starts a throwaway PostgreSQL"
        }
    }

    /// The server's base URL (any database on it).
    public static func baseURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["ALGOTRADER_TEST_DATABASE_URL"], !url.isEmpty else {
            throw Missing()
        }
        return url
    }

    /// `base` with its database name replaced.
    public static func url(database: String) throws -> String {
        guard var components = URLComponents(string: try baseURL()) else { throw Missing() }
        components.path = "/" + database
        return components.string!
    }

    private static let template = Template()

    /// A new, empty database; returns its URL.
    public static func makeEmpty(prefix: String = "t") throws -> String {
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        let admin = try PostgresConnection(connectionString: try baseURL())
        try admin.execute("CREATE DATABASE \(name) TEMPLATE template0")
        return try url(database: name)
    }

    /// A new database already at the binary's schema version (cloned from a template migrated
    /// once per test process, which is much faster than migrating each one).
    public static func makeMigrated(prefix: String = "t") throws -> String {
        let templateName = try template.name()
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        let admin = try PostgresConnection(connectionString: try baseURL())
        // A clone fails while anything is connected to the template (55006); TimescaleDB's
        // scheduler may touch it briefly, so retry for a while.
        var attempt = 0
        while true {
            do {
                try admin.execute("CREATE DATABASE \(name) TEMPLATE \(templateName)")
                return try url(database: name)
            } catch let error as PostgresError where error.sqlState == "55006" && attempt < 100 {
                attempt += 1
                usleep(50_000)
            }
        }
    }

    /// A login role of the test's own that is a member of `roles` only (no owner, no superuser),
    /// and `url` with that login in place of the superuser. The test cluster trusts local logins
    /// (scripts/pg-cluster.sh), so it needs no password. Roles belong to the cluster: the name is
    /// random so tests never share one.
    public static func makeLogin(for url: String, memberOf roles: [String], prefix: String = "login") throws -> String {
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        let admin = try PostgresConnection(connectionString: try baseURL())
        defer { admin.close() }
        try admin.execute("CREATE ROLE \(name) LOGIN")
        if !roles.isEmpty { try admin.execute("GRANT \(roles.joined(separator: ", ")) TO \(name)") }
        guard var components = URLComponents(string: url) else { throw Missing() }
        components.user = name
        return components.string!
    }

    /// A new, empty database owned by a login of its own that is no superuser (as an operator's
    /// schema owner is), able to run every migration: it owns the database (so may create in its
    /// schema) and may grant the two group roles to itself (migration 4). Returns the owner's URL.
    public static func makeEmptyOwnedByLogin(prefix: String = "own") throws -> String {
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        let admin = try PostgresConnection(connectionString: try baseURL())
        defer { admin.close() }
        try admin.execute("CREATE ROLE \(name) LOGIN")
        // The group roles exist once any database of the cluster was migrated; make sure of it.
        _ = try template.name()
        try admin.execute("GRANT algotrader_app, algotrader_engine TO \(name) WITH ADMIN OPTION")
        try admin.execute("CREATE DATABASE \(name) OWNER \(name) TEMPLATE template0")
        guard var components = URLComponents(string: try url(database: name)) else { throw Missing() }
        components.user = name
        return components.string!
    }

    /// Opens a connection to `url`.
    public static func connect(_ url: String) throws -> PostgresConnection {
        try PostgresConnection(connectionString: url)
    }

    final class Template: Sendable {
        private let state = Mutex<String?>(nil)

        func name() throws -> String {
            try state.withLock { name in
                if let name { return name }
                let made = "tpl_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
                let admin = try PostgresConnection(connectionString: try TestDatabase.baseURL())
                try admin.execute("CREATE DATABASE \(made) TEMPLATE template0")
                let connection = try PostgresConnection(connectionString: try TestDatabase.url(database: made))
                try Migrator().migrate(connection)
                connection.close()
                // No one may connect to the template again (TimescaleDB's background scheduler
                // would, and block every clone).
                try admin.execute("ALTER DATABASE \(made) WITH ALLOW_CONNECTIONS false")
                try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(made)'")
                name = made
                return made
            }
        }
    }
}
