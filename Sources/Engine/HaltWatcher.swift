import Dispatch
import Foundation
public import Logging
import Storage
public import Synchronization

/// Hands the halts in force to the order desk whenever they change, so an operator's
/// `algotrader halt` (or a breach recorded by another engine) takes effect at once, and a halt
/// survives a restart. It listens on `halts`' channel (migration 12) and reads the halts when it
/// hears a change; after a lost connection it listens again and reads them once, since a change
/// made while it was away sent no notification it could hear. Before, it read `halts` every
/// 100 ms.
public final class HaltWatcher: Sendable {
    private let connectionString: String
    private let desk: OrderDesk
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Active halts (users, plus 1 for an engine-wide one), for metrics.
    public let activeHalts = Atomic<Int>(0)
    /// Reads of `halts` so far (at start, on a notification, after a reconnect), for tests.
    public let reads = Atomic<Int>(0)

    public init(connectionString: String, desk: OrderDesk, logger: Logger) {
        self.connectionString = connectionString
        self.desk = desk
        self.logger = logger
    }

    /// Reads the halts once (so they apply before intake starts), then keeps watching.
    public func start() throws {
        let once = try DatabaseConnection(connectionString: connectionString)
        let first = try HaltStore.active(once)
        once.close()
        reads.add(1, ordering: .relaxed)
        apply(first)
        let thread = Thread { [self] in
            ThreadName.setCurrent("halt watcher")
            // The thread's own connection (a PGconn belongs to one thread): it listens, then
            // reads again, so a change made since the first read is not missed.
            var db: DatabaseConnection?
            var lost = false
            var current = first
            while !stopping.load(ordering: .acquiring) {
                do {
                    if db == nil {
                        let fresh = try DatabaseConnection(connectionString: connectionString, options: Self.keepalives)
                        try HaltStore.listen(fresh)
                        db = fresh
                        if lost { logger.notice("halt watcher listening again") }
                        lost = false
                        try read(fresh, &current)  // what changed while it was away
                    }
                    // Wakes at most every 250 ms to see whether it should stop.
                    if try !db!.waitForNotifications(timeoutMilliseconds: 250).isEmpty { try read(db!, &current) }
                } catch {
                    if !lost { logger.warning("halt watcher lost its connection; reconnecting", metadata: ["error": "\(error)"]) }
                    lost = true
                    db?.close()
                    db = nil
                    Thread.sleep(forTimeInterval: 0.25)
                }
            }
            db?.close()
            finished.signal()
        }
        thread.name = "halt watcher"
        thread.start()
    }

    /// The listening connection sends nothing while no halt changes, so a connection a network
    /// dropped silently would go unnoticed for libpq's default of about two hours. TCP keepalives
    /// find it within about 20 s (10 s idle, then 3 probes 3 s apart, or 20 s unacknowledged).
    static let keepalives = [("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "3"),
                             ("keepalives_count", "3"), ("tcp_user_timeout", "20000")]

    private func read(_ db: DatabaseConnection, _ current: inout HaltStore.Active) throws {
        let next = try HaltStore.active(db)
        reads.add(1, ordering: .relaxed)
        guard next != current else { return }
        logger.warning("halts changed", metadata: ["users": "\(next.users.count)", "strategies": "\(next.strategies.count)", "engine": "\(next.engine)"])
        apply(next)
        current = next
    }

    private func apply(_ halts: HaltStore.Active) {
        desk.setHalts(users: halts.users, strategies: halts.strategies, engine: halts.engine, now: SystemClock().now())
        activeHalts.store(halts.count, ordering: .relaxed)
    }

    public func stop() {
        stopping.store(true, ordering: .releasing)
        finished.wait()
        finished.signal()
    }

}
