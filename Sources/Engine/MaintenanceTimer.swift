import Dispatch
import Foundation
public import Logging
public import Storage
import Synchronization

/// Runs ``Maintenance`` every `intervalSeconds` on a thread and connection of its own (first run
/// a minute after start), logging what it did; a failed run is logged and retried next time.
public final class MaintenanceTimer: Sendable {
    private let jobs: Maintenance
    private let connectionString: String
    private let intervalSeconds: Int
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    public init(jobs: Maintenance, connectionString: String, intervalSeconds: Int, logger: Logger) {
        self.jobs = jobs
        self.connectionString = connectionString
        self.intervalSeconds = intervalSeconds
        self.logger = logger
    }

    public func start() {
        let thread = Thread { [self] in
            ThreadName.setCurrent("maintenance")
            let db = LazyConnection(connectionString: connectionString)
            var delay = min(60, intervalSeconds)
            while !stopping.load(ordering: .acquiring) {
                if wake.wait(timeout: .now() + .seconds(delay)) == .success { continue }
                delay = intervalSeconds
                do {
                    let report = try jobs.run(try db.get())
                    logger.info("maintenance done", metadata: ["report": "\(report)"])
                } catch {
                    db.close()
                    logger.error("maintenance failed; retrying at the next run", metadata: ["error": "\(error)"])
                }
            }
            db.close()
            finished.signal()
        }
        thread.name = "maintenance"
        thread.start()
    }

    public func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        finished.wait()
        finished.signal()
    }
}
