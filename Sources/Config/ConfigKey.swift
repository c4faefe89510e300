/// One configuration key: its dotted path, its type and its default.
///
/// The table of keys (``ConfigKey/all``) is the single source of truth: the loader accepts only
/// these keys (a typo in the file is an error naming it), derives each one's environment
/// variable from its path, and `config/algotrader.yaml` documents the same keys.
public struct ConfigKey: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case string
        case integer(ClosedRange<Int>)
        case boolean
        case stringList
        case choice([String])
        /// A size in bytes: an integer, or one with a unit (`KiB`, `MiB`, `GiB`, `TiB`, powers of 1024).
        case byteSize(ClosedRange<Int>)
    }

    public let path: String
    public let kind: Kind
    /// `nil`: no default, the key must be set (only the three CONTRACT.md section 4 names).
    public let defaultValue: ConfigValue?

    public init(_ path: String, _ kind: Kind, default defaultValue: ConfigValue?) {
        self.path = path
        self.kind = kind
        self.defaultValue = defaultValue
    }

    /// `ALGOTRADER_` + the path in upper case with `.` as `_` (CONTRACT.md section 4).
    public var environmentVariable: String {
        "ALGOTRADER_" + path.uppercased().replacingOccurrences(of: ".", with: "_")
    }
}

/// A resolved configuration value.
public enum ConfigValue: Sendable, Hashable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case stringList([String])
}

