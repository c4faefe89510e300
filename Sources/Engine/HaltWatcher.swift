import Dispatch
import Foundation
public import Logging
import Postgres
import Storage
public import Synchronization

/// Reads the active halts every 100 ms and hands changes to the order desk, so an operator's
/// `algotrader halt` (or a breach recorded by another engine) takes effect within that, and a
/// halt survives a restart.
public final class HaltWatcher: Sendable {
    private let connectionString: String
    private let desk: OrderDesk
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Active halts (users, plus 1 for an engine-wide one), for metrics.
    public let activeHalts = Atomic<Int>(0)

    public init(connectionString: String, desk: OrderDesk, logger: Logger) {
        self.connectionString = connectionString
        self.desk = desk
        self.logger = logger
    }

    /// Reads the halts once (so they apply before intake starts), then keeps watching.
    public func start() throws {
        let initial = LazyConnection(connectionString: connectionString)
        let first = try Self.read(initial)
        initial.close()
        desk.setHalts(users: first.users, strategies: first.strategies, engine: first.engine, now: SystemClock().now())
        activeHalts.store(first.users.count + first.strategies.count + (first.engine ? 1 : 0), ordering: .relaxed)
        let thread = Thread { [self] in
            // The thread's own connection (a PGconn belongs to one thread).
            let db = LazyConnection(connectionString: connectionString)
            var current = first
            while !stopping.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 0.1)
                guard let next = try? Self.read(db) else { db.close(); continue }
                if next.users != current.users || next.strategies != current.strategies || next.engine != current.engine {
                    logger.warning("halts changed", metadata: ["users": "\(next.users.count)", "strategies": "\(next.strategies.count)", "engine": "\(next.engine)"])
                    desk.setHalts(users: next.users, strategies: next.strategies, engine: next.engine, now: SystemClock().now())
                    activeHalts.store(next.users.count + next.strategies.count + (next.engine ? 1 : 0), ordering: .relaxed)
                    current = next
                }
            }
            db.close()
            finished.signal()
        }
        thread.name = "halt watcher"
        thread.start()
    }

    public func stop() {
        stopping.store(true, ordering: .releasing)
        finished.wait()
        finished.signal()
    }

    /// Active halts: users (no strategy named), strategies (a breaker's), and the engine (neither).
    static func read(_ db: LazyConnection) throws -> (users: Set<String>, strategies: Set<String>, engine: Bool) {
        let rows = try db.get().query("SELECT user_id::text, strategy_id::text FROM halts WHERE resumed_at IS NULL").rows
        return (Set(rows.compactMap { $0[1] == nil ? $0[0] : nil }), Set(rows.compactMap { $0[1] }), rows.contains { $0[0] == nil && $0[1] == nil })
    }
}
