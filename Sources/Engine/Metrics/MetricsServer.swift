import Dispatch
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The HTTP side of the metrics endpoint, on Hummingbird (SwiftNIO): `GET /metrics` answers
/// `render()`, anything else 404; it runs as a service of the daemon's one `ServiceGroup`. Before, one thread accepted and answered one connection at a
/// time with raw `accept`/`read`/`write`, so 200 idle connections made a scrape wait 41 s;
/// here connections are served concurrently on event loops, at most `maxConnections` at once,
/// and one idle for `idleTimeout` is closed.
struct MetricsServer: Sendable {
    static let maxConnections = 512
    static let idleTimeout = TimeAmount.seconds(10)

    private let host: String
    private let port: Int
    private let logger: Logger
    private let render: @Sendable () -> String
    init(host: String, port: Int, logger: Logger, render: @escaping @Sendable () -> String) {
        self.host = host
        self.port = port
        self.logger = logger
        self.render = render
    }

    /// The server as a service of the daemon's group: it calls `onRunning` once it listens, or
    /// its `run` throws why it cannot (the port taken, say); it stops, closing its connections,
    /// at the group's graceful shutdown of it.
    func application(onRunning: @escaping @Sendable () -> Void) -> some Service {
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
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: Self.idleTimeout)),
            configuration: .init(address: .hostname(host, port: port), backlog: 64,
                                 availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections)),
            onServerRunning: { _ in onRunning() },
            logger: quiet)
    }
}
