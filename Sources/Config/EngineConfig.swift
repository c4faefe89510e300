import Foundation
public import TradingCore

/// The daemon's validated configuration. Built only by ``ConfigLoader``.
public struct EngineConfig: Sendable {
    public var databaseURL: String
    public var timescaleMode: String
    public var connectRetrySeconds: Int
    public var marketDataConnect: [String]
    public var marketDataBind: [String]
    public var maxPayloadBytes: Int
    public var receiveHighWaterMark: Int
    public var tickRetentionDays: Int
    public var maxLeadSeconds: Int
    public var busBind: String
    public var replayBind: String
    public var batchSize: Int
    public var flushIntervalMilliseconds: Int
    public var queueCapacity: Int
    public var writers: Int
    /// Session open per exchange, minutes after IST midnight.
    public var sessionOpenMinutes: [String: Int64]
    public var barCloseGraceMilliseconds: Int
    public var pipelineShards: Int
    public var gatewayBind: String
    public var gatewayHeartbeatIntervalMilliseconds: Int
    public var gatewayHeartbeatTimeoutMilliseconds: Int
    public var gatewayResendIntervalMilliseconds: Int
    public var paperModel: PaperModel
    public var passwordScryptLogN: Int
    public var credentialsKey: String
    public var credentialsKeyFile: String
    public var curveSecretKeyFile: String
    public var curveAllowedClientsFile: String
    public var curveMarketDataServerKey: String
    public var controlBind: String
    /// The strategy processes' socket, how long one may stay silent, and its own CURVE list.
    public var strategiesBind: String
    public var strategiesHeartbeatTimeoutMilliseconds: Int
    public var strategiesCurveClientsFile: String
    public var sessionTTLMinutes: Int
    public var maxFailedLogins: Int
    public var failedLoginWindowSeconds: Int
    /// Failed logins allowed from one peer across usernames in the window.
    public var maxFailedLoginsPerPeer: Int
    /// The secret a forwarding front end (the web process) shows to have its clients' addresses recorded.
    public var controlForwarderSecretFile: String
    /// Per-socket CURVE allow-lists (empty: `security.curve_allowed_clients_file`).
    public var curveClientsFiles: [String: String]
    /// CURVE public keys of gateways and the live brokers each may serve.
    public var gatewayCurveKeysFile: String
    /// Live brokers a gateway connected over an `ipc://` gateway.bind may serve (`*`: all).
    public var gatewayIPCBrokers: [String]
    /// Kite Connect's REST root (the daily session-token exchange, `broker login`) and its login page.
    public var kiteAPIURL: String
    public var kiteLoginURL: String
    public var angelAPIURL: String
    /// The static IP registered with Angel One, sent as SmartAPI's X-ClientPublicIP (or empty).
    public var angelPublicIP: String
    /// ICICI Direct Breeze's REST root (`broker login`'s customer details), without its trailing slash.
    public var iciciAPIURL: String
    public var journalDirectory: String
    public var journalMemoryTicks: Int
    public var journalSegmentBytes: Int64
    /// The journals' disk budget together (ticks and order records); order records keep a reserve.
    public var journalMaxBytes: Int64
    /// Estimated memory of ticks waiting to be stored, at most (then the receivers stop reading).
    public var ingestMaxMemoryBytes: Int
    /// Publisher streams (`src`, `session`) tracked at most, and how long an idle one is kept.
    public var maxStreams: Int
    public var streamIdleSeconds: Int
    /// Instruments with bars in progress at most.
    public var barMaxInstruments: Int
    public var feedSessions: [String: (open: Int64, close: Int64)]
    public var feedSilenceSeconds: Int
    public var feedHaltStrategies: Bool
    public var maintenanceIntervalSeconds: Int
    public var systemLogRetentionDays: Int
    public var tradeLogRetentionDays: Int
    public var oneMinuteBarRetentionDays: Int
    /// Sessions, holidays (filled from the database) and MIS square-off times per exchange.
    public var tradingCalendar: TradingCalendar
    public var sessionActions: Bool
    /// A new IST day lifts daily loss halts (off: they wait for an admin, CONTRACT.md section 5).
    public var liftDailyLossHaltsAtDayStart: Bool
    /// The daily loss and drawdown checks count charges (off: gross P&L of the fills, as MTM).
    public var riskIncludesCharges: Bool
    /// Paper capital and the margin schedule (execution.paper.capital, execution.margin_*).
    public var funds: Funds
    public var defaultProduct: Product
    public var orderControls: OrderControls
    /// nil when `charges.enabled` is false.
    public var chargeSchedule: ChargeSchedule?
    /// `HOST:PORT` of the Prometheus endpoint, or empty for none.
    public var metricsBind: String
    /// The web process's listening address (`http.bind`).
    public var httpHost: String
    public var httpPort: Int
    /// Origins allowed cross-origin requests; empty: none (no CORS headers at all).
    public var httpCORSOrigins: [String]
    public var httpMaxBodyBytes: Int
    public var httpControlTimeoutSeconds: Int
    public var httpMaxConnections: Int
    public var logLevel: String
    public var badMessageLogIntervalSeconds: Int

