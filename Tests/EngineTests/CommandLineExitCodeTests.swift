import Foundation
import TestSupport
import Testing

/// The exit codes of CONTRACT.md section 4, from the real binary.
@Suite("algotrader exit codes")
struct CommandLineExitCodeTests {
    struct Outcome {
        let status: Int32
        let stderr: String
        let stdout: String
    }

    static func run(_ arguments: [String], environment extra: [String: String]) throws -> Outcome {
        let process = Process()
        process.executableURL = try Repository.binary()
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        environment.merge(extra) { $1 }
        process.environment = environment
        let errorPipe = Pipe(), outputPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = outputPipe
        try process.run()
        let errors = errorPipe.fileHandleForReading.readDataToEndOfFile()
        let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stderr: String(decoding: errors, as: UTF8.self),
                       stdout: String(decoding: output, as: UTF8.self))
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
