import Foundation
import TestSupport
import Testing

/// The exit codes of CONTRACT.md section 4, from the real binary.
@Suite("algotrader exit codes")
struct CommandLineExitCodeTests {
    static func run(_ arguments: [String], environment extra: [String: String]) throws -> CommandRunner.Outcome {
        try CommandRunner.algotrader(arguments, environment: extra)
    }

    static let shippedConfig = Repository.shippedConfig

    @Test func badConfigurationExits78NamingTheKey() throws {
        let outcome = try Self.run(["serve", "--config", Self.shippedConfig],
                                   environment: ["ALGOTRADER_DATABASE_URL": "x", "ALGOTRADER_INGEST_BATCH_SIZE": "many"])
        #expect(outcome.status == 78)
        #expect(outcome.stderr.contains("ingest.batch_size"))
    }

    @Test func missingDatabaseURLExits78NamingIt() throws {
        let outcome = try Self.run(["migrate", "--config", Self.shippedConfig], environment: [:])
        #expect(outcome.status == 78)
        #expect(outcome.stderr.contains("database.url"))
    }

    @Test func badCommandLineExits64() throws {
        #expect(try Self.run(["serve", "--no-such-flag"], environment: [:]).status == 64)
        #expect(try Self.run(["feed", "--count", "-5"], environment: [:]).status == 64)
    }

    @Test func unreachableDatabaseExits69() throws {
        let outcome = try Self.run(["serve", "--config", Self.shippedConfig], environment: [
            "ALGOTRADER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
            "ALGOTRADER_DATABASE_CONNECT_RETRY_SECONDS": "0",
        ])
        #expect(outcome.status == 69)
        #expect(outcome.stderr.contains("database unreachable"))
    }

    @Test func unmigratedDatabaseExits65AndMigrateFixesItTwiceOver() throws {
        let url = try TestDatabase.makeEmpty()
        let env = ["ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_BUS_BIND": "ipc://\(NSTemporaryDirectory())bus-\(UUID().uuidString.prefix(6))"]
        let serve = try Self.run(["serve", "--config", Self.shippedConfig], environment: env)
        #expect(serve.status == 65)
        #expect(serve.stderr.contains("algotrader migrate"))
        let first = try Self.run(["migrate", "--config", Self.shippedConfig], environment: env)
        #expect(first.status == 0)
        #expect(first.stdout.contains("applied migrations 1"))
        let second = try Self.run(["migrate", "--config", Self.shippedConfig], environment: env)
        #expect(second.status == 0)
        #expect(second.stdout.contains("schema is current"))
    }
}
