public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import NIOCore
public import ServiceLifecycle

/// `algotrader web`'s HTTP server (docs/web.md): the API, the OpenAPI document and the dashboard
/// on Hummingbird, as a service of the process's `ServiceGroup` (which stops it gracefully at
/// SIGTERM). It holds no database connection and no key: all it knows comes from the engine's
/// control socket.
public struct WebServer: Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var corsOrigins: [String]
        public var maxBodyBytes: Int
        public var maxConnections: Int
        public init(host: String, port: Int, corsOrigins: [String], maxBodyBytes: Int, maxConnections: Int) {
            self.host = host
            self.port = port
            self.corsOrigins = corsOrigins
            self.maxBodyBytes = maxBodyBytes
            self.maxConnections = maxConnections
        }
    }

    static let idleTimeout = TimeAmount.seconds(60)

    let settings: Settings
    let control: ControlClient
    /// The event bus for the stream; nil: no `bus.bind`, and the stream says so.
    let relay: BusRelay?
    let logger: Logger

    public init(settings: Settings, control: ControlClient, relay: BusRelay?, logger: Logger) {
        self.settings = settings
        self.control = control
        self.relay = relay
        self.logger = logger
    }

    static let streamPath = "/api/v1/stream"

    /// The router, middleware first (Hummingbird applies a router's middleware to the routes
    /// added after it).
    func router() -> Router<WebRequestContext> {
        let router = Router(context: WebRequestContext.self)
        router.middlewares.add(SecurityMiddleware(corsOrigins: Set(settings.corsOrigins)))
        let api = APIRoutes(control: control, maxBodyBytes: settings.maxBodyBytes)
        api.register(on: router)
        DashboardRoutes(api: api).register(on: router)
        return router
    }

    /// The server as a service; `onRunning` is called once it listens.
    public func application(onRunning: @escaping @Sendable (Int) -> Void) -> some Service {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        return Application(
            router: router(),
            server: .http1WebSocketUpgrade(
                configuration: .init(http1: .init(idleTimeout: Self.idleTimeout),
                                     ws: .init(maxFrameSize: StreamSession.maxMessageBytes, autoPing: .enabled(timePeriod: .seconds(30))))
            ) { [control, relay, logger] request, channel, _ in
                // Only the stream's path upgrades; every other request goes to the router.
                guard request.path?.split(separator: "?").first.map(String.init) == Self.streamPath else { return .dontUpgrade }
                let client = ControlClient.Client(token: nil, address: channel.remoteAddress?.ipAddress,
                                                  userAgent: request.headerFields[.userAgent])
                return .upgrade([:]) { inbound, outbound, _ in
                    guard let relay else {
                        await StreamSession.fail(outbound, APIError(.serviceUnavailable, "engine_unavailable", "no bus.bind: no events to stream"))
                        return
                    }
                    await StreamSession(control: control, relay: relay, client: client, logger: logger).run(inbound, outbound)
                }
            },
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil, backlog: 256,
                                 availableConnectionsDelegate: MaximumAvailableConnections(settings.maxConnections)),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: quiet)
    }
}
