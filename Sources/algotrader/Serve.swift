import ArgumentParser
import Config
import Engine
import Foundation

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the engine daemon: ingest ticks from ZeroMQ into PostgreSQL until SIGTERM."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try Startup.loadConfig(options, purpose: .serve)
        let logger = Startup.bootstrapLogging(level: config.logLevel)
        // Signals first: a SIGTERM while the database is still being reached stops the daemon as
        // soon as it runs, instead of killing it by the default handler.
        let signals = StopSignals()
        // Connecting (with retries), the schema check and the journals block: done here, on the
        // main thread, not on a thread of Swift concurrency's small shared pool.
        let daemon: Daemon
        do {
            daemon = try Daemon.prepare(config: config, logger: logger, signals: signals)
        } catch {
            throw Self.exit(error)
        }
        let outcome: Daemon.Outcome
        do {
            outcome = try daemon.runBlocking()
        } catch {
            throw Self.exit(error)
        }
        // The stop line operators and scripts read (docs/operations.md), whatever the log level.
        FileHandle.standardError.write(Data("\(outcome.summary) abandoned_ticks=\(outcome.abandonedTicks) abandoned_records=\(outcome.abandonedRecords)\n".utf8))
        guard outcome.isClean else {
            // Not a clean stop: say so, and exit 75 (EX_TEMPFAIL) so systemd sees it.
            logger.critical("stopped with work that could not be made durable (PostgreSQL away and the journal full)",
                            metadata: ["ticks": "\(outcome.abandonedTicks)", "order_records": "\(outcome.abandonedRecords)"])
            throw ExitCode(ExitStatus.temporaryFailure)
        }
        logger.info("stopped cleanly", metadata: ["summary": "\(outcome.summary)"])
    }

    /// Says why the daemon could not start or run, and the exit status that goes with it.
    static func exit(_ error: DaemonError) -> ExitCode {
        FileHandle.standardError.write(Data("algotrader serve: \(error.message)\n".utf8))
        switch error.kind {
        case .configuration: return ExitCode(ExitStatus.config)
        case .unavailable: return ExitCode(ExitStatus.unavailable)
        case .schema: return ExitCode(ExitStatus.dataError)
        }
    }
}
