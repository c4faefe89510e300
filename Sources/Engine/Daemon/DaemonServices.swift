import Config
import Dispatch
import Foundation
import Logging
import Storage
import Security
import Synchronization
import ZeroMQ

/// The daemon's components, built from its configuration and chained in start order (the
/// reverse is the stop order: the intake first, so nothing new comes in, then what consumes it):
///
/// authentication (ZAP) -> maintenance -> metrics -> replay -> gateway -> event writer ->
/// order desk -> halts -> strategies -> control -> intake -> readiness
///
/// Operators' commands stop before the desk drains into the event writer (a command applied
/// after it stopped would be in memory only); the event writer stops before the gateway it hands
/// committed live orders to.
final class DaemonServices: Sendable {
    let chain: ServiceChain
    private let engine: IngestEngine
    private let writer: EventWriter
    private let summary = StopSummary()

    /// The intake's summary, written by its stop.
    final class StopSummary: Sendable {
        let text = Mutex<String?>(nil)
    }

    init(_ daemon: Daemon) throws(DaemonError) {
        let config = daemon.config, logger = daemon.logger, security = daemon.security, journals = daemon.journals
        let chain = ServiceChain(logger: logger)
        self.chain = chain
        // swift-metrics' backend before anything makes a metric (they bind to it when made).
        let metricsRegistry = config.metricsBind.isEmpty ? nil : MetricsExporter.bootstrap()
        let context: ZMQContext
        do { context = try ZMQContext() } catch { throw DaemonError(.unavailable, "zeromq: \(error)") }

        // CURVE on every bound socket when a key is configured; the ZAP handler admits only the
        // listed client keys and must be up before any socket accepts a connection.
        if let security {
            let handler = ZAPHandler(context: context, allowedByDomain: security.allowedByDomain)
            chain.add("zap", start: {
                do { try handler.start() } catch { throw DaemonError(.configuration, "configuration error: security: ZAP handler: \(error)") }
                logger.notice("CURVE on every bound socket", metadata: ["server_key": "\(security.keys.publicKey)",
                                                                        "clients": "\(security.allowedClients.values.reduce(0) { $0 + $1.count })"])
            }, stop: { handler.stop() })
        } else if let exposed = config.marketDataBind.first(where: { !EngineConfig.isLocal($0) }) {
            // Allowed (publishers may live elsewhere), but whoever reaches it can move prices.
            logger.warning("market_data.bind listens beyond this machine without CURVE: anyone who reaches it can publish ticks",
                           metadata: ["endpoint": "\(exposed)"])
        }
        let maintenance = MaintenanceTimer(
            jobs: Maintenance(tickRetentionDays: config.tickRetentionDays, systemLogRetentionDays: config.systemLogRetentionDays,
                              tradeLogRetentionDays: config.tradeLogRetentionDays, oneMinuteBarRetentionDays: config.oneMinuteBarRetentionDays,
                              streamIdleSeconds: config.streamIdleSeconds),
            connectionString: config.databaseURL, intervalSeconds: config.maintenanceIntervalSeconds, logger: logger)
        chain.add("maintenance", start: { maintenance.start() }, stop: { maintenance.stop() })

        // Orders: the desk (risk, paper venue, positions) and the event writer that stores its
        // records and only then publishes them on the bus.
        let keyRing: CredentialKeyRing?
        do { keyRing = try CredentialKeyRing.loadIfConfigured(config) } catch { throw DaemonError.configuration("\(error)") }
        let gateway = GatewayServer(
            settings: .init(endpoint: config.gatewayBind, heartbeatIntervalMilliseconds: config.gatewayHeartbeatIntervalMilliseconds,
                            heartbeatTimeoutMilliseconds: config.gatewayHeartbeatTimeoutMilliseconds,
                            resendIntervalMilliseconds: config.gatewayResendIntervalMilliseconds, ipcBrokers: config.gatewayIPCBrokers),
            context: context, connectionString: config.databaseURL, logger: logger, security: security, keyRing: keyRing)
        // Strategy processes (external strategies): told when one connects or leaves, so
        // `is_running` follows.
        let runtimeSlot = Mutex<StrategyRuntime?>(nil)
        let processes = StrategyServer(
            settings: .init(endpoint: config.strategiesBind, heartbeatTimeoutMilliseconds: config.strategiesHeartbeatTimeoutMilliseconds),
            context: context, connectionString: config.databaseURL, logger: logger, security: security,
            onConnectedChanged: { _ in runtimeSlot.withLock { $0 }?.processesChanged() })
        let strategies = StrategyRuntime(config: config, logger: logger, gateway: gateway, processes: processes)
        runtimeSlot.withLock { $0 = strategies }
        let pipeline = strategies.pipeline
        let gate = IntakeGate()
        let writer = EventWriter(connectionString: config.databaseURL, endpoint: config.busBind, context: context, logger: logger,
                                 onPublished: { events in
                                     pipeline.ordersUpdated(events.map(\.event))
                                     processes.onPublished(events)
                                 },
                                 onGateway: { records in gateway.send(records) }, security: security, journal: journals.events,
                                 seqFloor: journals.seqFloor, gate: gate)
        self.writer = writer
        let desk = OrderDesk(writer: writer, logger: logger, onIntentsRefused: { intents in pipeline.intentsRefused(intents) })
        gateway.attach(desk)
        processes.attach(desk)
        let replay = ReplayServer(endpoint: config.replayBind, context: context, connectionString: config.databaseURL, logger: logger,
                                  security: security)
        let halts = HaltWatcher(connectionString: config.databaseURL, desk: desk, logger: logger)
        let engine = IngestEngine(config: config, context: context, logger: logger,
                                  consumers: [{ pipeline.submit($0) }, { desk.onTicks($0) }, { processes.onTicks($0) }], security: security,
                                  journal: journals.ticks, gate: gate,
                                  onFeedHealth: { silent in if config.feedHaltStrategies { desk.setHaltedExchanges(silent) } })
        self.engine = engine
        // What SIGHUP and `ctl reload` both do, one path so they cannot drift apart: strategies
        // (with risk settings, live brokers and desk settings, StrategyRuntime.load), then
        // exchange holidays (also when the strategies' load failed). Returns once applied.
        let reload: @Sendable () throws -> StrategyRuntime.Loaded = {
            let loaded = Result { try strategies.reloadNow() }
            do { engine.setHolidays(try DeskState.holidays(config.databaseURL)) } catch {
                logger.error("could not reload exchange holidays", metadata: ["error": "\(error)"])
            }
            return try loaded.get()
        }
        let control = ControlServer(
            settings: .init(endpoint: config.controlBind, sessionTTLMinutes: config.sessionTTLMinutes, maxFailedLogins: config.maxFailedLogins,
                            maxFailedLoginsPerPeer: config.maxFailedLoginsPerPeer, failedLoginWindowSeconds: config.failedLoginWindowSeconds,
                            forwarderSecret: daemon.forwarderSecret, passwordLogN: config.passwordScryptLogN),
            context: context, connectionString: config.databaseURL, logger: logger,
            hooks: .init(reloadStrategies: { strategies.reload() }, desk: desk, reload: reload), security: security)

        if let registry = metricsRegistry {
            let sources = Self.metricsSources(config: config, engine: engine, journals: journals, writer: writer, halts: halts,
                                              pipeline: pipeline, recorder: strategies.recorder, desk: desk, replay: replay)
            guard let exporter = MetricsExporter(bind: config.metricsBind, registry: registry, sources: sources, logger: logger) else {
                throw .configuration("metrics.bind: '\(config.metricsBind)'")
            }
            // Hummingbird's server, a service of this group itself; a bind that fails is the
            // configuration's error.
            chain.add("metrics", service: { running in exporter.service(running: running) }, startFailure: { error in
                DaemonError.configuration("metrics.bind: cannot listen on '\(config.metricsBind)': \(error)")
            })
        }
        chain.add("replay", start: {
            do { try replay.start() } catch {
                throw DaemonError.configuration("bus.replay_bind: cannot bind '\(config.replayBind)': \(error)")
            }
        }, stop: { replay.stop() })
        chain.add("gateway", start: {
            do { try gateway.start() } catch {
                throw DaemonError.configuration("gateway.bind: cannot bind '\(config.gatewayBind)': \(error)")
            }
        }, stop: { gateway.stop() })
        chain.add("event_writer", start: {
            do { try writer.start() } catch let error as ZMQError {
                throw DaemonError.configuration("bus.bind: cannot bind '\(config.busBind)': \(error)")
            } catch {
                throw DaemonError.database(error)
            }
        }, stop: { writer.stop() })
        chain.add("order_desk", start: { desk.startMarking() }, stop: { desk.drain() })
        // The halts before the strategies: the desk knows who is halted when it takes up the
        // orders still working at the last stop, and cancels (never resends) a halted one's.
        chain.add("halts", start: {
            do { try halts.start() } catch { throw DaemonError.database(error) }
        }, stop: { halts.stop() })
        // SIGHUP reloads while the strategies run: from their start (an operator who saw the
        // control socket appear may send it at once) until their stop (a reload after it would
        // mark them running again).
        let signals = daemon.signals
        // On the signal source's queue: waiting there for the reload holds up no other work.
        let hangup: @Sendable () -> Void = {
            logger.info("SIGHUP: reloading strategies, risk settings, instruments and holidays")
            do { _ = try reload() } catch {
                logger.error("strategy reload failed; the running set is unchanged", metadata: ["error": "\(error)"])
            }
        }
        chain.add("strategies", start: {
            do { try strategies.start(desk: desk) } catch {
                strategies.stop()  // the recorder and pipeline, if they got as far
                throw DaemonError.database(error)
            }
            signals.onReload(hangup)
        }, stop: {
            signals.onReload(nil)
            strategies.stop()
        })
        chain.add("strategy_processes", start: {
            do { try processes.start() } catch {
                throw DaemonError.configuration("strategies.bind: cannot bind '\(config.strategiesBind)': \(error)")
            }
        }, stop: { processes.stop() })
        chain.add("control", start: {
            do { try control.start() } catch {
                throw DaemonError.configuration("control.bind: cannot bind '\(config.controlBind)': \(error)")
            }
        }, stop: { control.stop() })
        let summary = self.summary
        chain.add("intake", start: {
            do { engine.setHolidays(try DeskState.holidays(config.databaseURL)) } catch { throw DaemonError.database(error) }
            do throws(EngineStartError) {
                try engine.start()  // stops what it started itself when it fails
            } catch {
                switch error {
                case .socket(let key, let endpoint, let zmqError):
                    throw DaemonError.configuration("\(key): cannot use '\(endpoint)': \(zmqError)")
                case .database(let dbError):
                    throw DaemonError.database(dbError)
                }
            }
        }, stop: {
            let text = "\(engine.stop())"
            summary.text.withLock { $0 = text }
        })
        let readiness = Readiness(config: config, logger: logger, pipeline: pipeline, writer: writer)
        chain.add("readiness", start: { readiness.start() }, stop: { readiness.stop() })
    }

