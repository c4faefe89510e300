// swift-tools-version: 6.1
import PackageDescription

// Swift 6 language mode everywhere (complete strict concurrency is the default there), plus the
// two upcoming features the server-side ecosystem (swift-log, Hummingbird) builds with.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "algotrader",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "algotrader", targets: ["algotrader"]),
        // Libraries for the benchmark package beside this one (Benchmarks/), which is kept out
        // of the product build.
        .library(name: "TradingCore", targets: ["TradingCore"]),
        .library(name: "AlgotraderEngine", targets: ["Engine", "Storage", "Postgres", "ZeroMQ", "Config"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The metrics endpoint's HTTP server (and the web API's, issue 22); it runs on
        // swift-service-lifecycle, whose ServiceGroup the engine starts it in.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // The web process's event stream (/api/v1/stream); only its server target is built.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
    ],
    targets: [
        // C stays at the edge: these two are the only targets that see the C APIs, and each is
        // imported by exactly one Swift wrapper module.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: strict),
        .target(name: "Postgres", dependencies: ["CLibPQ"], swiftSettings: strict),
        .target(name: "TradingCore", swiftSettings: strict),
        // Password hashing and credential encryption (swift-crypto): pure, no I/O.
        .target(
            name: "Security",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Config",
            dependencies: ["TradingCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "Storage",
            dependencies: [
                "Postgres", "TradingCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Engine",
            dependencies: [
                // No "Postgres": the engine reaches the database only through Storage's types.
                "ZeroMQ", "TradingCore", "Storage", "Config", "Security",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        // `algotrader web`: the HTTP API and dashboard. No Storage, Postgres or Security: the web
        // process reaches the data only through the engine's control socket.
        .target(
            name: "Web",
            dependencies: [
                "ZeroMQ", "TradingCore", "Config",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "algotrader",
            dependencies: [
                "Engine", "Web", "Config", "Storage", "ZeroMQ", "TradingCore", "Security",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Shared by the test targets only (scratch databases, sample data); never linked into the daemon.
        .target(
            name: "TestSupport",
            dependencies: ["Postgres", "Storage", "TradingCore"],
            swiftSettings: strict
        ),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"], swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "TradingCoreTests", dependencies: ["TradingCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ConfigTests", dependencies: ["Config"], swiftSettings: strict),
        .testTarget(name: "SecurityTests", dependencies: ["Security"], swiftSettings: strict),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage", "Postgres", "TradingCore", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "Storage", "Postgres", "ZeroMQ", "TradingCore", "Config", "Security", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
    ]
)
