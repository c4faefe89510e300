import Dispatch
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The HTTP side of the metrics endpoint, on Hummingbird (SwiftNIO): `GET /metrics` answers
/// `render()`, anything else 404. Before, one thread accepted and answered one connection at a
/// time with raw `accept`/`read`/`write`, so 200 idle connections made a scrape wait 41 s;
/// here connections are served concurrently on event loops, at most `maxConnections` at once,
/// and one idle for `idleTimeout` is closed.
final class MetricsServer: Sendable {
    static let maxConnections = 512
    static let idleTimeout = TimeAmount.seconds(10)

    private let host: String
    private let port: Int
    private let logger: Logger
    private let render: @Sendable () -> String
    private let group = Mutex<ServiceGroup?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    init(host: String, port: Int, logger: Logger, render: @escaping @Sendable () -> String) {
        self.host = host
        self.port = port
        self.logger = logger
        self.render = render
    }

    /// Returns once the server listens, or throws why it cannot (the port taken, say).
    func start() throws {
        let router = Router()
        let render = self.render
        // Scrapes render one at a time on a queue of their own: the counters move by deltas from
        // the last scrape (two at once could count an increase twice), and rendering waits on
        // the strategy shards' queues, which is no work for an event loop thread.
        let renderQueue = DispatchQueue(label: "algotrader.metrics-render")
        router.get("metrics") { _, _ -> Response in
            let text = await withCheckedContinuation { done in renderQueue.async { done.resume(returning: render()) } }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        // Hummingbird's own messages (listening, each connection) below warning stay out of the log.
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let outcome = Mutex<(any Error)??>(nil)
        let ready = DispatchSemaphore(value: 0)
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: Self.idleTimeout)),
            configuration: .init(address: .hostname(host, port: port), backlog: 64,
                                 availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections)),
            onServerRunning: { _ in
                outcome.withLock { $0 = .some(nil) }
                ready.signal()
            },
            logger: quiet)
        // No signals: serve's own handlers stop it, through stop().
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: quiet))
        self.group.withLock { $0 = group }
        let finished = self.finished
        Task.detached {
            do {
                try await group.run()
            } catch {
                let first = outcome.withLock { o -> Bool in
                    guard o == nil else { return false }
                    o = .some(error)
                    return true
                }
                if first { ready.signal() }
            }
            finished.signal()
        }
        ready.wait()
        if case .some(.some(let error)) = outcome.withLock({ $0 }) {
            self.group.withLock { $0 = nil }
            throw error
        }
    }

    /// Stops listening and closes the connections; waits until the server is down.
    func stop() {
        guard let group = group.withLock({ g -> ServiceGroup? in defer { g = nil }; return g }) else { return }
        Task.detached { await group.triggerGracefulShutdown() }
        finished.wait()
    }
}