    /// The stop line's figures, once every service stopped.
    func outcome() -> Daemon.Outcome {
        // A stop asked before the intake started still ends with the stop line's counters
        // (all zero then), in the format operators' scripts read.
        Daemon.Outcome(summary: summary.text.withLock { $0 } ?? "\(engine.counters.snapshot())", abandonedTicks: engine.abandonedTicks,
                       abandonedRecords: writer.abandonedRecords.load(ordering: .relaxed), started: chain.record.current.started)
    }

    private static func metricsSources(config: EngineConfig, engine: IngestEngine, journals: Daemon.Journals, writer: EventWriter,
                                       halts: HaltWatcher, pipeline: StrategyPipeline, recorder: PipelineRecorder, desk: OrderDesk,
                                       replay: ReplayServer) -> MetricsExporter.Sources {
        let tickJournal = journals.ticks, eventJournal = journals.events
        var sources = MetricsExporter.Sources(
            ingest: engine.counters, queueDepth: { engine.queued }, journalBytes: { tickJournal.journal.pendingBytes + eventJournal.pendingBytes },
            // Up only while both paths reach it: ticks (their writes, or the probe when idle) and
            // order records (the event writer's last round or journal replay).
            events: writer, databaseUp: { engine.databaseUp && writer.databaseReachable.load(ordering: .relaxed) },
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
            h.barTicksOverExchangeLimit = pipeline.barTicksOverExchangeLimit
            h.droppedBars = recorder.droppedBars.load(ordering: .relaxed)
            h.quarantinedBars = recorder.quarantinedBars.load(ordering: .relaxed)
            h.quarantinedOrderRecords = writer.quarantinedRecords.load(ordering: .relaxed)
            h.quarantinedJournalRecords = writer.quarantinedJournalRecords.load(ordering: .relaxed) + engine.counters.unreadableJournalRecords.load(ordering: .relaxed)
            h.refusedIntents = desk.refusedIntents.load(ordering: .relaxed)
            h.replayServed = replay.served.load(ordering: .relaxed)
            h.replayRefused = replay.refused.load(ordering: .relaxed)
            h.replayStalled = replay.stalled.load(ordering: .relaxed)
            return h
        }
        return sources
    }
}