    /// What the configuration is for: `migrate` needs only the database.
    /// `web` needs no database: it reaches the data through the engine's control socket.
    public enum Purpose: Sendable { case serve, migrate, web }

    init(values: [String: ConfigValue], purpose: Purpose) throws(ConfigError) {
        func string(_ path: String) throws(ConfigError) -> String {
            guard case .string(let s)? = values[path] else { throw ConfigError(key: path, "is required") }
            return s
        }
        func integer(_ path: String) throws(ConfigError) -> Int {
            guard case .integer(let n)? = values[path] else { throw ConfigError(key: path, "is required") }
            return n
        }
        func list(_ path: String) throws(ConfigError) -> [String] {
            guard case .stringList(let l)? = values[path] else { return [] }
            return l
        }
        // database.url may come from a file (a systemd credential, say) so the secret never
        // appears in the unit, the environment of other processes or the command line.
        let urlFile = (try? string("database.url_file")) ?? ""
        var url = (try? string("database.url")) ?? ""
        if url.isEmpty && !urlFile.isEmpty {
            guard let text = try? String(contentsOfFile: urlFile, encoding: .utf8) else {
                throw ConfigError(key: "database.url_file", "cannot read '\(urlFile)'")
            }
            url = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !url.isEmpty || purpose == .web else {
            throw ConfigError(key: "database.url", "is required (a libpq connection string; or set database.url_file)")
        }
        databaseURL = url
        timescaleMode = try string("database.timescaledb")
        connectRetrySeconds = try integer("database.connect_retry_seconds")
        marketDataConnect = try list("market_data.connect")
        marketDataBind = try list("market_data.bind")
        guard purpose != .serve || !marketDataConnect.isEmpty || !marketDataBind.isEmpty else {
            throw ConfigError(key: "market_data.connect", "is required: at least one endpoint to connect to (or one in market_data.bind)")
        }
        for endpoint in marketDataConnect where !Self.isEndpoint(endpoint) {
            throw ConfigError(key: "market_data.connect", "'\(endpoint)' is not a ZeroMQ endpoint (tcp://host:port, ipc://path, inproc://name)")
        }
        for endpoint in marketDataBind where !Self.isEndpoint(endpoint) {
            throw ConfigError(key: "market_data.bind", "'\(endpoint)' is not a ZeroMQ endpoint (tcp://host:port, ipc://path, inproc://name)")
        }
        maxPayloadBytes = try integer("market_data.max_payload_bytes")
        receiveHighWaterMark = try integer("market_data.receive_hwm")
        tickRetentionDays = try integer("market_data.tick_retention_days")
        maxLeadSeconds = try integer("market_data.max_lead_seconds")
        busBind = (try? string("bus.bind")) ?? ""
        guard purpose != .serve || !busBind.isEmpty else { throw ConfigError(key: "bus.bind", "is required (e.g. tcp://127.0.0.1:5556)") }
        guard busBind.isEmpty || Self.isEndpoint(busBind) else { throw ConfigError(key: "bus.bind", "'\(busBind)' is not a ZeroMQ endpoint") }
        replayBind = try string("bus.replay_bind")
        guard Self.isEndpoint(replayBind) else { throw ConfigError(key: "bus.replay_bind", "'\(replayBind)' is not a ZeroMQ endpoint") }
        batchSize = try integer("ingest.batch_size")
        flushIntervalMilliseconds = try integer("ingest.flush_interval_ms")
        queueCapacity = try integer("ingest.queue_capacity")
        writers = try integer("ingest.writers")
        guard queueCapacity >= batchSize else {
            throw ConfigError(key: "ingest.queue_capacity", "must be at least ingest.batch_size (\(batchSize))")
        }
        let opens = try string("bars.session_open")
        guard let parsed = SessionCalendar.parse(opens), !parsed.isEmpty else {
            throw ConfigError(key: "bars.session_open", "expected EXCHANGE=HH:MM pairs separated by commas, got '\(opens)'")
        }
        sessionOpenMinutes = parsed
        barCloseGraceMilliseconds = try integer("bars.close_grace_ms")
        pipelineShards = try integer("pipeline.shards")
        gatewayBind = try string("gateway.bind")
        guard Self.isEndpoint(gatewayBind) else { throw ConfigError(key: "gateway.bind", "'\(gatewayBind)' is not a ZeroMQ endpoint") }
        gatewayHeartbeatIntervalMilliseconds = try integer("gateway.heartbeat_interval_ms")
        gatewayHeartbeatTimeoutMilliseconds = try integer("gateway.heartbeat_timeout_ms")
        guard gatewayHeartbeatTimeoutMilliseconds > gatewayHeartbeatIntervalMilliseconds else {
            throw ConfigError(key: "gateway.heartbeat_timeout_ms", "must be above gateway.heartbeat_interval_ms (\(gatewayHeartbeatIntervalMilliseconds))")
        }
        gatewayResendIntervalMilliseconds = try integer("gateway.resend_interval_ms")
        paperModel = PaperModel(slippageBasisPoints: Int64(try integer("execution.paper.slippage_bps")),
                                latencyNanoseconds: Int64(try integer("execution.paper.latency_ms")) * 1_000_000,
                                maxFillQuantityPerTick: Int64(try integer("execution.paper.max_fill_quantity")))
        passwordScryptLogN = try integer("security.password_scrypt_log_n")
        credentialsKey = try string("security.credentials_key")
        credentialsKeyFile = try string("security.credentials_key_file")
        curveSecretKeyFile = try string("security.curve_secret_key_file")
        curveAllowedClientsFile = try string("security.curve_allowed_clients_file")
        curveMarketDataServerKey = try string("security.curve_market_data_server_key")
        guard curveMarketDataServerKey.isEmpty || curveMarketDataServerKey.utf8.count == 40 else {
            throw ConfigError(key: "security.curve_market_data_server_key", "must be a Z85 public key (40 characters)")
        }
        guard curveAllowedClientsFile.isEmpty || !curveSecretKeyFile.isEmpty else {
            throw ConfigError(key: "security.curve_allowed_clients_file", "needs security.curve_secret_key_file (the server's key)")
        }
        controlBind = try string("control.bind")
        guard Self.isEndpoint(controlBind) else { throw ConfigError(key: "control.bind", "'\(controlBind)' is not a ZeroMQ endpoint") }
        strategiesBind = try string("strategies.bind")
        guard Self.isEndpoint(strategiesBind) else { throw ConfigError(key: "strategies.bind", "'\(strategiesBind)' is not a ZeroMQ endpoint") }
        strategiesHeartbeatTimeoutMilliseconds = try integer("strategies.heartbeat_timeout_ms")
        strategiesCurveClientsFile = try string("strategies.curve_clients_file")
        guard strategiesCurveClientsFile.isEmpty || !curveSecretKeyFile.isEmpty else {
            throw ConfigError(key: "strategies.curve_clients_file", "needs security.curve_secret_key_file (the server's key)")
        }
        sessionTTLMinutes = try integer("control.session_ttl_minutes")
        maxFailedLogins = try integer("control.max_failed_logins")
        failedLoginWindowSeconds = try integer("control.failed_login_window_seconds")
        maxFailedLoginsPerPeer = try integer("control.max_failed_logins_per_peer")
        controlForwarderSecretFile = try string("control.forwarder_secret_file")
        var clientFiles: [String: String] = [:]
        for socket in ["control", "bus", "bus.replay", "market_data"] {
            let key = socket == "bus.replay" ? "bus.replay_curve_clients_file" : socket + ".curve_clients_file"
            let file = try string(key)
            guard file.isEmpty || !curveSecretKeyFile.isEmpty else { throw ConfigError(key: key, "needs security.curve_secret_key_file (the server's key)") }
            clientFiles[key] = file
        }
        curveClientsFiles = clientFiles
        gatewayCurveKeysFile = try string("gateway.curve_keys_file")
        guard gatewayCurveKeysFile.isEmpty || !curveSecretKeyFile.isEmpty else {
            throw ConfigError(key: "gateway.curve_keys_file", "needs security.curve_secret_key_file (the server's key)")
        }
        gatewayIPCBrokers = try list("gateway.ipc_brokers")
        kiteAPIURL = try Self.httpURL("brokers.kite_api_url", try string("brokers.kite_api_url"))
        kiteLoginURL = try Self.httpURL("brokers.kite_login_url", try string("brokers.kite_login_url"))
        angelAPIURL = try Self.httpURL("brokers.angel_api_url", try string("brokers.angel_api_url"))
        angelPublicIP = try string("brokers.angel_public_ip")
        iciciAPIURL = try Self.httpURL("brokers.icici_api_url", try string("brokers.icici_api_url"))
        if !curveSecretKeyFile.isEmpty && curveAllowedClientsFile.isEmpty {
            // A CURVE server without an allow-list admits anyone who knows its public key.
            let bindsMarketData = !marketDataBind.isEmpty
            var missing = clientFiles.filter { $0.value.isEmpty && ($0.key != "market_data.curve_clients_file" || bindsMarketData) }.map(\.key).sorted()
            if gatewayCurveKeysFile.isEmpty { missing.append("gateway.curve_keys_file") }
            if let first = missing.first {
                throw ConfigError(key: "security.curve_allowed_clients_file",
                                  "is required with security.curve_secret_key_file unless every socket has its own list (\(first) is empty): a CURVE server without an allow-list admits anyone")
            }
        }
        if purpose == .serve && curveSecretKeyFile.isEmpty {
            // Sockets that change state or reveal users' data: without CURVE anyone who can reach
            // them is trusted, so they stay on this machine (loopback or a filesystem path).
            for (key, endpoint) in [("bus.bind", busBind), ("bus.replay_bind", replayBind), ("gateway.bind", gatewayBind), ("control.bind", controlBind),
                                  ("strategies.bind", strategiesBind)]
            where !Self.isLocal(endpoint) {
                throw ConfigError(key: key, "'\(endpoint)' is reachable beyond this machine without CURVE: bind 127.0.0.1 or an ipc:// path, or set security.curve_secret_key_file with an allow-list")
            }
        }
        journalDirectory = try string("journal.dir")
        guard !journalDirectory.isEmpty else { throw ConfigError(key: "journal.dir", "must name a directory") }
        journalMemoryTicks = try integer("journal.memory_ticks")
        guard journalMemoryTicks < queueCapacity else {
            throw ConfigError(key: "journal.memory_ticks", "must be below ingest.queue_capacity (\(queueCapacity)), or ticks would never spill")
        }
        journalSegmentBytes = Int64(try integer("journal.segment_mb")) << 20
        journalMaxBytes = Int64(try integer("journal.max_bytes"))
        guard journalMaxBytes >= 2 * journalSegmentBytes else {
            throw ConfigError(key: "journal.max_bytes", "must be at least twice journal.segment_mb (\(journalSegmentBytes >> 20) MiB)")
        }
        ingestMaxMemoryBytes = try integer("ingest.max_memory")
        maxStreams = try integer("ingest.max_streams")
        streamIdleSeconds = try integer("ingest.stream_idle_seconds")
        barMaxInstruments = try integer("bars.max_instruments")
        let sessions = try string("feed_health.sessions")
        guard let parsedSessions = FeedSilenceMonitor.parseSessions(sessions) else {
            throw ConfigError(key: "feed_health.sessions", "expected EXCHANGE=HH:MM-HH:MM pairs separated by commas, got '\(sessions)'")
        }
        feedSessions = parsedSessions
        feedSilenceSeconds = try integer("feed_health.silence_seconds")
        guard case .boolean(let halt)? = values["feed_health.halt_strategies"] else { throw ConfigError(key: "feed_health.halt_strategies", "is required") }
        feedHaltStrategies = halt
        maintenanceIntervalSeconds = try integer("maintenance.interval_seconds")
        systemLogRetentionDays = try integer("maintenance.system_logs_retention_days")
        tradeLogRetentionDays = try integer("maintenance.trade_logs_retention_days")
        oneMinuteBarRetentionDays = try integer("maintenance.bar_1min_retention_days")
        func boolean(_ path: String) throws(ConfigError) -> Bool {
            guard case .boolean(let b)? = values[path] else { throw ConfigError(key: path, "is required") }
            return b
        }
        func decimal(_ path: String) throws(ConfigError) -> FixedDecimal {
            let text = try string(path)
            guard let value = FixedDecimal(text), value.units >= 0 else {
                throw ConfigError(key: path, "expected a non-negative number with at most 4 decimals, got '\(text)'")
            }
            return value
        }
        let marketSessions = try string("market.sessions")
        guard let tradingSessions = TradingCalendar.parseSessions(marketSessions), !tradingSessions.isEmpty else {
            throw ConfigError(key: "market.sessions", "expected EXCHANGE=HH:MM-HH:MM pairs separated by commas, got '\(marketSessions)'")
        }
        let squareOffText = try string("market.mis_square_off")
        guard let squareOff = SessionCalendar.parse(squareOffText) else {
            throw ConfigError(key: "market.mis_square_off", "expected EXCHANGE=HH:MM pairs separated by commas, got '\(squareOffText)'")
        }
        tradingCalendar = TradingCalendar(sessions: tradingSessions, squareOff: squareOff)
        sessionActions = try boolean("market.session_actions")
        liftDailyLossHaltsAtDayStart = try boolean("controls.lift_daily_loss_halts_at_day_start")
        riskIncludesCharges = try boolean("controls.risk_includes_charges")
        defaultProduct = Product(rawValue: try string("orders.default_product")) ?? .mis
        var controls = OrderControls()
        controls.maxOrdersPerSecondPerUser = try integer("controls.max_orders_per_second_per_user")
        controls.maxOrdersPerMinutePerUser = try integer("controls.max_orders_per_minute_per_user")
        controls.maxOrdersPerSecondPerStrategy = try integer("controls.max_orders_per_second_per_strategy")
        controls.maxOrdersPerMinutePerStrategy = try integer("controls.max_orders_per_minute_per_strategy")
        controls.maxOrderValue = try decimal("controls.max_order_value")
        controls.maxOrderQuantity = Int64(try integer("controls.max_order_quantity"))
        controls.priceBandPercent = try decimal("controls.price_band_percent")
        controls.breakerOrdersPerIntent = try integer("controls.breaker_orders_per_intent")
        controls.breakerMinimumOrders = try integer("controls.breaker_min_orders")
        let algoID = try string("orders.algo_id")
        controls.algoID = algoID.isEmpty ? nil : algoID
        controls.requireAlgoID = try boolean("orders.require_algo_id")
        if controls.requireAlgoID && algoID.isEmpty {
            throw ConfigError(key: "orders.algo_id", "is empty but orders.require_algo_id is true: set the exchange-approved algo id")
        }
        orderControls = controls
        let capital = try decimal("execution.paper.capital")
        let mis = try decimal("execution.margin_mis_percent"), nrml = try decimal("execution.margin_nrml_percent")
        for (key, value) in [("execution.margin_mis_percent", mis), ("execution.margin_nrml_percent", nrml)] where value > FixedDecimal(100) {
            throw ConfigError(key: key, "must be a percentage from 0 to 100, got \(value)")
        }
        funds = Funds(paperCapital: capital.units > 0 ? Int128(capital.units) : nil,
                      schedule: Funds.MarginSchedule(misPercent: mis, nrmlPercent: nrml))
        if try boolean("charges.enabled") {
            let file = try string("charges.schedule_file")
            chargeSchedule = file.isEmpty ? .zerodha : try ChargeScheduleFile.load(path: file)
        } else {
            chargeSchedule = nil
        }
        metricsBind = try string("metrics.bind")
        if !metricsBind.isEmpty {
            let parts = metricsBind.split(separator: ":")
            guard parts.count == 2, UInt16(parts[1]) != nil, parts[0].split(separator: ".").count == 4 else {
                throw ConfigError(key: "metrics.bind", "expected IPV4:PORT (e.g. 127.0.0.1:9464) or empty, got '\(metricsBind)'")
            }
        }
        let http = try string("http.bind")
        guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]), (1...65_535).contains(port),
              !http[..<colon].isEmpty else {
            throw ConfigError(key: "http.bind", "expected HOST:PORT (e.g. 127.0.0.1:8080), got '\(http)'")
        }
        httpHost = String(http[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        httpPort = port
        httpCORSOrigins = try list("http.cors_origins")
        for origin in httpCORSOrigins {
            guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                  url.path.isEmpty else {
                throw ConfigError(key: "http.cors_origins", "'\(origin)' is not an origin (scheme://host[:port], no path)")
            }
        }
        httpMaxBodyBytes = try integer("http.max_body_bytes")
        httpControlTimeoutSeconds = try integer("http.control_timeout_seconds")
        httpMaxConnections = try integer("http.max_connections")
        logLevel = try string("logging.level")
        badMessageLogIntervalSeconds = try integer("logging.bad_message_log_interval_seconds")
    }

    /// Whether a bound endpoint is reachable only from this machine: `ipc://` and `inproc://`, or
    /// TCP on the loopback range (127.0.0.0/8, ::1, `localhost`, the interface `lo`). A wildcard,
    /// any other address or interface, and every other transport are not.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = Substring(endpoint.dropFirst("tcp://".count))
        if let semicolon = host.lastIndex(of: ";") { host = host[host.index(after: semicolon)...] }  // source;destination
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host == "localhost" || host == "lo" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { part in part.count <= 3 && UInt8(part) != nil }
    }

    /// An http(s) URL with a host, its trailing `/` dropped (paths are appended to it).
    static func httpURL(_ key: String, _ text: String) throws(ConfigError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = url.host, !host.isEmpty else {
            throw ConfigError(key: key, "expected an http(s) URL (e.g. https://api.kite.trade), got '\(text)'")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    static func isEndpoint(_ text: String) -> Bool {
        for scheme in ["tcp://", "ipc://", "inproc://", "pgm://", "epgm://", "ws://", "wss://", "tipc://", "vmci://"]
        where text.hasPrefix(scheme) && text.count > scheme.count {
            return true
        }
        return false
    }
}

