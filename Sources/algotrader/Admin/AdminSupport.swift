import ArgumentParser
import Config
import Engine
import Foundation
import Security
import Storage
import TradingCore

/// What the admin subcommands share: the database, who is acting, reading secrets without
/// echo or arguments, and the key ring.
enum Admin {
    static func config(_ options: ConfigOptions) throws -> EngineConfig {
        try Startup.loadConfig(options, purpose: .migrate)
    }

    static func connect(_ config: EngineConfig) throws -> DatabaseConnection {
        let logger = Startup.bootstrapLogging(level: config.logLevel)
        return try Startup.connect(config.databaseURL, retrySeconds: 0, logger: logger)
    }

    /// The audit actor of a command-line operator.
    static var actor: String { "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator") }

    static func fail(_ message: String, status: Int32 = ExitStatus.usage) -> ExitCode {
        FileHandle.standardError.write(Data("algotrader: \(message)\n".utf8))
        return ExitCode(status)
    }

    /// A user id from a username or id; exits 64 naming it when there is none.
    static func userID(_ user: String, _ db: DatabaseConnection) throws -> String {
        guard let id = try UserDirectory.userID(db, nameOrID: user) else { throw fail("no user '\(user)'") }
        return id
    }

    /// A strategy's id and owner from its id or name (a name must name exactly one strategy
    /// that is not removed); exits 64 naming it when there is none or the name is ambiguous.
    static func strategy(_ strategy: String, _ db: DatabaseConnection) throws -> (id: String, userID: String) {
        let found = try StrategyDirectory.find(db, idOrName: strategy)
        guard let first = found.first else { throw fail("no strategy '\(strategy)'") }
        guard found.count == 1 else {
            throw fail("strategy name '\(strategy)' is ambiguous: use its id (\(found.map(\.strategyID).joined(separator: ", ")))")
        }
        return (first.strategyID, first.userID)
    }

    /// What `halt` / `resume` apply to: a strategy, a user, or with neither the engine.
    static func haltScope(user: String?, strategy: String?, _ db: DatabaseConnection) throws -> OperatorHalts.Scope {
        if let strategy {
            let (id, owner) = try Self.strategy(strategy, db)
            return .strategy(id: id, userID: owner)
        }
        return try user.map { .user(try userID($0, db)) } ?? .engine
    }

    /// A secret from the terminal (echo off, asked twice when `confirm`) or, when stdin is not a
    /// terminal, its first line. Never from the command line, where `ps` and shell history see it.
    static func readSecret(prompt: String, confirm: Bool) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw fail("expected the password on standard input") }
            return line
        }
        func ask(_ text: String) -> String {
            FileHandle.standardError.write(Data(text.utf8))
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
            return readLine(strippingNewline: true) ?? ""
        }
        let first = ask(prompt)
        guard !first.isEmpty else { throw fail("the password is empty") }
        if confirm && ask("again: ") != first { throw fail("the passwords differ") }
        return first
    }

    /// The key ring for broker credentials (exit 78 naming the key when there is none).
    static func keyRing(_ config: EngineConfig) throws -> CredentialKeyRing {
        do { return try CredentialKeyRing.load(config) } catch { throw fail("\(error)", status: ExitStatus.config) }
    }

    /// Prints rows as aligned columns.
    /// One row per line, whatever the cells hold: control characters (a newline in a name
    /// stored before names were checked, or put there by hand) are shown escaped (`\u{a}`).
    static func table(_ header: [String], _ rows: [[String?]]) {
        let cells = [header] + rows.map { $0.map { PrintableText.make($0 ?? "", maxCharacters: .max) } }
        var widths = header.map(\.count)
        for row in cells { for (i, c) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        for row in cells {
            print(row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  "))
        }
    }

    /// A JSON object literal of string pairs (for audit details).
    static func json(_ pairs: [String: String?]) -> String {
        JSONObjectWriter.object { w in
            for (key, value) in pairs.compactMapValues({ $0 }).sorted(by: { $0.key < $1.key }) { w.add(key, value) }
        }
    }
}
