import ArgumentParser
import Config
import Foundation
import Postgres

/// `algotrader halt` / `algotrader resume`: the operator's kill switch, per user or engine-wide.
/// A running daemon applies it within 100 ms (it reads the `halts` table); it survives restarts.
struct Halt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Halt trading for a user (or, without --user, the whole engine): orders that add risk are rejected, working orders cancelled."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "Username or user id; omit to halt every user.")
    var user: String?

    @Option(help: "Why (recorded with the halt).")
    var reason: String

    func run() throws {
        let db = try HaltCommands.connect(options)
        let userID = try user.map { try HaltCommands.resolve($0, db) }
        try db.query("INSERT INTO halts (user_id, reason, source, created_by) VALUES ($1::uuid, $2, 'operator', $3)",
                     [userID, reason, ProcessInfo.processInfo.environment["USER"] ?? "operator"])
        print(userID.map { "halted user \($0)" } ?? "halted the whole engine")
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lift the active halts of a user (or, without --user, the engine-wide halt).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Username or user id; omit to lift the engine-wide halt.")
    var user: String?

    func run() throws {
        let db = try HaltCommands.connect(options)
        let userID = try user.map { try HaltCommands.resolve($0, db) }
        let result = try db.query("""
            UPDATE halts SET resumed_at = now(), resumed_by = $2
            WHERE resumed_at IS NULL AND user_id IS NOT DISTINCT FROM $1::uuid
            """, [userID, ProcessInfo.processInfo.environment["USER"] ?? "operator"])
        print("lifted \(result.affectedRows) halt(s)")
    }
}

enum HaltCommands {
    static func connect(_ options: ConfigOptions) throws -> PostgresConnection {
        let config = try Startup.loadConfig(options, purpose: .migrate)
        let logger = Startup.bootstrapLogging(level: config.logLevel)
        return try Startup.connect(config.databaseURL, retrySeconds: 0, logger: logger)
    }

    static func resolve(_ user: String, _ db: PostgresConnection) throws -> String {
        let rows = try db.query("SELECT user_id::text FROM users WHERE username = $1 OR user_id::text = lower($1)", [user]).rows
        guard let id = rows.first?[0] else {
            FileHandle.standardError.write(Data("algotrader: no user '\(user)'\n".utf8))
            throw ExitCode(ExitStatus.usage)
        }
        return id
    }
}
