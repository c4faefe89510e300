import ArgumentParser
import Config
import Engine
import Foundation
import Logging
import Postgres
import Storage

/// Shared start-up steps: configuration, logging, and a database connection with retry.
enum Startup {
    static func loadConfig(_ options: ConfigOptions, purpose: EngineConfig.Purpose) throws -> EngineConfig {
        do {
            return try ConfigLoader().load(file: options.config, environment: ProcessInfo.processInfo.environment, purpose: purpose)
        } catch {
            FileHandle.standardError.write(Data("algotrader: \(error)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
    }

    static func bootstrapLogging(level: String) -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return handler
        }
        return Logger(label: "algotrader")
    }

    /// Warns (not fatal: demos and tests run as the owner) when the audit log is not protected
    /// from the login `serve` runs as: a superuser or the schema owner can disable its triggers
    /// and rewrite history, so the trail is then only as honest as whoever holds that login.
    static func warnIfAuditUnprotected(_ connection: PostgresConnection, logger: Logger) {
        do {
            let report = try AuditProtection.inspect(connection)
            guard !report.isProtected else { return }
            logger.warning("""
                the audit log is not protected from this login: \(report.problems.map(\.what).joined(separator: "; ")). \
                Run serve as a login that is only a member of algotrader_engine and algotrader_app \
                (docs/operations.md, "A runtime login") and check it with 'algotrader audit check'
                """, metadata: ["login": "\(report.login)"])
        } catch {
            logger.warning("could not check whether the audit log is protected from this login", metadata: ["error": "\(error)"])
        }
    }

    /// Connects, retrying for `retrySeconds` (the database may start after us); exits 69 if it never answers.
    static func connect(_ url: String, retrySeconds: Int, logger: Logger) throws -> PostgresConnection {
        let deadline = Date().addingTimeInterval(TimeInterval(retrySeconds))
        var delay = 0.2
        while true {
            do {
                return try PostgresConnection(connectionString: url)
            } catch {
                if Date() >= deadline {
                    logger.critical("database unreachable", metadata: ["error": "\(error)"])
                    FileHandle.standardError.write(Data("algotrader: database unreachable: \(error)\n".utf8))
                    throw ExitCode(ExitStatus.unavailable)
                }
                logger.warning("database not reachable yet; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }
}
