import ArgumentParser
import Config
import Foundation
import Storage
import TradingCore

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the database schema to this binary's version (safe to run again on any database)."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try Startup.loadConfig(options, purpose: .migrate)
        let logger = Startup.bootstrapLogging(level: config.logLevel)
        let connection = try Startup.connect(config.databaseURL, retrySeconds: config.connectRetrySeconds, logger: logger)
        do {
            let applied = try Migrator(timescaleMode: config.timescaleMode).migrateReporting(connection)
            let layout = EngineInstance.marketDataLayout(connection)
            if applied.isEmpty {
                print("schema is current at version \(Migration.latestVersion) (market_data layout: \(layout ?? "?"))")
            } else {
                // What a migration did to existing rows (migration 14's renames), before the summary.
                for migration in applied {
                    for note in migration.notes { print("migration \(migration.version): \(PrintableText.make(note, maxCharacters: 2_000))") }
                }
                print("applied migrations \(applied.map { String($0.version) }.joined(separator: ", ")); schema at version \(Migration.latestVersion) (market_data layout: \(layout ?? "?"))")
            }
        } catch let error as MigrationError {
            FileHandle.standardError.write(Data("algotrader migrate: \(error)\n".utf8))
            switch error {
            case .checksumMismatch, .databaseNewer, .databaseOlder: throw ExitCode(ExitStatus.dataError)
            case .failed: throw ExitCode.failure
            }
        }
    }
}
