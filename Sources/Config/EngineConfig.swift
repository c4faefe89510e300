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
    public var sessionTTLMinutes: Int
    public var maxFailedLogins: Int
    public var failedLoginWindowSeconds: Int
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
    public var defaultProduct: Product
    public var orderControls: OrderControls
    /// nil when `charges.enabled` is false.
    public var chargeSchedule: ChargeSchedule?
    /// `HOST:PORT` of the Prometheus endpoint, or empty for none.
    public var metricsBind: String
    public var logLevel: String
    public var badMessageLogIntervalSeconds: Int

    /// What the configuration is for: `migrate` needs only the database.
    public enum Purpose: Sendable { case serve, migrate }

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
        guard !url.isEmpty else {
            throw ConfigError(key: "database.url", "is required (a libpq connection string; or set database.url_file)")
        }
        databaseURL = url
        timescaleMode = try string("database.timescaledb")
        connectRetrySeconds = try integer("database.connect_retry_seconds")
        marketDataConnect = try list("market_data.connect")
        marketDataBind = try list("market_data.bind")
        guard purpose == .migrate || !marketDataConnect.isEmpty || !marketDataBind.isEmpty else {
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
        guard purpose == .migrate || !busBind.isEmpty else { throw ConfigError(key: "bus.bind", "is required (e.g. tcp://127.0.0.1:5556)") }
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
        guard curveSecretKeyFile.isEmpty || !curveAllowedClientsFile.isEmpty else {
            throw ConfigError(key: "security.curve_allowed_clients_file",
                              "is required with security.curve_secret_key_file: the client keys to admit (a CURVE server without an allow-list admits anyone)")
        }
        controlBind = try string("control.bind")
        guard Self.isEndpoint(controlBind) else { throw ConfigError(key: "control.bind", "'\(controlBind)' is not a ZeroMQ endpoint") }
        sessionTTLMinutes = try integer("control.session_ttl_minutes")
        maxFailedLogins = try integer("control.max_failed_logins")
        failedLoginWindowSeconds = try integer("control.failed_login_window_seconds")
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
        logLevel = try string("logging.level")
        badMessageLogIntervalSeconds = try integer("logging.bad_message_log_interval_seconds")
    }

    static func isEndpoint(_ text: String) -> Bool {
        for scheme in ["tcp://", "ipc://", "inproc://", "pgm://", "epgm://", "ws://", "wss://", "tipc://", "vmci://"]
        where text.hasPrefix(scheme) && text.count > scheme.count {
            return true
        }
        return false
    }
}

