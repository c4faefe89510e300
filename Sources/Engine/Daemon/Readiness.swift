import Config
import Dispatch
import Foundation
import Logging
import Synchronization

/// The last service to start and the first to stop: tells systemd the engine is ready (and, at
/// the stop, that it is stopping), and pings the watchdog while the pipeline's own health check
/// passes.
final class Readiness: Sendable {
    private let config: EngineConfig
    private let logger: Logger
    private let pipeline: StrategyPipeline
    private let writer: EventWriter
    private let notifier = SystemdNotifier()
    private let watchdog = Mutex<(any DispatchSourceTimer)?>(nil)

    init(config: EngineConfig, logger: Logger, pipeline: StrategyPipeline, writer: EventWriter) {
        self.config = config
        self.logger = logger
        self.pipeline = pipeline
        self.writer = writer
    }

    func start() {
        notifier.notify("READY=1\nSTATUS=ingesting ticks")
        logger.info("serving", metadata: [
            "connect": "\(config.marketDataConnect)", "bind": "\(config.marketDataBind)", "bus": "\(config.busBind)",
        ])
        // Watchdog pings while the writer keeps up. (A dispatch source must be resumed before it
        // is released, so it is made only when used.)
        guard let usec = ProcessInfo.processInfo.environment["WATCHDOG_USEC"].flatMap({ Int($0) }), usec > 0 else { return }
        let pipeline = self.pipeline, writer = self.writer, notifier = self.notifier, logger = self.logger
        watchdog.withLock { slot in
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
            slot = timer
        }
    }

    func stop() {
        logger.info("stop requested: draining")
        notifier.notify("STOPPING=1")
        watchdog.withLock { timer in
            timer?.cancel()
            timer = nil
        }
    }
}
