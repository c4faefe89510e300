public import Config
import Dispatch
import Foundation
public import Logging
import ServiceLifecycle
import Storage
import Synchronization
import ZeroMQ

/// `algotrader serve` as a value the executable runs and a test runs in process: `prepare` does
/// what must succeed before any thread starts (configuration files, the database, the schema,
/// the one-engine lock, the local journal); `run` starts every component as a service of one
/// `ServiceGroup`, in order, serves until a stop is asked, and stops them in reverse order.
public final class Daemon: Sendable {
    /// How a run ended: the stop line's figures.
    public struct Outcome: Sendable {
        /// The intake's counters as the stop line gives them (`received=N accepted=N ...`).
        public var summary: String
        public var abandonedTicks: Int
        public var abandonedRecords: Int
        /// The services that started, in order.
        public var started: [String]
        /// Whether work that could not be made durable was left (exit 75).
        public var isClean: Bool { abandonedTicks == 0 && abandonedRecords == 0 }
    }

    let config: EngineConfig
    let logger: Logger
    let security: SocketSecurity?
    let forwarderSecret: String?
    let journals: Journals
    let signals: StopSignals
    /// Held for the process's life: the one-engine-per-database lock lives with this connection.
    private let instanceLock: InstanceLock

    struct Journals: Sendable {
        let root: String
        let budget: JournalBudget
        let ticks: TickJournal
        let events: SegmentJournal
        let seqFloor: SequenceFloor
    }

    /// Owns the lock's connection; `release` closes it (PostgreSQL then releases the lock).
    final class InstanceLock: Sendable {
        private let connection: Mutex<DatabaseConnection?>
        init(_ connection: sending DatabaseConnection) { self.connection = Mutex(connection) }
        func release() {
            connection.withLock { c in
                c?.close()
                c = nil
            }
        }
    }

    private init(config: EngineConfig, logger: Logger, security: SocketSecurity?, forwarderSecret: String?, journals: Journals,
                 signals: StopSignals, instanceLock: InstanceLock) {
        self.config = config
        self.logger = logger
        self.security = security
        self.forwarderSecret = forwarderSecret
        self.journals = journals
        self.signals = signals
        self.instanceLock = instanceLock
    }

