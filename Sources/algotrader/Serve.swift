import ArgumentParser
import Config
import Dispatch
import Engine
import Foundation
import Logging
import Storage
import ZeroMQ

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the engine daemon: ingest ticks from ZeroMQ into PostgreSQL until SIGTERM."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try Startup.loadConfig(options, purpose: .serve)
        let logger = Startup.bootstrapLogging(level: config.logLevel)
        let notifier = SystemdNotifier()

        // Signals are taken by dispatch sources, never by default handlers that would kill the
        // process with ticks still in memory.
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { signal(sig, SIG_IGN) }
        let stopRequested = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stopRequested.signal() }
            source.resume()
            sources.append(source)
        }

        // Files the configuration names are read before the database is tried, so a bad key file
        // exits 78 at once instead of 69 after the connection retries.
        let security: SocketSecurity?
        do {
            security = try SocketSecurity.load(config)
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: configuration error: \(error)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
        if let problem = GatewayIPCCheck.problem(endpoint: config.gatewayBind, brokers: config.gatewayIPCBrokers) {
            FileHandle.standardError.write(Data("algotrader serve: configuration error: \(problem.key): \(problem.message)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
        var forwarderSecret: String?
        if !config.controlForwarderSecretFile.isEmpty {
            guard let text = try? String(contentsOfFile: config.controlForwarderSecretFile, encoding: .utf8),
                  case let secret = text.trimmingCharacters(in: .whitespacesAndNewlines), secret.utf8.count >= 16 else {
                FileHandle.standardError.write(Data("algotrader serve: configuration error: control.forwarder_secret_file: cannot read '\(config.controlForwarderSecretFile)' or it holds under 16 characters\n".utf8))
                throw ExitCode(ExitStatus.config)
            }
            forwarderSecret = secret
        }

        // A connection attempt to an unreachable host must not block a writer, the probe or
        // housekeeping for minutes (libpq waits for the kernel's TCP timeout by default); an
        // operator's own PGCONNECT_TIMEOUT or connect_timeout in the URL wins.
        setenv("PGCONNECT_TIMEOUT", "10", 0)
        let connection = try Startup.connect(config.databaseURL, retrySeconds: config.connectRetrySeconds, logger: logger)
        // One engine per database: a session-level advisory lock, held by this connection for the
        // process's life (released by PostgreSQL when the process dies, however it dies).
        let instanceLock = try Startup.connect(config.databaseURL, retrySeconds: 0, logger: logger)
        guard (try? instanceLock.query("SELECT pg_try_advisory_lock(7420610871245367)").scalar) == "t" else {
            FileHandle.standardError.write(Data("algotrader serve: another algotrader serve is running on this database; refusing to start a second\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        defer { instanceLock.close() }
        do {
            let status = try Migrator().check(connection)
            logger.info("schema checked", metadata: ["version": "\(status.databaseVersion)"])
            Startup.warnIfAuditUnprotected(connection, logger: logger)
        } catch let error as MigrationError {
            FileHandle.standardError.write(Data("algotrader serve: \(error)\n".utf8))
            throw ExitCode(ExitStatus.dataError)
        }
        // The local journal belongs to this database only (CONTRACT.md section 4): its directory
        // is named by the database's identity, so it is never replayed into another database.
        let journalRoot: String
        do {
            let id = try connection.query("SELECT database_id::text FROM engine_identity").scalar ?? "unknown"
            journalRoot = config.journalDirectory + "/" + id
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: database: \(error)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        connection.close()
        // One disk budget for both journals; order records keep a reserve ticks cannot take, so
        // an outage that fills the budget with ticks still leaves room to trade.
        let budget = JournalBudget(maxBytes: config.journalMaxBytes)
        let eventReserve = min(256 << 20, config.journalMaxBytes / 4)
        let recordBytes = Int(min(16 << 20, config.journalSegmentBytes))
        let tickJournal: TickJournal, eventJournal: SegmentJournal, seqFloor: SequenceFloor
        do {
            tickJournal = TickJournal(journal: try SegmentJournal(directory: journalRoot + "/ticks", segmentBytes: config.journalSegmentBytes,
                                                                  maxRecordBytes: recordBytes, budget: budget,
                                                                  budgetCeiling: config.journalMaxBytes - eventReserve))
            eventJournal = try SegmentJournal(directory: journalRoot + "/events", segmentBytes: config.journalSegmentBytes,
                                              maxRecordBytes: recordBytes, budget: budget)
            seqFloor = try SequenceFloor(directory: journalRoot + "/events")
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: configuration error: journal.dir: \(error)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
        if !tickJournal.isEmpty || !eventJournal.isEmpty {
            logger.notice("the local journal holds records from before: replaying them", metadata: [
                "dir": "\(journalRoot)", "tick_bytes": "\(tickJournal.journal.pendingBytes)", "event_bytes": "\(eventJournal.pendingBytes)"])
        }

        // swift-metrics' backend before anything makes a metric (they bind to it when made).
        let metricsRegistry = config.metricsBind.isEmpty ? nil : MetricsExporter.bootstrap()
        let context = try ZMQContext()
        // Whatever starts from here is stopped in one order, on SIGTERM or when a later start
        // fails: a start that throws must not leave threads running behind the exit.
        let stops = StopSequence()
        var started = false
        defer {
            if !started {
                logger.notice("start failed: stopping what had started", metadata: ["components": "\(stops.order.joined(separator: ","))"])
                stops.stopAll(logger: logger)
            }
        }
        // CURVE on every bound socket when a key is configured; the ZAP handler admits only the
        // listed client keys and must be up before any socket accepts a connection.
        if let security {
            let handler = ZAPHandler(context: context, allowedByDomain: security.allowedByDomain)
            try handler.start()
            stops.add(.authentication, "zap") { handler.stop() }
            logger.notice("CURVE on every bound socket", metadata: ["server_key": "\(security.keys.publicKey)", "clients": "\(security.allowedClients.values.reduce(0) { $0 + $1.count })"])
        }
        if security == nil, let exposed = config.marketDataBind.first(where: { !EngineConfig.isLocal($0) }) {
            // Allowed (publishers may live elsewhere), but whoever reaches it can move prices.
            logger.warning("market_data.bind listens beyond this machine without CURVE: anyone who reaches it can publish ticks",
                           metadata: ["endpoint": "\(exposed)"])
        }
        // Orders: the desk (risk, paper venue, positions) and the event writer that stores its
        // records and only then publishes them on the bus (CONTRACT.md section 2).
        let gateway = GatewayServer(
            settings: .init(endpoint: config.gatewayBind, heartbeatIntervalMilliseconds: config.gatewayHeartbeatIntervalMilliseconds,
                            heartbeatTimeoutMilliseconds: config.gatewayHeartbeatTimeoutMilliseconds,
                            resendIntervalMilliseconds: config.gatewayResendIntervalMilliseconds, ipcBrokers: config.gatewayIPCBrokers),
            context: context, connectionString: config.databaseURL, logger: logger, security: security)
        let strategies = StrategyRuntime(config: config, logger: logger, gateway: gateway)
        let pipeline = strategies.pipeline
        let gate = IntakeGate()
        let writer = EventWriter(connectionString: config.databaseURL, endpoint: config.busBind, context: context, logger: logger,
                                 onPublished: { events in pipeline.ordersUpdated(events) },
                                 onGateway: { records in gateway.send(records) }, security: security, journal: eventJournal,
                                 seqFloor: seqFloor, gate: gate)
        do {
            try writer.start()
            stops.add(.eventWriter, "event_writer") { writer.stop() }
        } catch let error as ZMQError {
            FileHandle.standardError.write(Data("algotrader serve: configuration error: bus.bind: cannot bind '\(config.busBind)': \(error)\n".utf8))
            throw ExitCode(ExitStatus.config)
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: database: \(error)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let desk = OrderDesk(writer: writer, logger: logger, onIntentsRefused: { intents in pipeline.intentsRefused(intents) })
        gateway.attach(desk)
        stops.add(.desk, "order_desk") { desk.drain() }
        do {
            try gateway.start()
            stops.add(.gateway, "gateway") { gateway.stop() }
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: configuration error: gateway.bind: cannot bind '\(config.gatewayBind)': \(error)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
        let replay = ReplayServer(endpoint: config.replayBind, context: context, connectionString: config.databaseURL, logger: logger,
                                  security: security)
        do {
            try replay.start()
            stops.add(.replay, "replay") { replay.stop() }
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: configuration error: bus.replay_bind: cannot bind '\(config.replayBind)': \(error)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
        desk.startMarking()
        let halts = HaltWatcher(connectionString: config.databaseURL, desk: desk, logger: logger)
        do {
            // Registered first: a start that fails halfway has its recorder and pipeline stopped
            // (the recorder's stop returns at once if it never ran).
            stops.add(.strategies, "strategies") { strategies.stop() }
            try strategies.start(desk: desk)
            try halts.start()
            stops.add(.halts, "halts") { halts.stop() }
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: database: \(error)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let control = ControlServer(
            settings: .init(endpoint: config.controlBind, sessionTTLMinutes: config.sessionTTLMinutes, maxFailedLogins: config.maxFailedLogins,
                            maxFailedLoginsPerPeer: config.maxFailedLoginsPerPeer, failedLoginWindowSeconds: config.failedLoginWindowSeconds,
                            forwarderSecret: forwarderSecret, passwordLogN: config.passwordScryptLogN),
            context: context, connectionString: config.databaseURL, logger: logger,
            hooks: .init(reloadStrategies: { strategies.reload() }, desk: desk), security: security)
        do {
            try control.start()
            stops.add(.control, "control") { control.stop() }
        } catch {
            FileHandle.standardError.write(Data("algotrader serve: configuration error: control.bind: cannot bind '\(config.controlBind)': \(error)\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
        let engine = IngestEngine(config: config, context: context, logger: logger,
                                  consumers: [{ pipeline.submit($0) }, { desk.onTicks($0) }], security: security,
                                  journal: tickJournal, gate: gate,
                                  onFeedHealth: { silent in if config.feedHaltStrategies { desk.setHaltedExchanges(silent) } })
        engine.setHolidays(try DeskState.holidays(config.databaseURL))
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            logger.info("SIGHUP: reloading strategies, risk settings, instruments and holidays")
            strategies.reload()
            do { engine.setHolidays(try DeskState.holidays(config.databaseURL)) } catch {
                logger.error("could not reload exchange holidays", metadata: ["error": "\(error)"])
            }
        }
        hangup.resume()
        sources.append(hangup)
        do {
            try engine.start()  // stops what it started itself when it fails
            stops.add(.intake, "intake") { _ = engine.stop() }
        } catch {
            switch error {
            case .socket(let key, let endpoint, let zmqError):
                FileHandle.standardError.write(Data("algotrader serve: configuration error: \(key): cannot use '\(endpoint)': \(zmqError)\n".utf8))
                throw ExitCode(ExitStatus.config)
            case .database(let dbError):
                FileHandle.standardError.write(Data("algotrader serve: database: \(dbError)\n".utf8))
                throw ExitCode(ExitStatus.unavailable)
            }
        }
        if !config.metricsBind.isEmpty {
            var sources = MetricsExporter.Sources(
                ingest: engine.counters, queueDepth: { engine.queued }, journalBytes: { tickJournal.journal.pendingBytes + eventJournal.pendingBytes },
                events: writer, databaseUp: { engine.databaseUp },
                activeHalts: { halts.activeHalts.load(ordering: .relaxed) }, feedSilences: { engine.feedSilences.load(ordering: .relaxed) })
            sources.health = {
                var h = MetricsExporter.Health()
                h.queueBytes = engine.queuedBytes
                h.queueMaxBytes = engine.maxQueuedBytes
                h.backpressureSeconds = engine.backpressureSeconds
                h.overloaded = engine.overloaded
                h.tickStorageBlocked = engine.tickStorageBlocked
                h.eventStorageBlocked = writer.isBlocked
                h.journalLimitBytes = config.journalMaxBytes
                h.streamsTracked = engine.sequences.streamCount
                h.streamsEvicted = engine.sequences.evictedStreams
                (h.barInstruments, h.barTicksOverLimit) = pipeline.barCounts
                h.quarantinedOrderRecords = writer.quarantinedRecords.load(ordering: .relaxed)
                h.quarantinedJournalRecords = writer.quarantinedJournalRecords.load(ordering: .relaxed) + engine.counters.unreadableJournalRecords.load(ordering: .relaxed)
                h.refusedIntents = desk.refusedIntents.load(ordering: .relaxed)
                h.replayServed = replay.served.load(ordering: .relaxed)
                h.replayRefused = replay.refused.load(ordering: .relaxed)
                h.replayStalled = replay.stalled.load(ordering: .relaxed)
                return h
            }
            guard let registry = metricsRegistry,
                  let exporter = MetricsExporter(bind: config.metricsBind, registry: registry, sources: sources, logger: logger) else {
                FileHandle.standardError.write(Data("algotrader serve: configuration error: metrics.bind: '\(config.metricsBind)'\n".utf8))
                throw ExitCode(ExitStatus.config)
            }
            do {
                try exporter.start()
                stops.add(.metrics, "metrics") { exporter.stop() }
            } catch {
                FileHandle.standardError.write(Data("algotrader serve: configuration error: metrics.bind: cannot listen on '\(config.metricsBind)': \(error)\n".utf8))
                throw ExitCode(ExitStatus.config)
            }
        }
        let maintenance = MaintenanceTimer(
            jobs: Maintenance(tickRetentionDays: config.tickRetentionDays, systemLogRetentionDays: config.systemLogRetentionDays,
                              tradeLogRetentionDays: config.tradeLogRetentionDays, oneMinuteBarRetentionDays: config.oneMinuteBarRetentionDays,
                              streamIdleSeconds: config.streamIdleSeconds),
            connectionString: config.databaseURL, intervalSeconds: config.maintenanceIntervalSeconds, logger: logger)
        maintenance.start()
        stops.add(.maintenance, "maintenance") { maintenance.stop() }
        started = true
        notifier.notify("READY=1\nSTATUS=ingesting ticks")
        logger.info("serving", metadata: [
            "connect": "\(config.marketDataConnect)", "bind": "\(config.marketDataBind)", "bus": "\(config.busBind)",
        ])

        // Watchdog pings while the writer keeps up; the health check proper grows with the pipeline.
        // (A dispatch source must be resumed before it is released, so it is made only when used.)
        var watchdog: (any DispatchSourceTimer)?
        if let usec = ProcessInfo.processInfo.environment["WATCHDOG_USEC"].flatMap({ Int($0) }), usec > 0 {
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now(), repeating: .microseconds(usec / 2))
            // WATCHDOG=1 only while the pipeline's own check passes: every strategy shard answers
            // within a second and the event writer turned within five (it turns every 100 ms).
            // A wedged engine then gets no ping, and systemd restarts it.
            timer.setEventHandler {
                let writerAge = monotonicNanoseconds() / 1_000_000 - writer.lastTurn.load(ordering: .relaxed)
                if pipeline.isResponsive(timeoutMilliseconds: 1_000) && writerAge < 5_000 {
                    notifier.notify("WATCHDOG=1")
                } else {
                    logger.error("health check failed: no watchdog ping", metadata: ["event_writer_ms": "\(writerAge)"])
                }
            }
            timer.resume()
            watchdog = timer
        }

        stopRequested.wait()
        logger.info("stop requested: draining")
        notifier.notify("STOPPING=1")
        // The intake first, for its summary (the stop line); then the rest in the same order a
        // failed start uses.
        // No SIGHUP reload may run once the strategies stop (it would mark them running again).
        sources.forEach { $0.cancel() }
        let summary = engine.stop()
        stops.stopAll(logger: logger, skipping: [.intake])
        watchdog?.cancel()
        // The stop line operators and scripts read (docs/operations.md), whatever the log level.
        let abandonedTicks = engine.abandonedTicks, abandonedRecords = writer.abandonedRecords.load(ordering: .relaxed)
        FileHandle.standardError.write(Data("\(summary) abandoned_ticks=\(abandonedTicks) abandoned_records=\(abandonedRecords)\n".utf8))
        guard abandonedTicks == 0 && abandonedRecords == 0 else {
            // Not a clean stop: say so, and exit 75 (EX_TEMPFAIL) so systemd sees it.
            logger.critical("stopped with work that could not be made durable (PostgreSQL away and the journal full)",
                            metadata: ["ticks": "\(abandonedTicks)", "order_records": "\(abandonedRecords)"])
            throw ExitCode(ExitStatus.temporaryFailure)
        }
        logger.info("stopped cleanly", metadata: ["summary": "\(summary)"])
    }
}
