import Config
import Foundation
import Testing

@Suite("Configuration loading and validation")
struct ConfigLoaderTests {
    static let shippedFile: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/algotrader.yaml").path
    }()

    static func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "algotrader-config-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func shippedFileNeedsOnlyTheDatabaseURL() throws {
        let config = try ConfigLoader().load(file: Self.shippedFile, environment: ["ALGOTRADER_DATABASE_URL": "postgresql://x@h/db"])
        #expect(config.databaseURL == "postgresql://x@h/db")
        #expect(config.marketDataConnect == ["tcp://127.0.0.1:5555"])
        #expect(config.busBind == "tcp://127.0.0.1:5556")
        #expect(config.maxPayloadBytes == 65_536)
        #expect(config.flushIntervalMilliseconds == 50)
    }

    @Test func shippedFileDocumentsEveryKnownKey() throws {
        let values = try ConfigLoader().parse(yaml: try String(contentsOfFile: Self.shippedFile, encoding: .utf8))
        let text = try String(contentsOfFile: Self.shippedFile, encoding: .utf8)
        for key in ConfigKey.all {
            let leaf = String(key.path.split(separator: ".").last!)
            #expect(text.contains(leaf + ":"), "config/algotrader.yaml lacks \(key.path)")
        }
        #expect(values["database.timescaledb"] == .string("auto"))
    }

    @Test func onlyTheThreeContractKeysAreNeededWithoutAFile() throws {
        let config = try ConfigLoader().load(file: nil, environment: [
            "ALGOTRADER_DATABASE_URL": "host=/tmp dbname=a",
            "ALGOTRADER_MARKET_DATA_CONNECT": "tcp://10.0.0.1:1, tcp://10.0.0.2:2",
            "ALGOTRADER_BUS_BIND": "tcp://127.0.0.1:7000",
        ])
        #expect(config.marketDataConnect == ["tcp://10.0.0.1:1", "tcp://10.0.0.2:2"], "a list is comma-separated")
        #expect(config.busBind == "tcp://127.0.0.1:7000")
        #expect(config.batchSize == 10_000)
    }

    @Test func environmentOverridesTheFile() throws {
        let file = try Self.temporaryFile("""
            database:
              url: postgresql://file@h/db
            ingest:
              batch_size: 500
            """)
        let config = try ConfigLoader().load(file: file, environment: [
            "ALGOTRADER_INGEST_BATCH_SIZE": "700",
            "ALGOTRADER_MARKET_DATA_CONNECT": "tcp://127.0.0.1:1",
            "ALGOTRADER_BUS_BIND": "tcp://127.0.0.1:2",
        ])
        #expect(config.batchSize == 700)
        #expect(config.databaseURL == "postgresql://file@h/db")
    }

    @Test(arguments: [
        ("database:\n  url: x\nmarket_data:\n  conect: [tcp://a:1]\n", "market_data.conect"),
        ("database:\n  url: x\ningest:\n  batch_size: lots\n", "ingest.batch_size"),
        ("database:\n  url: x\ningest:\n  batch_size: 0\n", "ingest.batch_size"),
        ("database:\n  url: x\nlogging:\n  level: loud\n", "logging.level"),
        ("database:\n  url: x\nmarket_data:\n  connect: [\"localhost:5555\"]\n", "market_data.connect"),
        ("database:\n  url: x\nmarket_data:\n  max_payload_bytes: [1, 2]\n", "market_data.max_payload_bytes"),
        ("database:\n  url: \"\"\n", "database.url"),
        ("database:\n  timescaledb: maybe\n  url: x\n", "database.timescaledb"),
    ])
    func badValueNamesTheOffendingKey(yaml: String, key: String) throws {
        let file = try Self.temporaryFile(yaml)
        #expect {
            try ConfigLoader().load(file: file, environment: ["ALGOTRADER_BUS_BIND": "tcp://127.0.0.1:2"])
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.key == key && error.description.contains(key)
        }
    }

    @Test func missingMarketDataEndpointsNameTheKey() throws {
        #expect(throws: ConfigError(key: "market_data.connect", "is required: at least one endpoint to connect to (or one in market_data.bind)")) {
            try ConfigLoader().load(file: nil, environment: ["ALGOTRADER_DATABASE_URL": "x", "ALGOTRADER_BUS_BIND": "tcp://127.0.0.1:1"])
        }
    }

    @Test func badEnvironmentValueNamesTheKey() throws {
        #expect {
            try ConfigLoader().load(file: Self.shippedFile, environment: ["ALGOTRADER_DATABASE_URL": "x", "ALGOTRADER_INGEST_FLUSH_INTERVAL_MS": "soon"])
        } throws: { ($0 as? ConfigError)?.key == "ingest.flush_interval_ms" }
    }

    /// The shipped order controls leave CONTRACT.md section 5's reference behaviour alone: no
    /// order-rate limit, and live orders are not refused for a missing algo id.
    @Test func theShippedControlsRefuseNoReferenceOrderAndRequiringAnAlgoIDNeedsOne() throws {
        let config = try ConfigLoader().load(file: Self.shippedFile, environment: ["ALGOTRADER_DATABASE_URL": "x"])
        let c = config.orderControls
        #expect([c.maxOrdersPerSecondPerUser, c.maxOrdersPerMinutePerUser, c.maxOrdersPerSecondPerStrategy, c.maxOrdersPerMinutePerStrategy] == [Int](repeating: 0, count: 4))
        #expect(c.algoID == nil && !c.requireAlgoID)
        #expect {
            try ConfigLoader().load(file: Self.shippedFile, environment: ["ALGOTRADER_DATABASE_URL": "x", "ALGOTRADER_ORDERS_REQUIRE_ALGO_ID": "true"])
        } throws: { ($0 as? ConfigError)?.key == "orders.algo_id" }
        let required = try ConfigLoader().load(file: Self.shippedFile, environment: [
            "ALGOTRADER_DATABASE_URL": "x", "ALGOTRADER_ORDERS_REQUIRE_ALGO_ID": "true", "ALGOTRADER_ORDERS_ALGO_ID": "NSE-ALGO-7"])
        #expect(required.orderControls.requireAlgoID && required.orderControls.algoID == "NSE-ALGO-7")
    }

    @Test func databaseURLCanComeFromAFile() throws {
        let secret = try Self.temporaryFile("postgresql://u:secret@h/db\n")
        let config = try ConfigLoader().load(file: Self.shippedFile, environment: ["ALGOTRADER_DATABASE_URL_FILE": secret])
        #expect(config.databaseURL == "postgresql://u:secret@h/db")
    }

    @Test func unreadableFileIsNamed() {
        #expect {
            try ConfigLoader().load(file: "/nonexistent/algotrader.yaml", environment: [:])
        } throws: { ($0 as? ConfigError)?.key == "/nonexistent/algotrader.yaml" }
    }
}
