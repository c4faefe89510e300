import ArgumentParser
import Config
import Engine
import Foundation
import Logging
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

    /// Connects, retrying for `retrySeconds` (the database may start after us); exits 69 if it never answers.
    static func connect(_ url: String, retrySeconds: Int, logger: Logger) throws -> DatabaseConnection {
        do {
            return try EngineInstance.connect(url, retrySeconds: retrySeconds, logger: logger)
        } catch {
            logger.critical("database unreachable", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("algotrader: database unreachable: \(error)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
    }
}