extension ConfigKey {
    public static let all: [ConfigKey] = [
        // database
        ConfigKey("database.url", .string, default: nil),
        ConfigKey("database.url_file", .string, default: .string("")),
        ConfigKey("database.timescaledb", .choice(["auto", "off"]), default: .string("auto")),
        ConfigKey("database.connect_retry_seconds", .integer(0...3600), default: .integer(30)),
        // market data in
        ConfigKey("market_data.connect", .stringList, default: nil),
        ConfigKey("market_data.bind", .stringList, default: .stringList([])),
        ConfigKey("market_data.max_payload_bytes", .integer(256...16_777_216), default: .integer(65_536)),
        ConfigKey("market_data.receive_hwm", .integer(0...100_000_000), default: .integer(1_000)),
        ConfigKey("market_data.tick_retention_days", .integer(1...3650), default: .integer(30)),
        ConfigKey("market_data.max_lead_seconds", .integer(0...604_800), default: .integer(86_400)),
        // events out
        ConfigKey("bus.bind", .string, default: nil),
        ConfigKey("bus.replay_bind", .string, default: .string("tcp://127.0.0.1:5557")),
        // tick writer
        ConfigKey("ingest.batch_size", .integer(1...1_000_000), default: .integer(10_000)),
        ConfigKey("ingest.flush_interval_ms", .integer(1...60_000), default: .integer(50)),
        ConfigKey("ingest.writers", .integer(1...16), default: .integer(2)),
        ConfigKey("ingest.queue_capacity", .integer(1_000...100_000_000), default: .integer(2_000_000)),
        // Overload and bounds (docs/operations.md, "Overload"; docs/ingest.md, "Bounds")
        ConfigKey("ingest.max_memory", .byteSize((1 << 20)...(1 << 40)), default: .integer(256 << 20)),
        ConfigKey("ingest.max_streams", .integer(100...10_000_000), default: .integer(50_000)),
        ConfigKey("ingest.stream_idle_seconds", .integer(60...2_592_000), default: .integer(86_400)),
        ConfigKey("bars.max_instruments", .integer(100...10_000_000), default: .integer(100_000)),
        // bars and strategies
        ConfigKey("bars.session_open", .string, default: .string("NSE=09:15,BSE=09:15,NFO=09:15,BFO=09:15,MCX=09:00,CDS=09:00")),
        ConfigKey("bars.close_grace_ms", .integer(0...600_000), default: .integer(0)),
        ConfigKey("pipeline.shards", .integer(1...64), default: .integer(2)),
        // broker gateways and the paper simulator's optional models
        ConfigKey("gateway.bind", .string, default: .string("tcp://127.0.0.1:5558")),
        ConfigKey("gateway.heartbeat_interval_ms", .integer(100...60_000), default: .integer(1_000)),
        ConfigKey("gateway.heartbeat_timeout_ms", .integer(300...600_000), default: .integer(5_000)),
        ConfigKey("gateway.resend_interval_ms", .integer(10...600_000), default: .integer(2_000)),
        ConfigKey("execution.paper.slippage_bps", .integer(0...1_000), default: .integer(0)),
        ConfigKey("execution.paper.latency_ms", .integer(0...60_000), default: .integer(0)),
        ConfigKey("execution.paper.max_fill_quantity", .integer(0...100_000_000), default: .integer(0)),
        ConfigKey("execution.paper.capital", .string, default: .string("10000000")),
        ConfigKey("execution.margin_mis_percent", .string, default: .string("20")),
        ConfigKey("execution.margin_nrml_percent", .string, default: .string("100")),
        // security and the control socket (docs/security.md)
        ConfigKey("security.password_scrypt_log_n", .integer(10...20), default: .integer(15)),
        ConfigKey("security.credentials_key", .string, default: .string("")),
        ConfigKey("security.credentials_key_file", .string, default: .string("")),
        ConfigKey("security.curve_secret_key_file", .string, default: .string("")),
        ConfigKey("security.curve_allowed_clients_file", .string, default: .string("")),
        ConfigKey("security.curve_market_data_server_key", .string, default: .string("")),
        ConfigKey("control.bind", .string, default: .string("tcp://127.0.0.1:5559")),
        // strategy processes (strategy_type 'external'; docs/strategies-sdk.md)
        ConfigKey("strategies.bind", .string, default: .string("tcp://127.0.0.1:5560")),
        ConfigKey("strategies.heartbeat_timeout_ms", .integer(300...600_000), default: .integer(5_000)),
        ConfigKey("strategies.curve_clients_file", .string, default: .string("")),
        ConfigKey("control.session_ttl_minutes", .integer(1...43_200), default: .integer(480)),
        ConfigKey("control.max_failed_logins", .integer(1...1_000), default: .integer(5)),
        ConfigKey("control.failed_login_window_seconds", .integer(1...86_400), default: .integer(300)),
        ConfigKey("control.max_failed_logins_per_peer", .integer(1...100_000), default: .integer(20)),
        ConfigKey("control.forwarder_secret_file", .string, default: .string("")),
        ConfigKey("control.curve_clients_file", .string, default: .string("")),
        ConfigKey("bus.curve_clients_file", .string, default: .string("")),
        ConfigKey("bus.replay_curve_clients_file", .string, default: .string("")),
        ConfigKey("market_data.curve_clients_file", .string, default: .string("")),
        ConfigKey("gateway.curve_keys_file", .string, default: .string("")),
        ConfigKey("gateway.ipc_brokers", .stringList, default: .stringList([])),
        ConfigKey("brokers.kite_api_url", .string, default: .string("https://api.kite.trade")),
        ConfigKey("brokers.kite_login_url", .string, default: .string("https://kite.zerodha.com/connect/login")),
        ConfigKey("brokers.angel_api_url", .string, default: .string("https://apiconnect.angelone.in")),
        ConfigKey("brokers.angel_public_ip", .string, default: .string("")),
        ConfigKey("brokers.icici_api_url", .string, default: .string("https://api.icicidirect.com/breezeapi/api/v1/")),
        // the local journal (database outages, crash recovery)
        ConfigKey("journal.dir", .string, default: .string("journal")),
        ConfigKey("journal.memory_ticks", .integer(1_000...100_000_000), default: .integer(200_000)),
        ConfigKey("journal.segment_mb", .integer(1...4_096), default: .integer(64)),
        ConfigKey("journal.max_bytes", .byteSize((1 << 20)...(1 << 50)), default: .integer(4 << 30)),
        // feed health
        ConfigKey("feed_health.sessions", .string, default: .string("NSE=09:15-15:30,BSE=09:15-15:30,NFO=09:15-15:30,BFO=09:15-15:30,MCX=09:00-23:30,CDS=09:00-17:00")),
        ConfigKey("feed_health.silence_seconds", .integer(0...86_400), default: .integer(60)),
        ConfigKey("feed_health.halt_strategies", .boolean, default: .boolean(false)),
        // Indian market rules (docs/risk.md, docs/execution.md)
        ConfigKey("market.sessions", .string, default: .string("NSE=09:15-15:30,BSE=09:15-15:30,NFO=09:15-15:30,BFO=09:15-15:30,MCX=09:00-23:30,CDS=09:00-17:00")),
        ConfigKey("market.mis_square_off", .string, default: .string("NSE=15:20,BSE=15:20,NFO=15:20,BFO=15:20,MCX=23:00,CDS=16:45")),
        ConfigKey("market.session_actions", .boolean, default: .boolean(true)),
        ConfigKey("orders.default_product", .choice(["MIS", "CNC", "NRML"]), default: .string("MIS")),
        ConfigKey("orders.algo_id", .string, default: .string("")),
        ConfigKey("orders.require_algo_id", .boolean, default: .boolean(false)),
        // The order-rate limits are off by default: counted on exchange time, any limit refuses
        // some of CONTRACT.md section 5's reference orders on a feed stamped densely enough, and
        // that behaviour is what an operator checks an installation against (docs/risk.md).
        ConfigKey("controls.max_orders_per_second_per_user", .integer(0...100_000), default: .integer(0)),
        ConfigKey("controls.max_orders_per_minute_per_user", .integer(0...1_000_000), default: .integer(0)),
        ConfigKey("controls.max_orders_per_second_per_strategy", .integer(0...100_000), default: .integer(0)),
        ConfigKey("controls.max_orders_per_minute_per_strategy", .integer(0...1_000_000), default: .integer(0)),
        ConfigKey("controls.max_order_value", .string, default: .string("5000000")),
        ConfigKey("controls.max_order_quantity", .integer(0...100_000_000), default: .integer(100_000)),
        ConfigKey("controls.price_band_percent", .string, default: .string("20")),
        ConfigKey("controls.breaker_orders_per_intent", .integer(0...1_000), default: .integer(5)),
        ConfigKey("controls.breaker_min_orders", .integer(0...1_000_000), default: .integer(50)),
        ConfigKey("controls.lift_daily_loss_halts_at_day_start", .boolean, default: .boolean(false)),
        ConfigKey("controls.risk_includes_charges", .boolean, default: .boolean(true)),
        ConfigKey("charges.enabled", .boolean, default: .boolean(true)),
        ConfigKey("charges.schedule_file", .string, default: .string("")),
        // maintenance jobs
        ConfigKey("maintenance.interval_seconds", .integer(60...86_400), default: .integer(3_600)),
        ConfigKey("maintenance.system_logs_retention_days", .integer(1...3_650), default: .integer(90)),
        ConfigKey("maintenance.trade_logs_retention_days", .integer(1...3_650), default: .integer(365)),
        ConfigKey("maintenance.bar_1min_retention_days", .integer(1...3_650), default: .integer(90)),
        // metrics
        ConfigKey("metrics.bind", .string, default: .string("127.0.0.1:9464")),
        // the web process (algotrader web)
        ConfigKey("http.bind", .string, default: .string("127.0.0.1:8080")),
        ConfigKey("http.cors_origins", .stringList, default: .stringList([])),
        ConfigKey("http.max_body_bytes", .byteSize(256...1_048_576), default: .integer(16_384)),
        ConfigKey("http.control_timeout_seconds", .integer(1...300), default: .integer(10)),
        ConfigKey("http.max_connections", .integer(1...100_000), default: .integer(256)),
        // logging
        ConfigKey("logging.level", .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]), default: .string("info")),
        ConfigKey("logging.bad_message_log_interval_seconds", .integer(1...86_400), default: .integer(10)),
    ]
}