    /// Everything before the first thread: files the configuration names are read before the
    /// database is tried (a bad key file is exit 78 at once, not 69 after the retries).
    public static func prepare(config: EngineConfig, logger: Logger, signals: StopSignals) throws(DaemonError) -> Daemon {
        let security: SocketSecurity?
        do {
            security = try SocketSecurity.load(config)
        } catch {
            throw .configuration("\(error)")
        }
        if let problem = GatewayIPCCheck.problem(endpoint: config.gatewayBind, brokers: config.gatewayIPCBrokers) {
            throw .configuration("\(problem.key): \(problem.message)")
        }
        var forwarderSecret: String?
        if !config.controlForwarderSecretFile.isEmpty {
            guard let text = try? String(contentsOfFile: config.controlForwarderSecretFile, encoding: .utf8),
                  case let secret = text.trimmingCharacters(in: .whitespacesAndNewlines), secret.utf8.count >= 16 else {
                throw .configuration("control.forwarder_secret_file: cannot read '\(config.controlForwarderSecretFile)' or it holds under 16 characters")
            }
            forwarderSecret = secret
        }
        // A connection attempt to an unreachable host must not block a writer, the probe or
        // housekeeping for minutes (libpq waits for the kernel's TCP timeout by default); an
        // operator's own PGCONNECT_TIMEOUT or connect_timeout in the URL wins.
        setenv("PGCONNECT_TIMEOUT", "10", 0)
        let connection: DatabaseConnection, lock: DatabaseConnection
        do {
            connection = try EngineInstance.connect(config.databaseURL, retrySeconds: config.connectRetrySeconds, logger: logger)
            lock = try EngineInstance.connect(config.databaseURL, retrySeconds: 0, logger: logger)
        } catch {
            logger.critical("database unreachable", metadata: ["error": "\(error)"])
            throw DaemonError(.unavailable, "database unreachable: \(error)")
        }
        defer { connection.close() }
        guard (try? EngineInstance.tryLock(lock)) == true else {
            lock.close()
            throw DaemonError(.unavailable, "another algotrader serve is running on this database; refusing to start a second")
        }
        let instanceLock = InstanceLock(lock)
        do {
            let status = try Migrator().check(connection)
            logger.info("schema checked", metadata: ["version": "\(status.databaseVersion)"])
            warnIfAuditUnprotected(connection, logger: logger)
        } catch let error as MigrationError {
            instanceLock.release()
            throw DaemonError(.schema, "\(error)")
        } catch {
            instanceLock.release()
            throw .database(error)
        }
        // The local journal belongs to this database only: its directory is named by the
        // database's identity, so it is never replayed into another database.
        let journalRoot: String
        do {
            journalRoot = config.journalDirectory + "/" + (try EngineInstance.databaseID(connection))
        } catch {
            instanceLock.release()
            throw .database(error)
        }
        // One disk budget for both journals; order records keep a reserve ticks cannot take, so
        // an outage that fills the budget with ticks still leaves room to trade.
        let budget = JournalBudget(maxBytes: config.journalMaxBytes)
        let eventReserve = min(256 << 20, config.journalMaxBytes / 4)
        let recordBytes = Int(min(16 << 20, config.journalSegmentBytes))
        let journals: Journals
        do {
            journals = Journals(
                root: journalRoot, budget: budget,
                ticks: TickJournal(journal: try SegmentJournal(directory: journalRoot + "/ticks", segmentBytes: config.journalSegmentBytes,
                                                               maxRecordBytes: recordBytes, budget: budget,
                                                               budgetCeiling: config.journalMaxBytes - eventReserve)),
                events: try SegmentJournal(directory: journalRoot + "/events", segmentBytes: config.journalSegmentBytes,
                                           maxRecordBytes: recordBytes, budget: budget),
                seqFloor: try SequenceFloor(directory: journalRoot + "/events"))
        } catch {
            instanceLock.release()
            throw .configuration("journal.dir: \(error)")
        }
        if !journals.ticks.isEmpty || !journals.events.isEmpty {
            logger.notice("the local journal holds records from before: replaying them", metadata: [
                "dir": "\(journalRoot)", "tick_bytes": "\(journals.ticks.journal.pendingBytes)", "event_bytes": "\(journals.events.pendingBytes)"])
        }
        return Daemon(config: config, logger: logger, security: security, forwarderSecret: forwarderSecret, journals: journals,
                      signals: signals, instanceLock: instanceLock)
    }

    /// Warns (not fatal: demos and tests run as the owner) when the audit log is not protected
    /// from the login `serve` runs as: a superuser or the schema owner can disable its triggers
    /// and rewrite history, so the trail is then only as honest as whoever holds that login.
    static func warnIfAuditUnprotected(_ connection: DatabaseConnection, logger: Logger) {
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

    /// `run` for a caller outside Swift concurrency (`serve`'s main thread): blocks until it ends.
    public func runBlocking() throws(DaemonError) -> Outcome {
        let result = Mutex<Result<Outcome, DaemonError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do throws(DaemonError) {
                let outcome = try await run()
                result.withLock { $0 = .success(outcome) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        guard let ended = result.withLock({ $0 }) else { throw DaemonError(.unavailable, "the daemon ended without an outcome") }
        return try ended.get()
    }

    /// Starts every service in order, serves until a stop is asked (SIGTERM, SIGINT,
    /// `signals.requestStop()`), stops them in reverse order, and says how it ended. A start
    /// that fails stops what had started and throws why.
    public func run() async throws(DaemonError) -> Outcome {
        defer { instanceLock.release() }
        let services = try DaemonServices(self)
        let group = ServiceGroup(configuration: .init(
            services: services.chain.all.map {
                .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: [], logger: logger))
        signals.onStop { Task { await group.triggerGracefulShutdown() } }
        do {
            try await group.run()
        } catch {
            if let startError = services.chain.record.startError {
                throw startError as? DaemonError ?? DaemonError(.unavailable, "\(startError)")
            }
            throw DaemonError(.unavailable, "the services stopped: \(error)")
        }
        if let startError = services.chain.record.startError {
            throw startError as? DaemonError ?? DaemonError(.unavailable, "\(startError)")
        }
        return services.outcome()
    }
}
